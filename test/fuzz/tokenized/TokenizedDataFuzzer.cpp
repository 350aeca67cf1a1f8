//===- TokenizedDataFuzzer.cpp - libFuzzer target for data.json -----------===//
//
// Arbitrary bytes as the data.json of a tokenized directory (rarun tokenize's
// train.bin + val.bin, here 64 and 16 tokens of a vocabulary of 100), read by
// rarun train's corpus loader against a model vocabulary of 1000. Its
// contract: an error names a file of the directory, never a crash; on
// success the splits are the two files and every token lies in the model's
// vocabulary, and the description names the tokenizer.
//
//===----------------------------------------------------------------------===//
#include "runtime/Data.h"
#include "test/fuzz/FuzzInput.h"

#include <cstring>
#include <sys/stat.h>

using namespace racc::fuzz;

namespace {

void writeTokens(const std::string &path, int count) {
  int32_t header[256] = {20240520, 1, count};
  std::vector<uint16_t> tokens(count);
  for (int i = 0; i < count; ++i)
    tokens[i] = uint16_t(i % 100);
  FILE *f = std::fopen(path.c_str(), "wb");
  fuzzCheck(f && std::fwrite(header, sizeof header, 1, f) == 1 &&
                std::fwrite(tokens.data(), 2, count, f) == size_t(count) && std::fclose(f) == 0,
            "the fixture's token files are written");
}

/// A directory holding train.bin and val.bin, made once per process (and
/// never destroyed: the exit handler that removes it still needs its name).
const std::string &directory() {
  static const std::string &dir = *new std::string([] {
    const char *tmp = std::getenv("TMPDIR");
    std::string name = std::string(tmp && *tmp ? tmp : "/tmp") + "/racc-fuzz-tokenized-XXXXXX";
    fuzzCheck(mkdtemp(name.data()) != nullptr, "a temporary directory");
    writeTokens(name + "/train.bin", 64);
    writeTokens(name + "/val.bin", 16);
    std::atexit([] {
      for (const char *f : {"/train.bin", "/val.bin", "/data.json"})
        unlink((directory() + f).c_str());
      rmdir(directory().c_str());
    });
    return name;
  }());
  return dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string &dir = directory();
  FILE *f = std::fopen((dir + "/data.json").c_str(), "wb");
  fuzzCheck(f && (size == 0 || std::fwrite(data, 1, size, f) == size) && std::fclose(f) == 0,
            "data.json is written");
  constexpr int64_t kVocab = 1000, kSeq = 4;
  ra::rt::Corpus corpus;
  std::string error = ra::rt::loadCorpus(dir, kVocab, kSeq, corpus);
  if (!error.empty()) {
    fuzzCheck(error.find(dir) != std::string::npos, "an error names the directory's file");
    return 0;
  }
  fuzzCheck(corpus.train.size() == 64 && corpus.validation.size() == 16,
            "the splits are the two files");
  for (const auto *split : {&corpus.train, &corpus.validation})
    for (int32_t t : *split)
      fuzzCheck(t >= 0 && t < kVocab, "every token lies in the vocabulary");
  fuzzCheck(corpus.description.find(corpus.tokenizer) != std::string::npos,
            "the description names the tokenizer");
  return 0;
}
