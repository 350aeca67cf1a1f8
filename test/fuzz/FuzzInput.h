//===- FuzzInput.h - helpers shared by the fuzz targets -----------*- C++ -*-===//
//
// The runtime's readers take paths (they stream large files), so a target
// writes each input to one file per process and suffix, then reads it back.
// fuzzCheck aborts with a message: libFuzzer and the replay report it as a
// crash with the input that caused it.
//
//===----------------------------------------------------------------------===//
#ifndef RACC_TEST_FUZZ_FUZZINPUT_H
#define RACC_TEST_FUZZ_FUZZINPUT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <string>
#include <unistd.h>

namespace racc::fuzz {

/// A file under $TMPDIR (or /tmp) named *SUFFIX holding exactly the input.
inline const std::string &inputFile(const uint8_t *data, size_t size, const std::string &suffix) {
  static std::map<std::string, std::string> paths;
  std::string &path = paths[suffix];
  if (path.empty()) {
    const char *tmp = std::getenv("TMPDIR");
    std::string name = std::string(tmp && *tmp ? tmp : "/tmp") + "/racc-fuzz-XXXXXX" + suffix;
    int fd = mkstemps(name.data(), int(suffix.size()));
    if (fd < 0) {
      std::perror("racc fuzz: mkstemps");
      std::abort();
    }
    close(fd);
    path = name;
    std::atexit([] {
      for (auto &[s, p] : paths)
        unlink(p.c_str());
    });
  }
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror("racc fuzz: writing the input");
    std::abort();
  }
  return path;
}

/// Aborts, naming the broken promise, when `ok` is false.
inline void fuzzCheck(bool ok, const char *promise) {
  if (!ok) {
    std::fprintf(stderr, "racc fuzz: broken promise: %s\n", promise);
    std::abort();
  }
}

} // namespace racc::fuzz

#endif // RACC_TEST_FUZZ_FUZZINPUT_H
