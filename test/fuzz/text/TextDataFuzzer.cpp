//===- TextDataFuzzer.cpp - libFuzzer target for text corpora -------------===//
//
// Arbitrary bytes as a text corpus, read as byte tokens. The reader's
// contract: it never crashes; an error names the file; on success there is
// one token per byte, in order, split 90/10.
//
//===----------------------------------------------------------------------===//
#include "runtime/Data.h"
#include "test/fuzz/FuzzInput.h"

using namespace racc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string &path = inputFile(data, size, ".txt");
  constexpr int64_t kSeq = 4;
  ra::rt::Corpus corpus;
  std::string error = ra::rt::loadCorpus(path, 256, kSeq, corpus);
  if (!error.empty()) {
    fuzzCheck(error.find(path) != std::string::npos, "an error names the file");
    fuzzCheck(size * 10 / 10 - size * 9 / 10 < size_t(kSeq + 1),
              "only a file too short for a validation window is refused");
    return 0;
  }
  fuzzCheck(corpus.train.size() == size * 9 / 10, "the train split is the first 90%");
  fuzzCheck(corpus.train.size() + corpus.validation.size() == size, "one token per byte");
  for (size_t i = 0; i < size; ++i) {
    int32_t t =
        i < corpus.train.size() ? corpus.train[i] : corpus.validation[i - corpus.train.size()];
    fuzzCheck(t == data[i], "each token is its byte, in order");
  }
  return 0;
}
