//===- Tokenizer.h - text to token ids and back -------------------*- C++ -*-===//
//
// The tokenizers rarun knows by name: "bytes" (each byte its own id, 256)
// and "gpt2" (GPT-2's byte-level BPE, r50k_base: 50,257 ids, the last
// <|endoftext|>). Encoding treats all text as ordinary: the string
// "<|endoftext|>" in a file is text, never the special id (tiktoken's
// encode_ordinary); the tokenize command puts that id between documents.
//
//===----------------------------------------------------------------------===//
#ifndef RA_TOKENIZER_TOKENIZER_H
#define RA_TOKENIZER_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ra::tok {

class Tokenizer {
public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  virtual int64_t vocabSize() const = 0;
  /// The id that separates documents, or -1 when there is none.
  virtual int32_t endOfText() const = 0;
  /// Appends the ids of `text`.
  virtual void encode(std::string_view text, std::vector<int32_t> &out) = 0;
  /// Appends the bytes of `ids`; false (and `error` names the id and its
  /// position) for an id outside the vocabulary.
  virtual bool decode(std::span<const int32_t> ids, std::string &out, std::string &error) const = 0;
};

/// GPT-2's ranks file, r50k_base as openai-whisper ships it (see
/// scripts/fetch_gpt2_ranks.sh): its SHA-256 and where rarun looks for it
/// ($RACC_GPT2_RANKS, else the project's data/ directory).
extern const char *const kGpt2RanksSha256;
std::string gpt2RanksPath();

/// "bytes" or "gpt2"; null and `error` when the name is unknown or GPT-2's
/// ranks are missing or not the expected file.
std::unique_ptr<Tokenizer> makeTokenizer(std::string_view name, std::string &error);

/// A GPT-2 style tokenizer (GPT-2's pattern, byte-level BPE) over any ranks
/// file, without the hash check: tests and fuzzers use small vocabularies.
/// `endOfText` is the id after the last rank.
std::unique_ptr<Tokenizer> gpt2StyleTokenizer(const std::string &ranksPath, std::string &error);
std::unique_ptr<Tokenizer> gpt2StyleTokenizerFromText(std::string_view ranks, std::string &error);

} // namespace ra::tok

#endif // RA_TOKENIZER_TOKENIZER_H
