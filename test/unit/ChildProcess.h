// Runs code that must abort (the SIMT emulator's reports of races, deadlocks
// and divergent collectives) in a child process, for the tests to read.
#ifndef RA_TEST_CHILDPROCESS_H
#define RA_TEST_CHILDPROCESS_H

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>
#include <functional>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace ra::test {

/// Runs `f` in a child process; returns its exit signal (0 if none) and its
/// stderr.
inline std::pair<int, std::string> inChild(const std::function<void()> &f) {
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    // The child aborts by design: without the test runner's handlers.
    signal(SIGABRT, SIG_DFL);
    dup2(pipefd[1], 2);
    if (!freopen("/dev/null", "w", stdout))
      _exit(3);
    f();
    _exit(0);
  }
  close(pipefd[1]);
  std::string err;
  char buf[256];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;)
    err.append(buf, n);
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFSIGNALED(status) ? WTERMSIG(status) : 0, err};
}

} // namespace ra::test

#endif // RA_TEST_CHILDPROCESS_H
