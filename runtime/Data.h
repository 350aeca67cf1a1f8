//===- Data.h - token streams for training ------------------------*- C++ -*-===//
//
// A corpus is a file or a directory of files: raw text becomes byte tokens
// (0..255); `.bin` files are llm.c token files (the 20240520 header, uint16
// tokens) or, without that header, nanoGPT's raw uint16 tokens. Every id is
// checked against the vocabulary. The last 10% is the validation split.
//
// A directory `rarun tokenize` wrote holds train.bin, val.bin and data.json
// (the tokenizer, its vocabulary and the token counts): its splits are those
// two files, and a model whose vocabulary is smaller than the tokenizer's is
// refused before any token is read.
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
  /// The tokenizer that made the ids: "bytes" for text, data.json's for a
  /// tokenized directory, "" when unknown (a bare .bin file).
  std::string tokenizer;
};

/// The data files of PATH: itself, or a directory's regular files in name
/// order without dot files and fortune's .dat indexes and .u8 links. Empty
/// string or an error naming the path.
std::string listDataFiles(const std::string &path, std::vector<std::string> &files);

/// Reads a whole file; false and `error` naming it when it cannot.
bool readFile(const std::string &path, std::string &bytes, std::string &error);

/// What `rarun tokenize` records beside its token files (data.json). The
/// reader needs the first four; the rest describe where the tokens came from.
struct TokenizedData {
  std::string tokenizer;
  int64_t vocab = 0;
  int64_t trainTokens = 0, valTokens = 0;
  int64_t sourceFiles = 0, sourceBytes = 0;
  std::string ranksSha256; // the BPE ranks' hash, "" for bytes
};
constexpr const char *kTokenizedDataFile = "data.json";
/// Reads DIR/data.json; false with no error when there is none.
bool readTokenizedData(const std::string &dir, TokenizedData &out, std::string &error);
/// Writes a tokenized directory, each file atomically: DIR/train.bin (the
/// first meta.trainTokens of `tokens`), DIR/val.bin (the next
/// meta.valTokens), both llm.c token files, and DIR/data.json. "" or an error.
std::string writeTokenizedData(const std::string &dir, const TokenizedData &meta,
                               const uint16_t *tokens);

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
  /// Draws what next() would and discards it: a rank passes over the
  /// micro-batches of the others, so every rank's state stays the same.
  void skip();
  uint64_t state() const { return rng.state; }
  void restore(uint64_t s) { rng.state = s; }

private:
  const std::vector<int32_t> &data;
  int64_t batch, seq;
  Rng rng;
};

} // namespace ra::rt

#endif // RA_RUNTIME_DATA_H
