//===- DecodeCache.h - the cached decoder over @prefill and @decode -*- C++ -*-===//
//
// racc derives @prefill and @decode from @forward (passes/DeriveDecoding.cpp)
// and describes, in the manifest's "decoding" object, every tensor @decode
// keeps between calls: per token (keys and values in their narrowest form),
// a ring of RA's last `band` queries, or a causal mean's running sum. This
// owns those tensors for up to the compiled batch of sequences and keeps
// them up to date: @prefill fills them from the prompts, each @decode call
// returns one new row per cache that is stored at the sequence's position
// (its ring slot, or added to its sum).
//
// Memory: each sequence's slot holds the compiled context's positions of
// every per-token cache (no paging yet: docs/decoding.md).
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_DECODECACHE_H
#define RA_RUNTIME_DECODECACHE_H

#include "runtime/Model.h"

#include <memory>
#include <string>
#include <vector>

namespace ra::rt {

/// One tensor @decode keeps, as the manifest describes it.
struct CacheSpec {
  enum class Kind { PerToken, QueryRing, RunningSum } kind = Kind::PerToken;
  std::string name, role, origin;
  int64_t axis = 1;           // the positions' axis of `shape`
  int64_t slots = 0;          // positions kept: the context, the ring, or 1
  int64_t elements = 0;       // values per position
  std::vector<int64_t> shape; // @decode's input: [batch, ..., slots, ...]
};

/// The caches an artifact's @decode keeps, checked against its entry
/// points; "" or why it has no cached decoding (racc's reason when it
/// refused to derive one).
std::string readCacheSpecs(const Model &model, std::vector<CacheSpec> &out);

/// The precision a cache's keys, values and queries are kept in. f16 and
/// bf16 round every stored value as storing it in that type would; the
/// buffers stay float32 (the kernels read float32), so this measures the
/// logits' error such a cache costs, not its memory (docs/decoding.md).
/// Running sums are always kept in float32.
enum class CacheDtype { F32, F16, BF16 };
/// "f32", "f16", "bf16"; false for another name.
bool parseCacheDtype(const std::string &name, CacheDtype &out);

class CachedDecoder {
public:
  /// Null, with `error`, when the artifact cannot decode from a cache.
  static std::unique_ptr<CachedDecoder> create(Model &model, std::string &error);

  int64_t batch() const { return batchSize; }
  int64_t context() const { return contextSize; }
  int64_t vocab() const { return vocabSize; }
  const std::vector<CacheSpec> &caches() const { return specs; }

  /// Starts sequence r of each prompt (at most the batch, each of 1 to
  /// context tokens) with one @prefill call; logits[r] is the next-token
  /// distribution's logits (vocab floats, valid until the next call).
  std::string prefill(const std::vector<std::vector<int32_t>> &prompts,
                      std::vector<const float *> &logits);
  /// Appends tokens[r] to every sequence r with live[r], each at its own
  /// position, with one @decode call; logits as prefill's.
  std::string decode(const std::vector<int32_t> &tokens, const std::vector<bool> &live,
                     std::vector<const float *> &logits);
  /// Starts sequence r at lengths[r] positions (0: not started) whose
  /// cached rows are random values: what rarun bench times a step from,
  /// whose cost does not depend on what the cache holds.
  void startWithRandomCache(const std::vector<int32_t> &lengths, uint64_t seed);
  /// Rounds what is stored from now on to `dtype` (CacheDtype).
  void setCacheDtype(CacheDtype dtype) { cacheDtype = dtype; }
  /// Tokens sequence r holds.
  int64_t length(size_t r) const { return lengths[r]; }

  /// Bytes one position of one sequence adds to the caches, and a
  /// sequence's fixed bytes (rings, sums), as the buffers hold them (f32).
  int64_t bytesPerToken() const;
  int64_t bytesPerSequence() const;

private:
  CachedDecoder(Model &model) : model(model) {}
  /// Stores row `row` of `from` ([.., n, ..] on the cache's axis) as
  /// position `slot` of sequence b in cache c.
  void storeRow(size_t c, int64_t b, const float *from, int64_t n, int64_t row, int64_t slot,
                bool add);

  Model &model;
  std::vector<CacheSpec> specs;
  int64_t batchSize = 0, contextSize = 0, vocabSize = 0;
  std::vector<std::vector<float>> buffers; // one per cache, @decode's input
  std::vector<int32_t> lengths;            // positions held, per sequence
  std::vector<std::vector<float>> prefillOut, decodeOut;
  std::vector<int32_t> ids, positions, rows;
  CacheDtype cacheDtype = CacheDtype::F32;
};

} // namespace ra::rt

#endif // RA_RUNTIME_DECODECACHE_H
