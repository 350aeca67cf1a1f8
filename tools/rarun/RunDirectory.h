//===- RunDirectory.h - a training run's directory and settings --*- C++ -*-===//
//
// RUNDIR/metrics.jsonl and RUNDIR/ckpt/step_N.safetensors, kept honest
// across interruptions: a checkpoint records the settings of the run that
// wrote it (RunSettings), so a resume with other settings says so or is
// refused; temporary files of a killed write are removed; metrics of steps
// a resume repeats are dropped; `--keep-last` bounds the checkpoints kept.
//
//===----------------------------------------------------------------------===//
#ifndef RARUN_RUNDIRECTORY_H
#define RARUN_RUNDIRECTORY_H

#include "runtime/Checkpoint.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rarun {

/// `mkdir -p PATH`; false (errno set) when a part cannot be created.
bool makeDirectories(const std::string &path);

/// What a training run was started with, as its checkpoints record it.
struct RunSettings {
  int64_t steps = 0, warmup = 0, batch = 0, seq = 0;
  double lr = 0;
  uint64_t seed = 0;
  std::string data, dataSha256, artifact, artifactSha256;
  /// The tokenizer of the data ("bytes", "gpt2"; "" unknown): how sample
  /// and generate read prompts and print tokens.
  std::string tokenizer;
  /// --init-from: the checkpoint whose weights the run started from ("" none).
  std::string initFrom;
  /// Ranks and micro-batches per rank: the global batch is their product.
  int64_t ranks = 1, gradAccum = 1;
  int64_t dataTokens = 0;

  /// Into / from a checkpoint's metadata (strings).
  void store(std::map<std::string, std::string> &meta) const;
  static bool load(const std::map<std::string, std::string> &meta, RunSettings &out);
};

/// How `now` differs from `recorded` (a run resumed with other settings),
/// one phrase per setting: "--lr 0.001 (the run had 0.0006)".
std::vector<std::string> settingDifferences(const RunSettings &recorded, const RunSettings &now);

class RunDirectory {
public:
  explicit RunDirectory(std::string dir) : root(std::move(dir)) {}

  /// Creates RUNDIR/ckpt and removes temporary checkpoint files that a
  /// killed write left. "" or an error.
  std::string prepare();
  std::string checkpointPath(int64_t step) const;
  /// The steps of the checkpoints in RUNDIR/ckpt, ascending.
  std::vector<int64_t> checkpointSteps() const;
  /// Removes all but the `keep` newest checkpoints (0: keeps all).
  void pruneCheckpoints(int64_t keep) const;
  /// Rewrites metrics.jsonl without the records of steps after `step`
  /// (a resume trains them again). "" or an error.
  std::string truncateMetrics(int64_t step) const;
  std::string metricsPath() const { return root + "/metrics.jsonl"; }
  const std::string &path() const { return root; }

private:
  std::string root;
};

} // namespace rarun

#endif // RARUN_RUNDIRECTORY_H
