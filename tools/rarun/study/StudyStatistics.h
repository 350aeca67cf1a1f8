//===- StudyStatistics.h - means, spreads and intervals over seeds -*- C++ -*-===//
//
// A study draws no verdict from a difference inside the noise: each
// variant's loss over seeds is a sample, and two variants are compared by a
// t interval on the difference. Runs of two variants at one seed are
// paired: they see the same batches in the same order and start their
// shared parameters from the same values (initialization hashes the seed
// and the parameter's name), so the paired interval over common seeds is
// the one a study uses; Welch's interval (unequal variances) is for
// unpaired samples.
//
//===----------------------------------------------------------------------===//
#ifndef RA_STUDY_STUDYSTATISTICS_H
#define RA_STUDY_STUDYSTATISTICS_H

#include <optional>
#include <vector>

namespace ra::study {

struct Summary {
  int n = 0;
  double mean = 0, std = 0; // std: the sample standard deviation (n - 1)
};
Summary summarize(const std::vector<double> &xs);

/// P(T <= t) for Student's t with `df` degrees of freedom (df > 0).
double studentTCdf(double t, double df);
/// The t with P(T <= t) = p, for 0 < p < 1.
double studentTQuantile(double p, double df);

/// mean(a) - mean(b) with its two-sided interval at `confidence`.
struct Difference {
  double estimate = 0, low = 0, high = 0, df = 0;
  /// The interval excludes 0.
  bool significant() const { return low > 0 || high < 0; }
};
/// The paired interval over the i-th values of a and b (equal lengths);
/// none with fewer than 2 pairs.
std::optional<Difference> pairedDifference(const std::vector<double> &a,
                                           const std::vector<double> &b, double confidence = 0.95);

/// Welch's interval; none when either sample has fewer than 2 values.
std::optional<Difference> welchDifference(const std::vector<double> &a,
                                          const std::vector<double> &b, double confidence = 0.95);

} // namespace ra::study

#endif // RA_STUDY_STUDYSTATISTICS_H
