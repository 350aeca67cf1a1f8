//===- BpeRanks.h - byte-pair merges by rank ----------------------*- C++ -*-===//
//
// A byte-level BPE vocabulary in tiktoken's format: one line per token, the
// token's bytes in base64, a space, its rank. A token's id is its rank, and
// merging a piece repeatedly joins the adjacent pair whose join has the
// lowest rank (tiktoken's byte_pair_merge). The ranks file stores raw bytes,
// so GPT-2's byte-to-unicode map of encoder.json never comes into it.
//
//===----------------------------------------------------------------------===//
#ifndef RA_TOKENIZER_BPERANKS_H
#define RA_TOKENIZER_BPERANKS_H

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ra::tok {

class BpeRanks {
public:
  /// Reads a ranks file. The ranks must be 0..N-1, each once; tokens must be
  /// distinct and every single byte one of them. Errors name the file and the
  /// line.
  static std::unique_ptr<BpeRanks> load(const std::string &path, std::string &error);
  /// The same from the file's bytes (`path` names it in errors).
  static std::unique_ptr<BpeRanks> parse(std::string_view text, const std::string &path,
                                         std::string &error);

  int32_t size() const { return int32_t(bytesOfRank.size()); }
  const std::string &bytes(int32_t rank) const { return bytesOfRank[rank]; }
  /// The rank of a token, or -1.
  int32_t rank(std::string_view token) const {
    auto it = rankOfBytes.find(token);
    return it == rankOfBytes.end() ? -1 : it->second;
  }
  /// Appends the ids of one piece (a pre-token), merged by rank.
  void merge(std::string_view piece, std::vector<int32_t> &out) const;

private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> rankOfBytes;
  std::vector<std::string> bytesOfRank;
};

} // namespace ra::tok

#endif // RA_TOKENIZER_BPERANKS_H
