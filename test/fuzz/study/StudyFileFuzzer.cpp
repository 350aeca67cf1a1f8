//===- StudyFileFuzzer.cpp - libFuzzer target for study files (TOML) ------===//
//
// Arbitrary bytes as a study file (rarun study). The reader's contract: an
// error names the file with a line and column, never a crash; on success
// the study is whole (a baseline among its variants, seeds, one budget).
//
//===----------------------------------------------------------------------===//
#include "study/StudyFile.h"
#include "test/fuzz/FuzzInput.h"

using namespace racc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  ra::study::Study study;
  std::string error = ra::study::parseStudy(text, "fuzz/s.toml", study);
  if (!error.empty()) {
    fuzzCheck(error.rfind("fuzz/s.toml:", 0) == 0, "an error names the file and line");
    return 0;
  }
  fuzzCheck(study.variant(study.baseline) != nullptr, "the baseline is a variant");
  fuzzCheck(!study.seeds.empty(), "a study has seeds");
  fuzzCheck((study.steps > 0) != (study.tokens > 0), "exactly one budget");
  for (const auto &v : study.variants)
    fuzzCheck(v.name == study.baseline || study.variant(v.against), "against names a variant");
  return 0;
}
