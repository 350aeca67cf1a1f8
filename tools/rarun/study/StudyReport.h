//===- StudyReport.h - a study's results, verdicts and report ----*- C++ -*-===//
//
// From the runs of every variant to report.json (the one source of the
// Markdown report and of the plots): losses over seeds, differences with
// 95% intervals, parameter efficiency against the scaling reference, the
// learned scalars, gradient flow, learned widths against the sweep, the
// ablation matrix and the decision per mechanism. The rules are in
// docs/study.md; each verdict carries the numbers it was drawn from.
//
//===----------------------------------------------------------------------===//
#ifndef RA_STUDY_STUDYREPORT_H
#define RA_STUDY_STUDYREPORT_H

#include "StudyFile.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ra::study {

/// A parameter is called vanishing when its gradient's RMS stays below this
/// fraction of the whole model's gradient RMS at every sampled step. AdamW
/// moves a parameter by about lr for any gradient well above its epsilon,
/// so a small gradient still trains; only one orders of magnitude below the
/// rest is dead.
inline constexpr double kVanishingGradient = 1e-5;
/// A mixing scalar "went to about 0" when |final| / |init| falls below this.
inline constexpr double kSwitchedOff = 0.1;

/// Loss per million added parameters is reported for variants that add at
/// least this fraction of their reference's parameters.
inline constexpr double kMinimumAddedFraction = 1e-3;

/// One training run (a variant at a seed), as its metrics.jsonl left it.
struct RunResult {
  uint64_t seed = 0;
  std::string dir;
  std::string status = "missing"; // done, failed, diverged, missing
  std::string error;
  double valLoss = 0;
  int64_t steps = 0;
  std::map<std::string, double> scalars; // the last step's values
  std::map<std::string, double> reports; // the last validation's
  /// Per parameter: the largest RMS ratio to the model's gradient RMS over
  /// the sampled steps (see kVanishingGradient).
  std::map<std::string, double> gradientRatio;
  int gradientSamples = 0;
};

/// What the study knows of a parameter tensor (from racc stats).
struct ParamFacts {
  int64_t count = 0;
  bool scalar = false;
  double init = 0; // a constant-initialized scalar's value
  std::string mechanism;
};

struct VariantResult {
  Variant variant;
  int64_t parameters = 0;
  std::map<std::string, ParamFacts> params;
  /// The config values it was compiled with (racc stats' "config").
  std::map<std::string, double> config;
  std::string artifactKey, artifact;
  std::string compileError;
  /// The variant compiled to the same artifact and shares its runs ("" none).
  std::string sameAs;
  std::vector<RunResult> runs;
};

/// Reads a run's metrics.jsonl into `run` (status is left to the caller).
/// "" or an error.
std::string readRunMetrics(const std::string &path, const std::map<std::string, ParamFacts> &params,
                           RunResult &run);

/// report.json.
nlohmann::ordered_json buildReport(const Study &study, const std::vector<VariantResult> &variants,
                                   int64_t steps, int64_t tokensPerStep);
/// report.md from report.json.
std::string renderMarkdown(const nlohmann::ordered_json &report);

} // namespace ra::study

#endif // RA_STUDY_STUDYREPORT_H
