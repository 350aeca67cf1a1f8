//===- Tokenizer.cpp - text to token ids and back -------------------------===//
#include "tokenizer/Tokenizer.h"

#include "runtime/FileHash.h"
#include "tokenizer/BpeRanks.h"
#include "tokenizer/Gpt2Pretokenizer.h"

#include <cstdlib>
#include <fmt/format.h>
#include <unordered_map>

#ifndef RACC_DATA_DIR
#define RACC_DATA_DIR "data"
#endif

namespace ra::tok {

const char *const kGpt2RanksSha256 =
    "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930";

std::string gpt2RanksPath() {
  if (const char *path = std::getenv("RACC_GPT2_RANKS"); path && *path)
    return path;
  return std::string(RACC_DATA_DIR) + "/gpt2.tiktoken";
}

namespace {

bool outOfRange(int32_t id, size_t position, int64_t vocab, const std::string &name,
                std::string &error) {
  error = fmt::format("token id {} at position {} is outside the {} vocabulary of {}", id, position,
                      name, vocab);
  return false;
}

class ByteTokenizer final : public Tokenizer {
public:
  std::string name() const override { return "bytes"; }
  int64_t vocabSize() const override { return 256; }
  int32_t endOfText() const override { return -1; }
  void encode(std::string_view text, std::vector<int32_t> &out) override {
    for (unsigned char c : text)
      out.push_back(c);
  }
  bool decode(std::span<const int32_t> ids, std::string &out, std::string &error) const override {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] > 255)
        return outOfRange(ids[i], i, 256, "bytes", error);
      out += char(ids[i]);
    }
    return true;
  }
};

/// GPT-2's pattern, then merges by rank. Pieces repeat (words), so each
/// piece's ids are kept in a cache: most of the text never reaches merge.
class BpeTokenizer final : public Tokenizer {
public:
  BpeTokenizer(std::unique_ptr<BpeRanks> ranks, std::string name)
      : ranks(std::move(ranks)), tokenizerName(std::move(name)) {}
  std::string name() const override { return tokenizerName; }
  int64_t vocabSize() const override { return ranks->size() + 1; }
  int32_t endOfText() const override { return ranks->size(); }

  void encode(std::string_view text, std::vector<int32_t> &out) override {
    forEachGpt2Piece(text, [&](std::string_view piece) {
      // A whole-token piece needs no merge and no cache entry.
      if (int32_t whole = ranks->rank(piece); whole >= 0) {
        out.push_back(whole);
        return;
      }
      auto it = cache.find(piece);
      if (it == cache.end()) {
        if (cache.size() >= kCacheEntries)
          cache.clear();
        std::vector<int32_t> ids;
        ranks->merge(piece, ids);
        it = cache.emplace(std::string(piece), std::move(ids)).first;
      }
      out.insert(out.end(), it->second.begin(), it->second.end());
    });
  }

  bool decode(std::span<const int32_t> ids, std::string &out, std::string &error) const override {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == endOfText())
        out += "<|endoftext|>";
      else if (ids[i] < 0 || ids[i] > endOfText())
        return outOfRange(ids[i], i, vocabSize(), tokenizerName, error);
      else
        out += ranks->bytes(ids[i]);
    }
    return true;
  }

private:
  static constexpr size_t kCacheEntries = 1 << 18;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unique_ptr<BpeRanks> ranks;
  std::string tokenizerName;
  std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> cache;
};

} // namespace

std::unique_ptr<Tokenizer> gpt2StyleTokenizer(const std::string &path, std::string &error) {
  auto ranks = BpeRanks::load(path, error);
  return ranks ? std::make_unique<BpeTokenizer>(std::move(ranks), "bpe") : nullptr;
}

std::unique_ptr<Tokenizer> gpt2StyleTokenizerFromText(std::string_view text, std::string &error) {
  auto ranks = BpeRanks::parse(text, "<ranks>", error);
  return ranks ? std::make_unique<BpeTokenizer>(std::move(ranks), "bpe") : nullptr;
}

std::unique_ptr<Tokenizer> makeTokenizer(std::string_view name, std::string &error) {
  if (name == "bytes")
    return std::make_unique<ByteTokenizer>();
  if (name != "gpt2") {
    error = fmt::format("unknown tokenizer '{}' (gpt2 or bytes)", name);
    return nullptr;
  }
  std::string path = gpt2RanksPath();
  rt::FileDigest digest;
  if (std::string err = rt::hashFile(path, digest); !err.empty()) {
    error = fmt::format("GPT-2's BPE ranks are missing: {}; scripts/fetch_gpt2_ranks.sh (run by "
                        "scripts/setup.sh) puts them there, or set RACC_GPT2_RANKS",
                        err);
    return nullptr;
  }
  if (digest.sha256 != kGpt2RanksSha256) {
    error = fmt::format("'{}' is not GPT-2's ranks file: its SHA-256 is {}, r50k_base's is {}",
                        path, digest.sha256, kGpt2RanksSha256);
    return nullptr;
  }
  auto ranks = BpeRanks::load(path, error);
  if (!ranks)
    return nullptr;
  return std::make_unique<BpeTokenizer>(std::move(ranks), "gpt2");
}

} // namespace ra::tok
