//===- ra_cuda_lookup.cuh - embeddings and the cross-entropy loss --*- C++ -*-===//
//
// Token-id lookups and their scatter-add backward (no atomics), and the loss
// and its gradient over a vocabulary, the rows' terms summed in a fixed order.
// Ids are checked on the host before upload.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_LOOKUP_CUH
#define RA_CUDA_LOOKUP_CUH

#include "ra_cuda_common.cuh"
#include "ra_cuda_elementwise.cuh"
#include "ra_cuda_reduce.cuh"

namespace ra_cuda {

__global__ void embeddingKernel(const float *table, const int32_t *ids, float *out, i64 n, i64 d) {
  RA_GRID_STRIDE(k, n * d) { out[k] = table[i64(ids[k / d]) * d + k % d]; }
}

/// A thread per feature column, scattering the rows in order (no atomics).
__global__ void embeddingGradKernel(const int32_t *ids, const float *dy, float *table, i64 n,
                                    i64 d) {
  RA_GRID_STRIDE(j, d) {
    for (i64 i = 0; i < n; ++i)
      table[i64(ids[i]) * d + j] += dy[i * d + j];
  }
}

/// Per-row loss terms into `terms` (a block per row), then one block sums them.
__global__ void crossEntropyRowsKernel(const float *logits, const int32_t *targets, float *terms,
                                       i64 rows, i64 v) {
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *l = logits + row * v;
    RowStats st = rowStats(l, v);
    if (threadIdx.x == 0)
      terms[row] = st.max + logf(st.sum) - l[targets[row]];
  }
}

/// With `terms`, also each row's loss term (cross_entropy_with_grad).
__global__ void crossEntropyGradKernel(const float *logits, const int32_t *targets,
                                       const float *dloss, float *dlogits, i64 rows, i64 v,
                                       float *terms) {
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *l = logits + row * v;
    float *g = dlogits + row * v;
    RowStats st = rowStats(l, v);
    float scale = *dloss / float(rows);
    for (i64 i = threadIdx.x; i < v; i += blockDim.x)
      g[i] = expf(l[i] - st.max) / st.sum * scale - (i == targets[row] ? scale : 0.f);
    if (terms && threadIdx.x == 0)
      terms[row] = st.max + logf(st.sum) - l[targets[row]];
  }
}

inline void embedding(const float *table, const int32_t *ids, float *out, i64 n, i64 d) {
  RA_LAUNCH(embeddingKernel, dim3(gridFor(n * d)), dim3(kThreads), 0, table, ids, out, n, d);
}

inline void embeddingGrad(const int32_t *ids, const float *dy, float *table, i64 n, i64 vocab,
                          i64 d) {
  fill(table, 0.f, vocab * d);
  RA_LAUNCH(embeddingGradKernel, dim3(gridFor(d)), dim3(kThreads), 0, ids, dy, table, n, d);
}

/// `terms` is scratch of `rows` floats.
inline void crossEntropy(const float *logits, const int32_t *targets, float *loss, i64 rows, i64 v,
                         float *terms) {
  RA_LAUNCH(crossEntropyRowsKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, logits, targets, terms,
            rows, v);
  RA_LAUNCH(scaledSumKernel, dim3(1), dim3(kThreads), 0, (const float *)terms, loss, rows,
            1.f / float(rows));
}

/// `terms` is scratch of `rows` floats.
inline void crossEntropyWithGrad(const float *logits, const int32_t *targets, const float *dloss,
                                 float *loss, float *dlogits, i64 rows, i64 v, float *terms) {
  RA_LAUNCH(crossEntropyGradKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, logits, targets, dloss,
            dlogits, rows, v, terms);
  RA_LAUNCH(scaledSumKernel, dim3(1), dim3(kThreads), 0, (const float *)terms, loss, rows,
            1.f / float(rows));
}

inline void crossEntropyGrad(const float *logits, const int32_t *targets, const float *dloss,
                             float *dlogits, i64 rows, i64 v) {
  RA_LAUNCH(crossEntropyGradKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, logits, targets, dloss,
            dlogits, rows, v, (float *)nullptr);
}

} // namespace ra_cuda

#endif // RA_CUDA_LOOKUP_CUH
