//===- TokenFileFuzzer.cpp - libFuzzer target for .bin token files --------===//
//
// Arbitrary bytes as a .bin token file (llm.c's header and uint16 tokens, or
// nanoGPT's raw uint16), against a vocabulary of 1000. The reader's
// contract: it never crashes or allocates past what the file holds; an
// error names the file; on success every token lies in the vocabulary and
// the two splits hold what the file held.
//
//===----------------------------------------------------------------------===//
#include "runtime/Data.h"
#include "test/fuzz/FuzzInput.h"

using namespace racc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string &path = inputFile(data, size, ".bin");
  constexpr int64_t kVocab = 1000, kSeq = 4;
  ra::rt::Corpus corpus;
  std::string error = ra::rt::loadCorpus(path, kVocab, kSeq, corpus);
  if (!error.empty()) {
    fuzzCheck(error.find(path) != std::string::npos, "an error names the file");
    return 0;
  }
  size_t tokens = corpus.train.size() + corpus.validation.size();
  fuzzCheck(2 * tokens <= size, "no more tokens than the file holds");
  fuzzCheck(int64_t(corpus.validation.size()) >= kSeq + 1, "the validation split holds a window");
  for (const auto *split : {&corpus.train, &corpus.validation})
    for (int32_t t : *split)
      fuzzCheck(t >= 0 && t < kVocab, "every token lies in the vocabulary");
  return 0;
}
