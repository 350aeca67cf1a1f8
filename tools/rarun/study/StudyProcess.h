//===- StudyProcess.h - the processes a study runs ---------------*- C++ -*-===//
//
// A study drives racc and rarun train as child processes: a run that
// crashes or diverges takes nothing else down, and a training run keeps
// rarun train's own guarantees (atomic checkpoints, bit-identical resume).
// Children die with the study: each gets SIGTERM when its parent goes, on
// which rarun train finishes its step and writes a checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef RA_STUDY_STUDYPROCESS_H
#define RA_STUDY_STUDYPROCESS_H

#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace ra::study {

/// Runs argv to completion; its stdout into `out`, its stderr into `err`.
/// The exit status (128 + signal when killed), or -1 when it could not start.
int runCaptured(const std::vector<std::string> &argv, std::string &out, std::string &err);

/// A child whose stdout the parent reads line by line and whose stdout and
/// stderr are also appended to a log file.
class Child {
public:
  /// Starts argv with `env` added to the environment; "" or an error.
  std::string start(const std::vector<std::string> &argv,
                    const std::vector<std::pair<std::string, std::string>> &env,
                    const std::string &logPath);
  pid_t pid() const { return process; }
  /// The read end of the child's stdout (-1 once it closed).
  int fd() const { return pipeFd; }
  /// Reads what is available; complete lines go to `lines`. False at EOF.
  bool readLines(std::vector<std::string> &lines);
  /// Waits for the exit; the status as runCaptured's.
  int wait();
  void signal(int sig) const;

private:
  pid_t process = -1;
  int pipeFd = -1, logFd = -1;
  std::string partial;
};

} // namespace ra::study

#endif // RA_STUDY_STUDYPROCESS_H
