//===- Kernels.h - reference math of each ra op -------------------*- C++ -*-===//
//
// Plain loops over Tensors, one function per op (or per op family), written
// to be read against models.md rather than to be fast.
//
//===----------------------------------------------------------------------===//
#ifndef RA_INTERPRETER_KERNELS_H
#define RA_INTERPRETER_KERNELS_H

#include "ir/interpreter/Tensor.h"

#include <optional>
#include <string>

namespace ra::interp {

Tensor matmul(const Tensor &a, const Tensor &b, bool ta, bool tb,
              const std::vector<int64_t> &resultShape);
/// `x` with each value rounded as the kernels round a float32 operand to
/// bfloat16 (to float32, then to nearest even): a --precision bf16 matmul's
/// operands.
Tensor roundedToBf16(const Tensor &x);
Tensor reduce(const Tensor &x, int64_t axis, bool keepdim, char kind); // 's'um, 'm'ean, 'x' max
Tensor causalMean(const Tensor &x, int64_t axis);
Tensor causalMeanGrad(const Tensor &dy, int64_t axis);
Tensor layerNorm(const Tensor &x, const Tensor &w, const Tensor &b, Real eps);
/// (dx, dw, db)
std::vector<Tensor> layerNormGrad(const Tensor &x, const Tensor &w, const Tensor &dy, Real eps);
Tensor softmax(const Tensor &x);

/// Errors name the offending id; an empty string means success.
std::string embedding(const Tensor &table, const Tensor &ids, Tensor &out);
std::string embeddingGrad(const Tensor &ids, const Tensor &dy, Tensor &table);
std::string crossEntropy(const Tensor &logits, const Tensor &targets, Tensor &loss);
std::string crossEntropyGrad(const Tensor &logits, const Tensor &targets, Real dloss,
                             Tensor &dlogits);

struct AttentionSpec {
  Real scale = 1;
  bool causal = false;
  std::optional<Real> alpha;   // the reciprocal term's weight
  std::optional<int64_t> band; // reciprocal term only where i - j <= band
};
/// With `lse`, also each query row's log-sum-exp of its masked scores, [B, H, Tq].
/// With `lseIn` ([B, H, Tq]), the probabilities are exp(S - lseIn), not the
/// rows' own softmax (head_mean_attention on a sibling's log-sum-exps).
Tensor attention(const Tensor &q, const Tensor &k, const Tensor &v, const AttentionSpec &spec,
                 Tensor *lse = nullptr, const Tensor *lseIn = nullptr);
/// (dq, dk, dv, dalpha when spec.alpha)
std::vector<Tensor> attentionGrad(const Tensor &q, const Tensor &k, const Tensor &v,
                                  const Tensor &dy, const AttentionSpec &spec,
                                  const Tensor *lseIn = nullptr);

/// ra.cached_attention: one new query per sequence at position lengths[b]
/// against its cached keys and values (ir/RaOps.td states the semantics).
/// `qPast` and `kRecip` with spec.alpha; `table` when the caches are pools
/// of blocks (and the kept queries too with `pagedQueries`). Returns "" or
/// what is wrong.
std::string cachedAttention(const Tensor &q, const Tensor &kPast, const Tensor &kNew,
                            const Tensor &vPast, const Tensor &vNew, const Tensor &lengths,
                            const Tensor *qPast, const Tensor *kRecip, const Tensor *table,
                            bool pagedQueries, const AttentionSpec &spec, Tensor &out);
/// ra.running_mean: (sum + x) / (lengths[b] + 1).
std::string runningMean(const Tensor &sum, const Tensor &x, const Tensor &lengths, Tensor &out);

Tensor slice(const Tensor &x, int64_t axis, int64_t start, int64_t end);
Tensor concat(const std::vector<const Tensor *> &inputs, int64_t axis);
Tensor transpose(const Tensor &x, const std::vector<int64_t> &perm);
Tensor broadcast(const Tensor &x, const std::vector<int64_t> &shape);
Tensor iota(const std::vector<int64_t> &shape, int64_t axis);

} // namespace ra::interp

#endif // RA_INTERPRETER_KERNELS_H
