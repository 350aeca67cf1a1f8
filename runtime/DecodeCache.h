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
// Memory: per-token caches are paged, as vLLM's PagedAttention: each is a
// pool of fixed-size blocks of positions shared by every sequence, and a
// sequence holds the blocks its positions reach (handed out as it grows,
// returned when it ends or the batch restarts), so sequences of different
// lengths neither reserve the whole context each nor fragment the pool.
// @decode reads the pools through a block table the decoder keeps.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_DECODECACHE_H
#define RA_RUNTIME_DECODECACHE_H

#include "abi/ra_dtype.h"
#include "runtime/Model.h"

#include <memory>
#include <string>
#include <vector>

namespace ra::rt {

/// One tensor @decode keeps, as the manifest describes it.
struct CacheSpec {
  enum class Kind { PerToken, QueryRing, RunningSum } kind = Kind::PerToken;
  std::string name, role, origin;
  int64_t axis = 1;     // the positions' axis of `shape`
  int64_t slots = 0;    // positions a sequence keeps: the context, the ring, or 1
  int64_t elements = 0; // values per position
  // @decode's input: [batch, ..., slots, ...], or for a per-token cache the
  // pool [blocks, ..., block_positions, ...].
  std::vector<int64_t> shape;
};

/// What an artifact's @decode keeps, as its manifest describes it.
struct CacheLayout {
  std::vector<CacheSpec> caches;
  int64_t blockPositions = 0;    // positions per block of the pools
  int64_t blocks = 0;            // blocks per pool
  int64_t blocksPerSequence = 0; // the block table's width
};

/// The caches an artifact's @decode keeps, checked against its entry
/// points; "" or why it has no cached decoding (racc's reason when it
/// refused to derive one).
std::string readCacheLayout(const Model &model, CacheLayout &out);

class CachedDecoder {
public:
  /// Null, with `error`, when the artifact cannot decode from a cache.
  static std::unique_ptr<CachedDecoder> create(Model &model, std::string &error);

  int64_t batch() const { return batchSize; }
  int64_t context() const { return contextSize; }
  int64_t vocab() const { return vocabSize; }
  const std::vector<CacheSpec> &caches() const { return layout.caches; }
  int64_t blockPositions() const { return layout.blockPositions; }
  int64_t poolBlocks() const { return layout.blocks; }
  /// Blocks the sequences hold now.
  int64_t blocksInUse() const { return layout.blocks - int64_t(freeBlocks.size()); }

  /// Starts sequence r of each prompt (at most the batch, each of 1 to
  /// context tokens) with one @prefill call, ending every sequence held
  /// before; logits[r] is the next-token distribution's logits (vocab
  /// floats, valid until the next call). Fails, holding nothing, when the
  /// pools lack the blocks the prompts need.
  std::string prefill(const std::vector<std::vector<int32_t>> &prompts,
                      std::vector<const float *> &logits);
  /// Appends tokens[r] to every sequence r with live[r], each at its own
  /// position, with one @decode call; logits as prefill's. Fails, changing
  /// nothing, when a sequence needs a new block and none is free.
  std::string decode(const std::vector<int32_t> &tokens, const std::vector<bool> &live,
                     std::vector<const float *> &logits);
  /// Ends sequence r: its blocks go back to the pools.
  void release(size_t r);
  /// Starts sequence r at lengths[r] positions (0: not started) whose
  /// cached rows are random values: what rarun bench times a step from,
  /// whose cost does not depend on what the cache holds. "" or why the
  /// pools cannot hold them.
  std::string startWithRandomCache(const std::vector<int32_t> &lengths, uint64_t seed);
  /// The element type the artifact keeps keys, values and queries in
  /// (racc compile --cache-dtype; running sums are float32).
  ra_dtype::Dtype storedType() const { return stored; }
  /// The precision the cache's values have: the stored type, or what
  /// roundCacheTo asked of a float32 cache.
  ra_dtype::Dtype cacheType() const { return rounding; }
  /// "f32", "f16" or "bf16": of a float32 cache, rounds every value stored
  /// from now on as storing it in that type would (the logit error such a
  /// cache costs, measured without compiling it); of a half-precision one,
  /// only its own type. "" or what is wrong.
  std::string roundCacheTo(const std::string &dtype);
  /// Tokens sequence r holds.
  int64_t length(size_t r) const { return lengths[r]; }

  /// Values one position of one sequence adds to the caches, and a
  /// sequence's fixed values (rings, sums).
  int64_t elementsPerToken() const;
  int64_t elementsPerSequence() const;
  /// The same in bytes, as the buffers hold them (2 per value of a half
  /// cache, 4 of a float32 one and of running sums).
  int64_t bytesPerToken() const;
  int64_t bytesPerSequence() const;
  /// Bytes of one block of every pool, and of the blocks held now.
  int64_t bytesPerBlock() const { return bytesPerToken() * layout.blockPositions; }
  int64_t bytesInUse() const { return blocksInUse() * bytesPerBlock(); }

private:
  CachedDecoder(Model &model) : model(model) {}
  /// Stores row `row` of `from` ([.., n, ..] on the cache's axis) as
  /// position `slot` of sequence b in cache c (in its block when paged).
  void storeRow(size_t c, int64_t b, const float *from, int64_t n, int64_t row, int64_t slot,
                bool add);
  /// Gives sequence r the blocks `positions` positions need; false, with
  /// nothing taken, when too few are free.
  bool reserve(size_t r, int64_t positions);
  /// Blocks that hold `count` positions.
  int64_t blocksFor(int64_t count) const {
    return (count + layout.blockPositions - 1) / layout.blockPositions;
  }
  void releaseAll();
  std::string poolFull(int64_t needed) const;
  /// On a device, copies what changed in the caches since the last @decode
  /// to their copies there (nothing on cpu).
  std::string uploadChanges();
  /// @decode's inputs: ids, positions, the block table, then the caches.
  static constexpr size_t kFirstCacheInput = 3;

  Model &model;
  CacheLayout layout;
  int64_t batchSize = 0, contextSize = 0, vocabSize = 0;
  std::vector<std::vector<unsigned char>> buffers; // one per cache, @decode's input
  std::vector<ra_dtype::Dtype> types;              // their element types
  std::vector<int32_t> lengths;                    // positions held, per sequence
  std::vector<int32_t> freeBlocks;                 // a stack: the next block handed out is last
  std::vector<std::vector<int32_t>> held;          // each sequence's blocks, in position order
  std::vector<int32_t> table;                      // @decode's block_table [batch, per sequence]
  std::vector<std::vector<float>> prefillOut, decodeOut;
  std::vector<int32_t> ids, positions, rows;
  // What changed since the last @decode: whole caches, or rows of them.
  std::vector<bool> wholeCache;
  std::vector<Model::InputPatch> changedRows;
  ra_dtype::Dtype stored = ra_dtype::Dtype::F32, rounding = ra_dtype::Dtype::F32;
};

} // namespace ra::rt

#endif // RA_RUNTIME_DECODECACHE_H
