//===- Data.h - token streams for training ------------------------*- C++ -*-===//
//
// A corpus is a file or a directory of files: raw text becomes byte tokens
// (0..255); `.bin` files are llm.c token files (the 20240520 header, uint16
// tokens) or, without that header, nanoGPT's raw uint16 tokens. Every id is
// checked against the vocabulary. The last 10% is the validation split.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_DATA_H
#define RA_RUNTIME_DATA_H

#include "abi/Init.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ra::rt {

struct Corpus {
  std::vector<int32_t> train, validation;
  std::string description; // "2,801,234 byte tokens from 47 files"
};

/// Reads PATH. Returns an error message naming the file (and the position of
/// a bad token), empty on success.
std::string loadCorpus(const std::string &path, int64_t vocab, int64_t seq, Corpus &out);

/// Random windows of seq + 1 tokens: tokens and the targets shifted by one.
/// Its state is a single integer, saved in checkpoints.
class Batcher {
public:
  Batcher(const std::vector<int32_t> &data, int64_t batch, int64_t seq, uint64_t seed)
      : data(data), batch(batch), seq(seq), rng(seed) {}
  void next(std::vector<int32_t> &tokens, std::vector<int32_t> &targets);
  uint64_t state() const { return rng.state; }
  void restore(uint64_t s) { rng.state = s; }

private:
  const std::vector<int32_t> &data;
  int64_t batch, seq;
  Rng rng;
};

} // namespace ra::rt

#endif // RA_RUNTIME_DATA_H
