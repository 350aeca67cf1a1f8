//===- StudyFile.h - a study: variants, seeds, budget (TOML) -----*- C++ -*-===//
//
// What `rarun study` runs, read from a TOML file with toml++. Every key is
// known (an unknown key is an error naming it and its line, as a typo must
// not silently fall back to a default), every value is checked against its
// range, and relative paths are relative to the study file. docs/study.md
// is the reference.
//
//===----------------------------------------------------------------------===//
#ifndef RA_STUDY_STUDYFILE_H
#define RA_STUDY_STUDYFILE_H

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ra::study {

/// Why a variant is in the study.
enum class VariantKind {
  Declared, // a [[variant]] of the file
  Scaling,  // the baseline widened (d_mlp) to a variant's parameter count
  Sweep,    // a point of [sweep]
};

/// `-D name=value` overrides, sorted by name.
using Defines = std::vector<std::pair<std::string, std::string>>;

struct Variant {
  std::string name;
  /// The .graph file, resolved against the study file's directory.
  std::string model;
  /// The study's `defines` with the variant's own on top.
  Defines defines;
  /// What the verdict is about ("RA", "mechanism 1"); the name by default.
  std::string mechanism;
  /// The variant it is judged against; the baseline by default.
  std::string against;
  /// Its own peak learning rate (the study's when unset).
  std::optional<double> lr;
  /// Its cell of the ablation matrix ("" when it has none).
  std::string row, column;
  VariantKind kind = VariantKind::Declared;
  /// Where the file declares it (0 for generated variants).
  int line = 0;
};

/// `[sweep]`: the variant `variant` at `define = ratio * of` per ratio
/// (e.g. d_mlp over fixed ratios of d_model), to set a learned width
/// against the best fixed one.
struct Sweep {
  std::string variant, define, of;
  std::vector<double> ratios;
};

struct Study {
  std::string name;
  std::string path, dir; // the file, and the directory paths are relative to
  std::string baseline;
  std::vector<uint64_t> seeds;
  std::string data;
  /// The training budget: exactly one of steps and tokens is set (> 0).
  int64_t steps = 0, tokens = 0;
  double lr = 6e-4;
  std::optional<int64_t> warmup;
  int64_t evalEvery = 0; // 0: steps / 4
  int64_t evalBatches = 8;
  int64_t gradNormsEvery = 0; // 0: steps / 20
  int64_t ckptEvery = 0;      // 0: steps / 10
  /// Add the baseline widened to each variant's parameter count.
  bool scalingReference = true;
  std::vector<Variant> variants;
  std::optional<Sweep> sweep;

  const Variant *variant(const std::string &name) const;
};

/// Parses a study file's text; "" or "PATH:LINE:COL: message".
std::string parseStudy(const std::string &text, const std::string &path, Study &out);
/// Reads and parses PATH.
std::string readStudy(const std::string &path, Study &out);

/// `-D` values as racc reads them: integers without a fraction.
std::string defineValue(double value);

} // namespace ra::study

#endif // RA_STUDY_STUDYFILE_H
