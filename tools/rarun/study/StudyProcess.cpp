//===- StudyProcess.cpp - fork, exec, pipes -------------------------------===//
#include "StudyProcess.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ra::study {

namespace {

std::vector<char *> cArgs(const std::vector<std::string> &argv) {
  std::vector<char *> args;
  for (const auto &a : argv)
    args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  return args;
}

int exitStatus(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

/// In the child, after fork: dies with the parent (SIGTERM, which rarun
/// train answers with a checkpoint), and sees the default signal handlers.
void becomeChild(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) // the parent died before prctl
    _exit(130);
  for (int s : {SIGINT, SIGTERM, SIGPIPE})
    std::signal(s, SIG_DFL);
}

void drain(int fd, std::string &into) {
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    into.append(buf, size_t(n));
}

} // namespace

int runCaptured(const std::vector<std::string> &argv, std::string &out, std::string &err) {
  int o[2], e[2];
  if (pipe2(o, O_CLOEXEC) != 0)
    return -1;
  if (pipe2(e, O_CLOEXEC) != 0) {
    close(o[0]), close(o[1]);
    return -1;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    becomeChild(parent);
    dup2(o[1], 1);
    dup2(e[1], 2);
    execv(argv[0].c_str(), cArgs(argv).data());
    std::fprintf(stderr, "cannot run '%s': %s\n", argv[0].c_str(), std::strerror(errno));
    _exit(127);
  }
  close(o[1]);
  close(e[1]);
  // Both pipes at once: a child that fills one while we block on the other
  // would never finish.
  pollfd fds[2] = {{o[0], POLLIN, 0}, {e[0], POLLIN, 0}};
  int open = 2;
  while (open > 0) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? out : err).append(buf, size_t(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return exitStatus(status);
}

std::string Child::start(const std::vector<std::string> &argv,
                         const std::vector<std::pair<std::string, std::string>> &env,
                         const std::string &logPath) {
  logFd = open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0)
    return "cannot write '" + logPath + "': " + std::strerror(errno);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0)
    return std::string("cannot create a pipe: ") + std::strerror(errno);
  pid_t parent = getpid();
  process = fork();
  if (process < 0)
    return std::string("cannot fork: ") + std::strerror(errno);
  if (process == 0) {
    becomeChild(parent);
    dup2(p[1], 1);
    dup2(logFd, 2);
    for (const auto &[k, v] : env)
      setenv(k.c_str(), v.c_str(), 1);
    execv(argv[0].c_str(), cArgs(argv).data());
    std::fprintf(stderr, "cannot run '%s': %s\n", argv[0].c_str(), std::strerror(errno));
    _exit(127);
  }
  close(p[1]);
  pipeFd = p[0];
  fcntl(pipeFd, F_SETFL, fcntl(pipeFd, F_GETFL) | O_NONBLOCK);
  return "";
}

bool Child::readLines(std::vector<std::string> &lines) {
  if (pipeFd < 0)
    return false;
  char buf[65536];
  ssize_t n;
  while ((n = read(pipeFd, buf, sizeof buf)) > 0) {
    if (logFd >= 0)
      (void)!write(logFd, buf, size_t(n));
    partial.append(buf, size_t(n));
  }
  bool eof = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
  size_t at;
  while ((at = partial.find_first_of("\n\r")) != std::string::npos) {
    if (at > 0)
      lines.push_back(partial.substr(0, at));
    partial.erase(0, at + 1);
  }
  if (eof) {
    if (!partial.empty())
      lines.push_back(partial);
    partial.clear();
    close(pipeFd);
    pipeFd = -1;
  }
  return !eof;
}

int Child::wait() {
  std::vector<std::string> rest;
  if (pipeFd >= 0) {
    fcntl(pipeFd, F_SETFL, fcntl(pipeFd, F_GETFL) & ~O_NONBLOCK);
    std::string tail;
    drain(pipeFd, tail);
    if (logFd >= 0)
      (void)!write(logFd, tail.data(), tail.size());
    close(pipeFd);
    pipeFd = -1;
  }
  int status = 0;
  while (waitpid(process, &status, 0) < 0 && errno == EINTR) {
  }
  if (logFd >= 0)
    close(logFd);
  logFd = -1;
  return exitStatus(status);
}

void Child::signal(int sig) const {
  if (process > 0)
    kill(process, sig);
}

} // namespace ra::study
