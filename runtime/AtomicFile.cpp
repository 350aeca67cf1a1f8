//===- AtomicFile.cpp - files that are whole or absent --------------------===//
#include "runtime/AtomicFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace ra::rt {

namespace {
std::string dirOf(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}
} // namespace

std::string writeFileAtomically(const std::string &path, const std::string &what,
                                const std::function<bool(const WriteBytes &)> &body) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    return "cannot write " + what + " '" + tmp + "': " + std::strerror(errno);
  int err = 0;
  WriteBytes writeAll = [&](const void *data, size_t n) {
    const char *p = static_cast<const char *>(data);
    while (n) {
      ssize_t w = write(fd, p, n);
      if (w <= 0) {
        err = w < 0 ? errno : ENOSPC;
        return false;
      }
      p += w;
      n -= size_t(w);
    }
    return true;
  };
  bool ok = body(writeAll);
  if (ok && fsync(fd) != 0) {
    ok = false;
    err = errno;
  }
  close(fd);
  if (!ok) {
    unlink(tmp.c_str());
    return err ? "cannot write " + what + " '" + tmp + "': " + std::strerror(err)
               : "abandoned writing " + what + " '" + path + "'";
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    unlink(tmp.c_str());
    return "cannot move " + what + " into place at '" + path + "': " + std::strerror(err);
  }
  // The rename itself must survive a crash.
  int dir = open(dirOf(path).c_str(), O_RDONLY);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return "";
}

} // namespace ra::rt
