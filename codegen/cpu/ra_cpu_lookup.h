//===- ra_cpu_lookup.h - embeddings and the cross-entropy loss --*- C++ -*-===//
//
// Ids are checked by the generated code before these run (badId); the loss
// sums its rows' terms in row order.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_LOOKUP_H
#define RA_CPU_LOOKUP_H

#include "ra_cpu_common.h"
#include "ra_cpu_reduce.h"

namespace ra_cpu {

/// Returns the index of the first id outside [0, vocab), or -1.
inline i64 badId(const int32_t *ids, i64 n, i64 vocab) {
  for (i64 i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      return i;
  return -1;
}

inline void embedding(const float *__restrict table, const int32_t *__restrict ids,
                      float *__restrict out, i64 n, i64 d) {
#pragma omp parallel for if (n * d > kParallelMin)
  for (i64 i = 0; i < n; ++i)
    std::memcpy(out + i * d, table + (i64)ids[i] * d, sizeof(float) * d);
}

inline void embeddingGrad(const int32_t *__restrict ids, const float *__restrict dy,
                          float *__restrict table, i64 n, i64 vocab, i64 d) {
  std::memset(table, 0, sizeof(float) * vocab * d);
#pragma omp parallel for if (n * d > kParallelMin)
  for (i64 j = 0; j < d; ++j)
    for (i64 i = 0; i < n; ++i)
      table[(i64)ids[i] * d + j] += dy[i * d + j];
}

/// Per-row terms summed in row order: the loss is bit-identical whatever the
/// thread count (an OpenMP reduction's order is not fixed).
inline void crossEntropy(const float *__restrict logits, const int32_t *__restrict targets,
                         float *__restrict loss, i64 rows, i64 v) {
  std::vector<double> terms(rows);
#pragma omp parallel for if (rows * v > kParallelMin)
  for (i64 r = 0; r < rows; ++r) {
    const float *l = logits + r * v;
    float mx = *std::max_element(l, l + v);
    double sum = 0;
    for (i64 i = 0; i < v; ++i)
      sum += std::exp(l[i] - mx);
    terms[r] = mx + std::log(sum) - l[targets[r]];
  }
  *loss = float(orderedSum(terms) / rows);
}

/// g = (softmax(l) - onehot(target)) * scale over one row of v logits;
/// returns the row's log-sum-exp.
inline double softmaxGradRow(const float *l, float *g, i64 v, int32_t target, float scale) {
  double lse = softmaxRow(l, g, v, scale);
  g[target] -= scale;
  return lse;
}

inline void crossEntropyGrad(const float *__restrict logits, const int32_t *__restrict targets,
                             const float *__restrict dloss, float *__restrict dlogits, i64 rows,
                             i64 v) {
  float scale = *dloss / float(rows);
#pragma omp parallel for if (rows * v > kParallelMin)
  for (i64 r = 0; r < rows; ++r)
    softmaxGradRow(logits + r * v, dlogits + r * v, v, targets[r], scale);
}

/// crossEntropy and crossEntropyGrad in one pass per row: the softmax is
/// written to dlogits once and the row's loss term taken on the way.
inline void crossEntropyWithGrad(const float *__restrict logits, const int32_t *__restrict targets,
                                 const float *__restrict dloss, float *__restrict loss,
                                 float *__restrict dlogits, i64 rows, i64 v) {
  std::vector<double> terms(rows);
  float scale = *dloss / float(rows);
#pragma omp parallel for if (rows * v > kParallelMin)
  for (i64 r = 0; r < rows; ++r)
    terms[r] = softmaxGradRow(logits + r * v, dlogits + r * v, v, targets[r], scale) -
               logits[r * v + targets[r]];
  *loss = float(orderedSum(terms) / rows);
}

} // namespace ra_cpu

#endif // RA_CPU_LOOKUP_H
