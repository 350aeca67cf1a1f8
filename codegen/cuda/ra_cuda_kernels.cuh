//===- ra_cuda_kernels.cuh - the CUDA kernels generated code launches -*- C++ -*-===//
//
// One kernel (and its host-side launcher) per family, mirroring
// codegen/cpu/ra_cpu_kernels.h: grid-stride loops for elementwise and layout
// ops (coalesced: consecutive threads, consecutive elements), a block per row
// with warp-shuffle and shared-memory reductions for softmax, layernorm and
// row reductions. Compiles with nvcc, and with a host compiler against
// ra_simt.h, where the tests run it. Launchers take device pointers.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_KERNELS_CUH
#define RA_CUDA_KERNELS_CUH

#include "ra_elementwise.h"
#include "ra_simt.h"

#include <cfloat>
#include <cstdint>

namespace ra_cuda {

using i64 = int64_t;
using ra_math::Binary;
using ra_math::Unary;

constexpr int kThreads = 256; // per block
constexpr int kWarp = 32;

/// Blocks for a grid-stride loop over n elements (capped: the loop strides).
inline unsigned gridFor(i64 n) {
  i64 blocks = (n + kThreads - 1) / kThreads;
  return unsigned(blocks < 4096 ? (blocks > 0 ? blocks : 1) : 4096);
}

#define RA_GRID_STRIDE(i, n)                                                                       \
  for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);                                \
       i += i64(gridDim.x) * blockDim.x)

//===----------------------------------------------------------------------===//
// Block reductions: warp shuffles, then one value per warp through shared memory
//===----------------------------------------------------------------------===//

enum class Combine { Sum, Max };

template <Combine c> __device__ __forceinline__ float combine(float a, float b) {
  if constexpr (c == Combine::Sum)
    return a + b;
  else
    return a > b ? a : b;
}

template <Combine c> __device__ float warpReduce(float v) {
  for (int delta = kWarp / 2; delta > 0; delta /= 2)
    v = combine<c>(v, __shfl_down_sync(0xffffffffu, v, delta));
  return v;
}

/// The reduction of `v` over the block, returned to every thread.
template <Combine c> __device__ float blockReduce(float v, float identity) {
  RA_SHARED(float, partial, kThreads / kWarp);
  unsigned lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  unsigned warps = (blockDim.x + kWarp - 1) / kWarp;
  v = warpReduce<c>(v);
  if (lane == 0)
    partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? float(partial[lane]) : identity;
    v = warpReduce<c>(v);
  }
  __syncthreads(); // every warp total is read before partial[0] is reused
  if (threadIdx.x == 0)
    partial[0] = v;
  __syncthreads();
  v = partial[0];
  __syncthreads(); // read by all before the next reduction writes
  return v;
}

//===----------------------------------------------------------------------===//
// Elementwise and layout
//===----------------------------------------------------------------------===//

template <Binary op>
__global__ void binaryKernel(const float *a, const float *b, float *out, i64 n) {
  RA_GRID_STRIDE(i, n) { out[i] = ra_math::apply<op>(a[i], b[i]); }
}

template <Unary op> __global__ void unaryKernel(const float *x, float *out, i64 n) {
  RA_GRID_STRIDE(i, n) { out[i] = ra_math::apply<op>(x[i]); }
}

__global__ void fillKernel(float *out, float value, i64 n) {
  RA_GRID_STRIDE(i, n) { out[i] = value; }
}

__global__ void iotaKernel(float *out, i64 n, i64 axisSize, i64 inner) {
  RA_GRID_STRIDE(i, n) { out[i] = float((i / inner) % axisSize); }
}

/// out[c] = in[sum c_d * strides_d]: broadcasts (stride 0) and transposes.
/// Up to 8 dims, passed by value.
struct GatherShape {
  int rank;
  i64 dims[8], strides[8];
};

template <typename T> __global__ void gatherKernel(const T *in, T *out, GatherShape s, i64 n) {
  RA_GRID_STRIDE(i, n) {
    i64 off = 0, r = i;
    for (int d = s.rank - 1; d >= 0; --d) {
      off += (r % s.dims[d]) * s.strides[d];
      r /= s.dims[d];
    }
    out[i] = in[off];
  }
}

/// [outer, n, inner] -> [outer, end - start, inner], or the reverse placement
/// of a concat part at `offset` along an axis of `total`.
template <typename T>
__global__ void copyAlongAxisKernel(const T *in, T *out, i64 outer, i64 inN, i64 outN, i64 inner,
                                    i64 inStart, i64 outStart) {
  i64 rowLen = (outN < inN ? outN : inN) * inner;
  (void)outer;
  RA_GRID_STRIDE(i, outer * rowLen) {
    i64 o = i / rowLen, k = i % rowLen;
    out[o * outN * inner + outStart * inner + k] = in[o * inN * inner + inStart * inner + k];
  }
}

//===----------------------------------------------------------------------===//
// Reductions, causal mean, softmax, layernorm
//===----------------------------------------------------------------------===//

enum class Reduce { Sum, Mean, Max };

/// A block per output row when the reduced axis is innermost; else a thread
/// per output, looping over the axis (still coalesced across threads).
template <Reduce kind>
__global__ void reduceRowsKernel(const float *x, float *out, i64 rows, i64 n) {
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    float acc = kind == Reduce::Max ? -FLT_MAX : 0.f;
    for (i64 t = threadIdx.x; t < n; t += blockDim.x) {
      float v = x[row * n + t];
      acc = kind == Reduce::Max ? (acc > v ? acc : v) : acc + v;
    }
    acc = kind == Reduce::Max ? blockReduce<Combine::Max>(acc, -FLT_MAX)
                              : blockReduce<Combine::Sum>(acc, 0.f);
    if (threadIdx.x == 0)
      out[row] = kind == Reduce::Mean ? acc / float(n) : acc;
  }
}

template <Reduce kind>
__global__ void reduceStridedKernel(const float *x, float *out, i64 outer, i64 n, i64 inner) {
  RA_GRID_STRIDE(j, outer * inner) {
    i64 o = j / inner, i = j % inner;
    float acc = kind == Reduce::Max ? -FLT_MAX : 0.f;
    for (i64 t = 0; t < n; ++t) {
      float v = x[(o * n + t) * inner + i];
      acc = kind == Reduce::Max ? (acc > v ? acc : v) : acc + v;
    }
    out[j] = kind == Reduce::Mean ? acc / float(n) : acc;
  }
}

__global__ void causalMeanKernel(const float *x, float *out, i64 outer, i64 n, i64 inner,
                                 bool grad) {
  RA_GRID_STRIDE(j, outer * inner) {
    i64 o = j / inner, i = j % inner;
    float sum = 0.f;
    if (!grad) {
      for (i64 t = 0; t < n; ++t) {
        sum += x[(o * n + t) * inner + i];
        out[(o * n + t) * inner + i] = sum / float(t + 1);
      }
    } else { // dx[s] = sum over t >= s of dy[t] / (t + 1)
      for (i64 t = n - 1; t >= 0; --t) {
        sum += x[(o * n + t) * inner + i] / float(t + 1);
        out[(o * n + t) * inner + i] = sum;
      }
    }
  }
}

__global__ void softmaxKernel(const float *x, float *out, i64 rows, i64 d) {
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *xr = x + row * d;
    float *y = out + row * d;
    float mx = -FLT_MAX;
    for (i64 i = threadIdx.x; i < d; i += blockDim.x)
      mx = xr[i] > mx ? xr[i] : mx;
    mx = blockReduce<Combine::Max>(mx, -FLT_MAX);
    float sum = 0.f;
    for (i64 i = threadIdx.x; i < d; i += blockDim.x)
      sum += expf(xr[i] - mx);
    sum = blockReduce<Combine::Sum>(sum, 0.f);
    for (i64 i = threadIdx.x; i < d; i += blockDim.x)
      y[i] = expf(xr[i] - mx) / sum;
  }
}

__global__ void layerNormKernel(const float *x, const float *w, const float *b, float *out,
                                i64 rows, i64 d, float eps) {
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *xr = x + row * d;
    float s = 0.f;
    for (i64 i = threadIdx.x; i < d; i += blockDim.x)
      s += xr[i];
    float mean = blockReduce<Combine::Sum>(s, 0.f) / float(d);
    float v = 0.f;
    for (i64 i = threadIdx.x; i < d; i += blockDim.x)
      v += (xr[i] - mean) * (xr[i] - mean);
    float rstd = rsqrtf(blockReduce<Combine::Sum>(v, 0.f) / float(d) + eps);
    for (i64 i = threadIdx.x; i < d; i += blockDim.x)
      out[row * d + i] = (xr[i] - mean) * rstd * w[i] + b[i];
  }
}

//===----------------------------------------------------------------------===//
// Launchers: what generated code calls
//===----------------------------------------------------------------------===//

template <Binary op> void binary(const float *a, const float *b, float *out, i64 n) {
  RA_LAUNCH(binaryKernel<op>, dim3(gridFor(n)), dim3(kThreads), 0, a, b, out, n);
}

template <Unary op> void unary(const float *x, float *out, i64 n) {
  RA_LAUNCH(unaryKernel<op>, dim3(gridFor(n)), dim3(kThreads), 0, x, out, n);
}

inline void fill(float *out, float value, i64 n) {
  RA_LAUNCH(fillKernel, dim3(gridFor(n)), dim3(kThreads), 0, out, value, n);
}

inline void iota(float *out, i64 n, i64 axisSize, i64 inner) {
  RA_LAUNCH(iotaKernel, dim3(gridFor(n)), dim3(kThreads), 0, out, n, axisSize, inner);
}

template <typename T>
void gather(const T *in, T *out, int rank, const i64 *dims, const i64 *strides) {
  GatherShape s{};
  s.rank = rank;
  i64 n = 1;
  for (int d = 0; d < rank; ++d) {
    s.dims[d] = dims[d];
    s.strides[d] = strides[d];
    n *= dims[d];
  }
  RA_LAUNCH(gatherKernel<T>, dim3(gridFor(n)), dim3(kThreads), 0, in, out, s, n);
}

template <typename T>
void slice(const T *in, T *out, i64 outer, i64 n, i64 inner, i64 start, i64 end) {
  i64 len = end - start;
  RA_LAUNCH(copyAlongAxisKernel<T>, dim3(gridFor(outer * len * inner)), dim3(kThreads), 0, in, out,
            outer, n, len, inner, start, i64(0));
}

template <typename T>
void concatPart(const T *in, T *out, i64 outer, i64 n, i64 inner, i64 offset, i64 total) {
  RA_LAUNCH(copyAlongAxisKernel<T>, dim3(gridFor(outer * n * inner)), dim3(kThreads), 0, in, out,
            outer, n, total, inner, i64(0), offset);
}

template <Reduce kind> void reduce(const float *x, float *out, i64 outer, i64 n, i64 inner) {
  if (inner == 1)
    RA_LAUNCH(reduceRowsKernel<kind>, dim3(unsigned(outer < 65535 ? outer : 65535)), dim3(kThreads),
              0, x, out, outer, n);
  else
    RA_LAUNCH(reduceStridedKernel<kind>, dim3(gridFor(outer * inner)), dim3(kThreads), 0, x, out,
              outer, n, inner);
}

inline void causalMean(const float *x, float *out, i64 outer, i64 n, i64 inner, bool grad) {
  RA_LAUNCH(causalMeanKernel, dim3(gridFor(outer * inner)), dim3(kThreads), 0, x, out, outer, n,
            inner, grad);
}

inline void softmax(const float *x, float *out, i64 rows, i64 d) {
  RA_LAUNCH(softmaxKernel, dim3(unsigned(rows < 65535 ? rows : 65535)), dim3(kThreads), 0, x, out,
            rows, d);
}

inline void layerNorm(const float *x, const float *w, const float *b, float *out, i64 rows, i64 d,
                      float eps) {
  RA_LAUNCH(layerNormKernel, dim3(unsigned(rows < 65535 ? rows : 65535)), dim3(kThreads), 0, x, w,
            b, out, rows, d, eps);
}

//===----------------------------------------------------------------------===//
// LayerNorm backward, lookups and the loss. Sums over rows go through a
// scratch buffer and a fixed order: results are bit-identical run to run.
//===----------------------------------------------------------------------===//

/// dx per row (a block per row); the row's mean and rstd into `stats`.
__global__ void layerNormGradRowsKernel(const float *x, const float *w, const float *dy, float *dx,
                                        float *stats, i64 rows, i64 d, float eps) {
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *xr = x + row * d, *g = dy + row * d;
    float s = 0.f;
    for (i64 i = threadIdx.x; i < d; i += blockDim.x)
      s += xr[i];
    float mean = blockReduce<Combine::Sum>(s, 0.f) / float(d);
    float v = 0.f;
    for (i64 i = threadIdx.x; i < d; i += blockDim.x)
      v += (xr[i] - mean) * (xr[i] - mean);
    float rstd = rsqrtf(blockReduce<Combine::Sum>(v, 0.f) / float(d) + eps);
    float sg = 0.f, sgx = 0.f;
    for (i64 i = threadIdx.x; i < d; i += blockDim.x) {
      float gh = g[i] * w[i];
      sg += gh;
      sgx += gh * (xr[i] - mean) * rstd;
    }
    float meanG = blockReduce<Combine::Sum>(sg, 0.f) / float(d);
    float meanGX = blockReduce<Combine::Sum>(sgx, 0.f) / float(d);
    for (i64 i = threadIdx.x; i < d; i += blockDim.x)
      dx[row * d + i] = rstd * (g[i] * w[i] - meanG - (xr[i] - mean) * rstd * meanGX);
    if (threadIdx.x == 0) {
      stats[2 * row] = mean;
      stats[2 * row + 1] = rstd;
    }
  }
}

/// dw and db: a thread per feature, summing over rows in order.
__global__ void layerNormGradParamsKernel(const float *x, const float *dy, const float *stats,
                                          float *dw, float *db, i64 rows, i64 d) {
  RA_GRID_STRIDE(i, d) {
    float sw = 0.f, sb = 0.f;
    for (i64 r = 0; r < rows; ++r) {
      float g = dy[r * d + i];
      sw += g * (x[r * d + i] - stats[2 * r]) * stats[2 * r + 1];
      sb += g;
    }
    dw[i] = sw;
    db[i] = sb;
  }
}

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
    float mx = -FLT_MAX;
    for (i64 i = threadIdx.x; i < v; i += blockDim.x)
      mx = l[i] > mx ? l[i] : mx;
    mx = blockReduce<Combine::Max>(mx, -FLT_MAX);
    float sum = 0.f;
    for (i64 i = threadIdx.x; i < v; i += blockDim.x)
      sum += expf(l[i] - mx);
    sum = blockReduce<Combine::Sum>(sum, 0.f);
    if (threadIdx.x == 0)
      terms[row] = mx + logf(sum) - l[targets[row]];
  }
}

__global__ void meanKernel(const float *terms, float *out, i64 n) {
  float s = 0.f;
  for (i64 i = threadIdx.x; i < n; i += blockDim.x)
    s += terms[i];
  s = blockReduce<Combine::Sum>(s, 0.f);
  if (threadIdx.x == 0)
    *out = s / float(n);
}

__global__ void crossEntropyGradKernel(const float *logits, const int32_t *targets,
                                       const float *dloss, float *dlogits, i64 rows, i64 v) {
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *l = logits + row * v;
    float *g = dlogits + row * v;
    float mx = -FLT_MAX;
    for (i64 i = threadIdx.x; i < v; i += blockDim.x)
      mx = l[i] > mx ? l[i] : mx;
    mx = blockReduce<Combine::Max>(mx, -FLT_MAX);
    float sum = 0.f;
    for (i64 i = threadIdx.x; i < v; i += blockDim.x)
      sum += expf(l[i] - mx);
    sum = blockReduce<Combine::Sum>(sum, 0.f);
    float scale = *dloss / float(rows);
    for (i64 i = threadIdx.x; i < v; i += blockDim.x)
      g[i] = expf(l[i] - mx) / sum * scale - (i == targets[row] ? scale : 0.f);
  }
}

//===----------------------------------------------------------------------===//
// Attention: a block per (batch, head, query row); the row's probabilities in
// shared memory (keys up to kMaxKeys; the flash-attention fusion lifts this)
//===----------------------------------------------------------------------===//

constexpr int kMaxKeys = 2048;

struct AttentionShape {
  i64 b, h, tq, tk, e, dv;
  bool kShared, vShared; // [B, T, .] shared by every head (MLA latents)
  float scale;
  bool causal;
  bool reciprocal;
  i64 band; // < 0: the whole causal triangle
};

__device__ __forceinline__ float dot(const float *a, const float *b, i64 n) {
  float s = 0.f;
  for (i64 c = 0; c < n; ++c)
    s += a[c] * b[c];
  return s;
}

__global__ void attentionKernel(AttentionShape s, const float *q, const float *k, const float *v,
                                const float *alpha, float *out) {
  RA_SHARED(float, p, kMaxKeys);
  for (i64 r = blockIdx.x; r < s.b * s.h * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bh = r / s.tq, bb = bh / s.h;
    const float *qh = q + bh * s.tq * s.e;
    const float *kh = k + (s.kShared ? bb : bh) * s.tk * s.e;
    const float *vh = v + (s.vShared ? bb : bh) * s.tk * s.dv;
    i64 last = s.causal ? (i < s.tk - 1 ? i : s.tk - 1) : s.tk - 1;
    float a = alpha ? *alpha : 0.f, mx = -FLT_MAX;
    for (i64 j = threadIdx.x; j <= last; j += blockDim.x) {
      float score = s.scale * dot(qh + i * s.e, kh + j * s.e, s.e);
      if (s.reciprocal && j <= i && (s.band < 0 || i - j <= s.band))
        score += a * s.scale * dot(qh + j * s.e, kh + i * s.e, s.e); // S[j, i]
      p[j] = score;
      mx = score > mx ? score : mx;
    }
    mx = blockReduce<Combine::Max>(mx, -FLT_MAX);
    float sum = 0.f;
    for (i64 j = threadIdx.x; j <= last; j += blockDim.x) {
      float e = expf(float(p[j]) - mx);
      p[j] = e;
      sum += e;
    }
    sum = blockReduce<Combine::Sum>(sum, 0.f); // its barriers also publish p
    float *o = out + r * s.dv;
    for (i64 c = threadIdx.x; c < s.dv; c += blockDim.x) {
      float acc = 0.f;
      for (i64 j = 0; j <= last; ++j)
        acc += float(p[j]) * vh[j * s.dv + c];
      o[c] = acc / sum;
    }
    __syncthreads(); // p is read by all before the next row overwrites it
  }
}

//===----------------------------------------------------------------------===//
// More launchers
//===----------------------------------------------------------------------===//

inline unsigned rowsGrid(i64 rows) { return unsigned(rows < 65535 ? rows : 65535); }

/// `stats` is scratch of 2 * rows floats.
inline void layerNormGrad(const float *x, const float *w, const float *dy, float *dx, float *dw,
                          float *db, i64 rows, i64 d, float eps, float *stats) {
  RA_LAUNCH(layerNormGradRowsKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, x, w, dy, dx, stats,
            rows, d, eps);
  RA_LAUNCH(layerNormGradParamsKernel, dim3(gridFor(d)), dim3(kThreads), 0, x, dy,
            (const float *)stats, dw, db, rows, d);
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
  RA_LAUNCH(meanKernel, dim3(1), dim3(kThreads), 0, (const float *)terms, loss, rows);
}

inline void crossEntropyGrad(const float *logits, const int32_t *targets, const float *dloss,
                             float *dlogits, i64 rows, i64 v) {
  RA_LAUNCH(crossEntropyGradKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, logits, targets, dloss,
            dlogits, rows, v);
}

inline void attention(const AttentionShape &s, const float *q, const float *k, const float *v,
                      const float *alpha, float *out) {
  RA_LAUNCH(attentionKernel, dim3(rowsGrid(s.b * s.h * s.tq)), dim3(kThreads), 0, s, q, k, v, alpha,
            out);
}

} // namespace ra_cuda

#endif // RA_CUDA_KERNELS_CUH
