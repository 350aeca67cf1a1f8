//===- InferenceCache.h - what a decoder keeps between positions -*- C++ -*-===//
//
// The one home of the question "which tensors must position i keep for the
// positions after it?". `racc stats` reports the answer, and the decoding
// entry points are to be derived from it, so the two cannot disagree.
//
// Two kinds of state:
//   - per token, growing with the sequence: every attention's keys and values
//     (K and V; MLA's latents k_l, v_l; mechanism 2's MLP activations `a`,
//     which its head-mean attention uses as values), and RA's past queries
//     when its reciprocal term spans the whole causal triangle;
//   - per sequence, of fixed size: RA's ring of the last `band` queries
//     (S[j, i] = q_j . k_i for i - band <= j < i needs them), and a causal
//     mean's running sum (mechanism 1's pooled gate input).
// Each tensor is traced back through layout ops and up-projections by a
// weight (which decoding absorbs, as MLA's W_vu) to its narrowest form, and
// a tensor two consumers share is counted once.
//
// Decoding with this state alone is possible only when nothing else combines
// positions; every op that does (a full-sequence mean, attention without its
// mask, a product over positions) is an obstacle, named with its location.
//
//===----------------------------------------------------------------------===//
#ifndef RA_ANALYSIS_INFERENCECACHE_H
#define RA_ANALYSIS_INFERENCECACHE_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>
#include <vector>

namespace ra {

struct CachedTensor {
  enum class Kind {
    PerToken,   // one entry per past position
    QueryRing,  // RA's last `band` queries
    RunningSum, // a causal mean's sum so far
  };
  mlir::Value value;
  Kind kind = Kind::PerToken;
  std::string role;     // keys, values, queries, running sum
  int64_t elements = 0; // per entry: per token, per ring slot, or the sum's size
  int64_t entries = 1;  // ring slots (QueryRing); 1 otherwise
};

struct InferenceCache {
  std::vector<CachedTensor> tensors;
  /// Why decoding cannot keep only these (an op that mixes positions other
  /// than causally, ir/analysis/PositionMixing.h), as `FILE:LINE:COL: why`;
  /// empty when it can.
  std::vector<std::string> obstacles;
  int64_t elementsPerToken = 0;    // sum over PerToken tensors
  int64_t elementsPerSequence = 0; // sum of elements x entries over the fixed-size ones
};

/// `v`, a tensor with `tokens` positions, traced back through reshapes,
/// transposes and up-projections by a weight (x @ W with fewer features in
/// than out: decoding keeps x and folds W into the attention) to its
/// narrowest form per token: what a decoder keeps of it.
mlir::Value narrowestCachedForm(mlir::Value v, int64_t tokens);

/// What a decoder of `forward` keeps, per token and per sequence.
InferenceCache analyzeInferenceCache(mlir::func::FuncOp forward);

/// "per token", "query ring", "running sum".
const char *kindName(CachedTensor::Kind kind);

} // namespace ra

#endif // RA_ANALYSIS_INFERENCECACHE_H
