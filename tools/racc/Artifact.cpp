//===- Artifact.cpp - writing an artifact directory all or nothing --------===//
#include "Artifact.h"
#include "Driver.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace racc {
namespace {

/// The compiler running now, stopped by the signal handler.
std::atomic<pid_t> runningChild{0};

void stopChildAndExit(int signal) {
  if (pid_t pid = runningChild.load(); pid > 0)
    kill(pid, SIGKILL);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

/// SIGINT, SIGTERM and SIGHUP stop the running compiler, while installed.
struct StopChildOnSignal {
  StopChildOnSignal() {
    for (int s : {SIGINT, SIGTERM, SIGHUP})
      std::signal(s, stopChildAndExit);
  }
  ~StopChildOnSignal() {
    for (int s : {SIGINT, SIGTERM, SIGHUP})
      std::signal(s, SIG_DFL);
  }
};

bool processAlive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

} // namespace

ArtifactStaging::ArtifactStaging(std::string outDir) : out(std::move(outDir)) {
  while (out.size() > 1 && out.back() == '/')
    out.pop_back();
  llvm::SmallString<256> parent(llvm::sys::path::parent_path(out));
  if (parent.empty())
    parent = ".";
  std::string base = llvm::sys::path::filename(out).str();
  // Staging directories of compiles that were killed: OUT.staging-PID whose
  // process is gone.
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(parent, ec), end; it != end && !ec; it.increment(ec)) {
    llvm::StringRef name = llvm::sys::path::filename(it->path());
    std::string prefix = base + ".staging-";
    if (!name.startswith(prefix))
      continue;
    pid_t pid = 0;
    if (!name.drop_front(prefix.size()).getAsInteger(10, pid) && !processAlive(pid))
      llvm::sys::fs::remove_directories(it->path());
  }
  staging = out + ".staging-" + std::to_string(getpid());
  llvm::sys::fs::remove_directories(staging);
  if (std::error_code e = llvm::sys::fs::create_directories(staging)) {
    fail("cannot create '" + staging + "': " + e.message());
    return;
  }
  ready = true;
}

ArtifactStaging::~ArtifactStaging() {
  if (!committed && !kept && !staging.empty())
    llvm::sys::fs::remove_directories(staging);
}

bool ArtifactStaging::commit() {
  auto error = [](const std::string &message) {
    fail(message);
    return false;
  };
  if (!llvm::sys::fs::exists(out)) {
    if (rename(staging.c_str(), out.c_str()) != 0)
      return error("cannot move '" + staging + "' to '" + out + "': " + std::strerror(errno));
    committed = true;
    return true;
  }
  if (!llvm::sys::fs::is_directory(out))
    return error("'" + out + "' exists and is not an artifact directory");
  // One step: the new artifact takes OUT's place and the old one the
  // staging directory's, which is then removed.
  if (renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, out.c_str(), RENAME_EXCHANGE) != 0) {
    // Without an exchange (some file systems): the old artifact aside, then the new one in.
    std::string old = staging + ".old";
    if (rename(out.c_str(), old.c_str()) != 0 || rename(staging.c_str(), out.c_str()) != 0)
      return error("cannot replace '" + out + "': " + std::strerror(errno));
    llvm::sys::fs::remove_directories(old);
  } else {
    llvm::sys::fs::remove_directories(staging);
  }
  committed = true;
  return true;
}

bool writeFileAtomically(const std::string &path, const std::string &contents) {
  llvm::Error err = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    os << contents;
    return llvm::Error::success();
  });
  if (err) {
    fail("cannot write '" + path + "': " + llvm::toString(std::move(err)));
    return false;
  }
  return true;
}

bool runCompiler(const std::string &name, const std::vector<std::string> &args,
                 const std::string &log, const std::string &what, double &seconds) {
  auto program = llvm::sys::findProgramByName(name);
  if (!program) {
    fail("cannot find '" + name + "' to compile " + what);
    return false;
  }
  llvm::sys::fs::remove(log); // a fresh log: redirection appends
  std::vector<llvm::StringRef> argv = {*program};
  for (const std::string &a : args)
    argv.push_back(a);
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(log),
                                                llvm::StringRef(log)};
  auto start = std::chrono::steady_clock::now();
  std::string err;
  StopChildOnSignal guard;
  bool failedToStart = false;
  llvm::sys::ProcessInfo child =
      llvm::sys::ExecuteNoWait(*program, argv, std::nullopt, redirects, 0, &err, &failedToStart);
  int rc = -1;
  if (!failedToStart) {
    runningChild = child.Pid;
    rc = llvm::sys::Wait(child, std::nullopt, &err).ReturnCode;
    runningChild = 0;
  }
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (rc != 0) {
    fail("compiling " + what + " failed" + (err.empty() ? "" : ": " + err) + "; see " + log);
    return false;
  }
  return true;
}

} // namespace racc
