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

#include <cfloat>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

// Every launch goes on the device layer's stream and is checked after it
// (ra_cuda_device.cuh defines both; a kernel test may define its own).
#define RA_STREAM ra_cuda_stream()
#define RA_AFTER_LAUNCH(name) ::ra_cuda::afterLaunch(name)
#undef RA_PROFILE_SYNC // a test may include the CPU kernels first
#define RA_PROFILE_SYNC() cudaStreamSynchronize(ra_cuda_stream())

#include "ra_attention_shape.h"
#include "ra_elementwise.h"
#include "ra_simt.h"

#ifdef __CUDACC__
#include <cublas_v2.h>
/// The device layer's cuBLAS handle, on its stream.
cublasHandle_t ra_cublas_handle();
#else
#include <cblas.h>
#endif
/// The device layer's stream.
cudaStream_t ra_cuda_stream();

#include "ra_profile.h" // after the stream it waits for

namespace ra_cuda {

//===----------------------------------------------------------------------===//
// Failures: the first failing launch or library call, by name
//===----------------------------------------------------------------------===//

/// The first failure since the last report: which kernel or library call,
/// and CUDA's message. Launches are asynchronous, so a kernel that faults
/// while running is seen at the next synchronization unless every launch
/// synchronizes (`syncEachKernel`, rarun --sync-kernels).
struct Failure {
  const char *what = nullptr;
  char message[256] = {0};
};
inline Failure &failure() {
  static Failure f;
  return f;
}
inline bool &syncEachKernel() {
  static bool on = false;
  return on;
}
inline bool failed() { return failure().what != nullptr; }
inline void fail(const char *what, const char *message) {
  if (failed())
    return;
  failure().what = what;
  std::snprintf(failure().message, sizeof failure().message, "%s", message);
}
inline void afterLaunch(const char *kernel) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess && syncEachKernel())
    e = cudaStreamSynchronize(ra_cuda_stream());
  if (e != cudaSuccess)
    fail(kernel, cudaGetErrorString(e));
}
/// Writes the failure, at the graph op `origin`, to `error`; clears it.
inline int report(char *error, int64_t errorSize, const char *origin) {
  std::snprintf(error, size_t(errorSize), "CUDA error in %s (for %s): %s", failure().what, origin,
                failure().message);
  failure() = Failure();
  return 1;
}

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

/// The max of a row and the sum of exp(x - max) over it, by the whole block:
/// what softmax and cross-entropy need.
struct RowStats {
  float max, sum;
};

__device__ RowStats rowStats(const float *x, i64 d) {
  float mx = -FLT_MAX;
  for (i64 i = threadIdx.x; i < d; i += blockDim.x)
    mx = x[i] > mx ? x[i] : mx;
  mx = blockReduce<Combine::Max>(mx, -FLT_MAX);
  float sum = 0.f;
  for (i64 i = threadIdx.x; i < d; i += blockDim.x)
    sum += expf(x[i] - mx);
  return {mx, blockReduce<Combine::Sum>(sum, 0.f)};
}

__global__ void softmaxKernel(const float *x, float *out, i64 rows, i64 d) {
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *xr = x + row * d;
    RowStats st = rowStats(xr, d);
    for (i64 i = threadIdx.x; i < d; i += blockDim.x)
      out[row * d + i] = expf(xr[i] - st.max) / st.sum;
  }
}

/// A row's mean and 1 / sqrt(variance + eps), by the whole block.
struct RowMoments {
  float mean, rstd;
};

__device__ RowMoments rowMoments(const float *xr, i64 d, float eps) {
  float s = 0.f;
  for (i64 i = threadIdx.x; i < d; i += blockDim.x)
    s += xr[i];
  float mean = blockReduce<Combine::Sum>(s, 0.f) / float(d);
  float v = 0.f;
  for (i64 i = threadIdx.x; i < d; i += blockDim.x)
    v += (xr[i] - mean) * (xr[i] - mean);
  return {mean, rsqrtf(blockReduce<Combine::Sum>(v, 0.f) / float(d) + eps)};
}

__global__ void layerNormKernel(const float *x, const float *w, const float *b, float *out,
                                i64 rows, i64 d, float eps) {
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    const float *xr = x + row * d;
    RowMoments st = rowMoments(xr, d, eps);
    float mean = st.mean, rstd = st.rstd;
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
    RowMoments st = rowMoments(xr, d, eps);
    float mean = st.mean, rstd = st.rstd;
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
    RowStats st = rowStats(l, v);
    if (threadIdx.x == 0)
      terms[row] = st.max + logf(st.sum) - l[targets[row]];
  }
}

/// out = scale * sum(x), by one block, in a fixed order.
__global__ void scaledSumKernel(const float *x, float *out, i64 n, float scale) {
  float s = 0.f;
  for (i64 i = threadIdx.x; i < n; i += blockDim.x)
    s += x[i];
  s = blockReduce<Combine::Sum>(s, 0.f);
  if (threadIdx.x == 0)
    *out = s * scale;
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

//===----------------------------------------------------------------------===//
// Attention: a block per (batch, head, query row). The row's keys are walked
// in chunks of kKeyChunk, a chunk of probabilities at a time in shared
// memory, so any sequence length fits and no [Tq, Tk] matrix is stored.
//===----------------------------------------------------------------------===//

constexpr int kKeyChunk = 1024;

using ra_attention::AttentionShape;

__device__ __forceinline__ float dot(const float *a, const float *b, i64 n) {
  float s = 0.f;
  for (i64 c = 0; c < n; ++c)
    s += a[c] * b[c];
  return s;
}

__device__ __forceinline__ i64 lastKey(const AttentionShape &s, i64 i) {
  return s.causal ? (i < s.tk - 1 ? i : s.tk - 1) : s.tk - 1;
}

/// S_ra[i, j] of head (b, h): scale q_i . k_j, plus alpha scale q_j . k_i
/// where RA's reciprocal term applies.
__device__ __forceinline__ float scoreRa(const AttentionShape &s, const float *q, const float *k,
                                         float a, i64 b, i64 h, i64 i, i64 j) {
  const float *qh = q + s.qAt(b, h), *kh = k + s.kAt(b, h);
  float score = s.scale * dot(qh + i * s.e, kh + j * s.e, s.e);
  if (s.reciprocalAt(i, j))
    score += a * s.scale * dot(qh + j * s.e, kh + i * s.e, s.e);
  return score;
}

/// With `lse`, each row's log-sum-exp too (flash_attention); with `gated`,
/// also the row times its `gate` (gated_flash_attention's epilogue). A row
/// that fits one chunk keeps its scores from the first pass; a longer one
/// computes them again in the second.
__global__ void attentionKernel(AttentionShape s, const float *q, const float *k, const float *v,
                                const float *alpha, float *out, float *lse, const float *gate,
                                float *gated) {
  RA_SHARED(float, p, kKeyChunk);
  float a = alpha ? *alpha : 0.f;
  for (i64 r = blockIdx.x; r < s.b * s.h * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bh = r / s.tq, bb = bh / s.h, hh = bh % s.h;
    const float *vh = v + s.vAt(bb, hh);
    i64 last = lastKey(s, i);
    bool fits = last < kKeyChunk;
    // Pass 1: the row's max and sum, online per thread, merged over the block.
    float mx = -FLT_MAX, sum = 0.f;
    for (i64 j = threadIdx.x; j <= last; j += blockDim.x) {
      float score = scoreRa(s, q, k, a, bb, hh, i, j);
      if (fits)
        p[j] = score;
      if (score > mx) {
        sum = sum * expf(mx - score) + 1.f;
        mx = score;
      } else {
        sum += expf(score - mx);
      }
    }
    float rowMax = blockReduce<Combine::Max>(mx, -FLT_MAX);
    float rowSum = blockReduce<Combine::Sum>(sum * expf(mx - rowMax), 0.f);
    float rowLse = rowMax + logf(rowSum);
    // Pass 2: P a chunk at a time, then that chunk's share of the output.
    float *o = out + r * s.dv;
    for (i64 j0 = 0; j0 <= last; j0 += kKeyChunk) {
      i64 n = last + 1 - j0 < kKeyChunk ? last + 1 - j0 : kKeyChunk;
      for (i64 jj = threadIdx.x; jj < n; jj += blockDim.x)
        p[jj] = expf((fits ? float(p[jj]) : scoreRa(s, q, k, a, bb, hh, i, j0 + jj)) - rowLse);
      __syncthreads();
      for (i64 c = threadIdx.x; c < s.dv; c += blockDim.x) {
        float acc = 0.f;
        for (i64 jj = 0; jj < n; ++jj)
          acc += float(p[jj]) * vh[(j0 + jj) * s.dv + c];
        o[c] = j0 ? o[c] + acc : acc;
      }
      __syncthreads(); // p is read by all before the next chunk or row overwrites it
    }
    for (i64 c = threadIdx.x; gated && c < s.dv; c += blockDim.x)
      gated[r * s.dv + c] = o[c] * gate[r];
    if (lse && threadIdx.x == 0)
      lse[r] = rowLse;
  }
}

//===----------------------------------------------------------------------===//
// Flash attention backward: no [Tq, Tk] matrix in device memory. P and dS_ra
// are recomputed where they are needed from lse and each row's D; a block
// owns a query row (dq) or a key row (dk, dv) of every head that reads it,
// so there are no atomics and sums run in a fixed order.
//===----------------------------------------------------------------------===//

/// What recomputes an entry of P or dS_ra: P = exp(S_ra - lse); dP = dy_i . v_j,
/// or for head_mean_attention_grad dpbar[b, i, j] / H (every head's); D =
/// delta[row].
struct FlashGrad {
  AttentionShape s;
  const float *q, *k, *v, *alpha, *dy, *lse, *delta, *dpbar;
  float a = 0.f; // *alpha, read by each kernel on the device

  __device__ void readAlpha() { a = alpha ? *alpha : 0.f; }

  __device__ float prob(i64 b, i64 h, i64 i, i64 j) const {
    if (j > lastKey(s, i))
      return 0.f;
    return expf(scoreRa(s, q, k, a, b, h, i, j) - lse[(b * s.h + h) * s.tq + i]);
  }
  __device__ float dp(i64 b, i64 h, i64 i, i64 j) const {
    if (dpbar)
      return dpbar[(b * s.tq + i) * s.tk + j] / float(s.h);
    return dot(dy + ((b * s.h + h) * s.tq + i) * s.dv, v + s.vAt(b, h) + j * s.dv, s.dv);
  }
  /// dS_ra[i, j], 0 where key j is masked for query i.
  __device__ float dsRa(i64 b, i64 h, i64 i, i64 j) const {
    float pij = prob(b, h, i, j);
    return pij == 0.f ? 0.f : pij * (dp(b, h, i, j) - delta[(b * s.h + h) * s.tq + i]);
  }
  /// The gradient of S[i, j]: directly, and through RA's term of row j.
  __device__ float ds(i64 b, i64 h, i64 i, i64 j) const {
    float d = dsRa(b, h, i, j);
    if (s.reciprocalAt(j, i))
      d += a * dsRa(b, h, j, i);
    return d;
  }
};

/// D per row: rowsum(dy * y), or with dpbar rowsum(P dP).
__global__ void flashGradDeltaKernel(FlashGrad g, const float *y, float *delta) {
  g.readAlpha();
  const AttentionShape &s = g.s;
  for (i64 r = blockIdx.x; r < s.b * s.h * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bh = r / s.tq, bb = bh / s.h, hh = bh % s.h;
    float part = 0.f;
    if (g.dpbar)
      for (i64 j = threadIdx.x; j <= lastKey(s, i); j += blockDim.x)
        part += g.prob(bb, hh, i, j) * g.dp(bb, hh, i, j);
    else
      for (i64 c = threadIdx.x; c < s.dv; c += blockDim.x)
        part += g.dy[r * s.dv + c] * y[r * s.dv + c];
    part = blockReduce<Combine::Sum>(part, 0.f);
    if (threadIdx.x == 0)
      delta[r] = part;
  }
}

/// A block per query row: dq = scale sum_j dS[i, j] k_j over the keys with
/// a share (j <= last, or RA's row j reaching back to key i), a chunk of dS
/// at a time in shared memory; and the row's d alpha.
__global__ void flashGradQueryKernel(FlashGrad g, float *dq, float *alphaParts) {
  RA_SHARED(float, ds, kKeyChunk);
  g.readAlpha();
  const AttentionShape &s = g.s;
  for (i64 r = blockIdx.x; r < s.b * s.h * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bh = r / s.tq, bb = bh / s.h, hh = bh % s.h;
    i64 last = lastKey(s, i), end = last + 1;
    if (s.reciprocal)
      end = s.band < 0 || i + s.band + 1 > s.tk ? s.tk
                                                : (i + s.band + 1 > end ? i + s.band + 1 : end);
    const float *kh = g.k + s.kAt(bb, hh), *qh = g.q + s.qAt(bb, hh);
    float da = 0.f;
    for (i64 c = threadIdx.x; c < s.e; c += blockDim.x)
      dq[r * s.e + c] = 0.f;
    for (i64 j0 = 0; j0 < end; j0 += kKeyChunk) {
      i64 n = end - j0 < kKeyChunk ? end - j0 : kKeyChunk;
      for (i64 jj = threadIdx.x; jj < n; jj += blockDim.x) {
        i64 j = j0 + jj;
        float direct = g.dsRa(bb, hh, i, j), d = direct;
        if (s.reciprocalAt(j, i))
          d += g.a * g.dsRa(bb, hh, j, i);
        if (s.reciprocalAt(i, j)) // alpha's share: dS_ra[i, j] S[j, i]
          da += direct * s.scale * dot(qh + j * s.e, kh + i * s.e, s.e);
        ds[jj] = d;
      }
      __syncthreads();
      for (i64 c = threadIdx.x; c < s.e; c += blockDim.x) {
        float acc = 0.f;
        for (i64 jj = 0; jj < n; ++jj)
          acc += float(ds[jj]) * kh[(j0 + jj) * s.e + c];
        dq[r * s.e + c] += s.scale * acc;
      }
      __syncthreads();
    }
    da = blockReduce<Combine::Sum>(da, 0.f);
    if (alphaParts && threadIdx.x == 0)
      alphaParts[r] = da;
  }
}

/// The first query row that can give key j a gradient: causal rows start at
/// j, and RA's row j reaches back to the keys (queries) `band` before it.
__device__ __forceinline__ i64 firstQuery(const AttentionShape &s, i64 j) {
  i64 first = s.causal ? j : 0;
  if (s.reciprocal) {
    i64 back = s.band < 0 ? 0 : (j - s.band > 0 ? j - s.band : 0);
    first = back < first ? back : first;
  }
  return first;
}

/// A block per key row of k (dk = scale sum_i dS[i, j] q_i) or, with
/// `value`, of v (dv = sum_i P[i, j] dy_i), over every head that reads it,
/// in head order; a chunk of a column of dS or P at a time in shared memory.
__global__ void flashGradKeyKernel(FlashGrad g, bool value, float *out) {
  RA_SHARED(float, col, kKeyChunk);
  g.readAlpha();
  const AttentionShape &s = g.s;
  bool shared = value ? s.vShared : s.kShared;
  i64 groups = shared ? 1 : s.h, width = value ? s.dv : s.e;
  for (i64 r = blockIdx.x; r < s.b * groups * s.tk; r += gridDim.x) {
    i64 j = r % s.tk, bg = r / s.tk, bb = bg / groups;
    i64 h0 = shared ? 0 : bg % groups, h1 = shared ? s.h : h0 + 1;
    i64 first = value ? (s.causal ? j : 0) : firstQuery(s, j);
    for (i64 c = threadIdx.x; c < width; c += blockDim.x)
      out[r * width + c] = 0.f;
    for (i64 hh = h0; hh < h1; ++hh) {
      const float *rows = value ? g.dy + (bb * s.h + hh) * s.tq * s.dv : g.q + s.qAt(bb, hh);
      for (i64 i0 = first; i0 < s.tq; i0 += kKeyChunk) {
        i64 n = s.tq - i0 < kKeyChunk ? s.tq - i0 : kKeyChunk;
        for (i64 ii = threadIdx.x; ii < n; ii += blockDim.x)
          col[ii] = value ? g.prob(bb, hh, i0 + ii, j) : s.scale * g.ds(bb, hh, i0 + ii, j);
        __syncthreads();
        for (i64 c = threadIdx.x; c < width; c += blockDim.x) {
          float acc = 0.f;
          for (i64 ii = 0; ii < n; ++ii)
            acc += float(col[ii]) * rows[(i0 + ii) * width + c];
          out[r * width + c] += acc;
        }
        __syncthreads();
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// More launchers
//===----------------------------------------------------------------------===//

/// A device-to-device copy on the stream (host memory under the emulator).
inline void copy(void *dst, const void *src, size_t bytes) {
  if (cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, RA_STREAM))
    fail("cudaMemcpyAsync (device to device)", cudaGetErrorString(e));
}

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

inline void attention(const AttentionShape &s, const float *q, const float *k, const float *v,
                      const float *alpha, float *out) {
  RA_LAUNCH(attentionKernel, dim3(rowsGrid(s.b * s.h * s.tq)), dim3(kThreads), 0, s, q, k, v, alpha,
            out, (float *)nullptr, (const float *)nullptr, (float *)nullptr);
}

/// flash_attention: the row kernel also keeps each row's log-sum-exp.
inline void flashAttention(const AttentionShape &s, const float *q, const float *k, const float *v,
                           const float *alpha, float *out, float *lse, const float *gate = nullptr,
                           float *gated = nullptr) {
  RA_LAUNCH(attentionKernel, dim3(rowsGrid(s.b * s.h * s.tq)), dim3(kThreads), 0, s, q, k, v, alpha,
            out, lse, gate, gated);
}

//===----------------------------------------------------------------------===//
// Attention backward, without atomics: (1) per query row, the probabilities
// P and dS_ra = P (dP - rowsum(P dP)) into scratch, d alpha per row; (2) per
// query row, dq from dS = dS_ra + alpha dS_ra^T (where the RA term applies);
// (3) per key row (summing heads that share it), dk and dv; (4) d alpha.
//===----------------------------------------------------------------------===//

__global__ void attentionGradRowsKernel(AttentionShape s, const float *q, const float *k,
                                        const float *v, const float *alpha, const float *dy,
                                        float *probs, float *dsra, float *alphaParts) {
  for (i64 r = blockIdx.x; r < s.b * s.h * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bh = r / s.tq, bb = bh / s.h, hh = bh % s.h;
    const float *qh = q + s.qAt(bb, hh), *kh = k + s.kAt(bb, hh), *vh = v + s.vAt(bb, hh);
    const float *g = dy + r * s.dv;
    float *p = probs + r * s.tk, *ds = dsra + r * s.tk;
    i64 last = lastKey(s, i);
    float a = alpha ? *alpha : 0.f, mx = -FLT_MAX;
    for (i64 j = threadIdx.x; j < s.tk; j += blockDim.x) {
      float score = j <= last ? scoreRa(s, q, k, a, bb, hh, i, j) : -FLT_MAX;
      p[j] = score;
      mx = score > mx ? score : mx;
    }
    mx = blockReduce<Combine::Max>(mx, -FLT_MAX);
    float sum = 0.f;
    for (i64 j = threadIdx.x; j < s.tk; j += blockDim.x) {
      float e = j <= last ? expf(p[j] - mx) : 0.f;
      p[j] = e;
      sum += e;
    }
    sum = blockReduce<Combine::Sum>(sum, 0.f);
    float dotPdP = 0.f;
    for (i64 j = threadIdx.x; j < s.tk; j += blockDim.x) {
      p[j] /= sum;
      float dp = j <= last ? dot(g, vh + j * s.dv, s.dv) : 0.f;
      ds[j] = dp;
      dotPdP += p[j] * dp;
    }
    dotPdP = blockReduce<Combine::Sum>(dotPdP, 0.f);
    float da = 0.f;
    for (i64 j = threadIdx.x; j < s.tk; j += blockDim.x) {
      ds[j] = p[j] * (ds[j] - dotPdP);
      if (s.reciprocalAt(i, j))
        da += ds[j] * s.scale * dot(qh + j * s.e, kh + i * s.e, s.e);
    }
    da = blockReduce<Combine::Sum>(da, 0.f);
    if (threadIdx.x == 0)
      alphaParts[r] = da;
  }
}

/// dS[i, j] = dS_ra[i, j] + alpha dS_ra[j, i] where RA links (row j, key i).
__device__ __forceinline__ float fullDs(const AttentionShape &s, const float *dsraHead, float a,
                                        i64 i, i64 j) {
  float d = dsraHead[i * s.tk + j];
  if (s.reciprocalAt(j, i))
    d += a * dsraHead[j * s.tk + i];
  return d;
}

__global__ void attentionGradQueryKernel(AttentionShape s, const float *k, const float *alpha,
                                         const float *dsra, float *dq) {
  float a = alpha ? *alpha : 0.f;
  RA_GRID_STRIDE(x, s.b * s.h * s.tq * s.e) {
    i64 c = x % s.e, r = x / s.e, i = r % s.tq, bh = r / s.tq;
    const float *kh = k + s.kAt(bh / s.h, bh % s.h);
    const float *dsh = dsra + bh * s.tq * s.tk;
    float acc = 0.f;
    for (i64 j = 0; j < s.tk; ++j)
      acc += fullDs(s, dsh, a, i, j) * kh[j * s.e + c];
    dq[x] = s.scale * acc;
  }
}

/// A thread per (key row, feature): dk = scale sum_i dS[i, j] q_i and
/// dv = sum_i P[i, j] dy_i, over every head that uses this key row.
__global__ void attentionGradKeyKernel(AttentionShape s, const float *q, const float *alpha,
                                       const float *dy, const float *probs, const float *dsra,
                                       float *dk, float *dv) {
  float a = alpha ? *alpha : 0.f;
  i64 kHeads = s.kShared ? 1 : s.h, vHeads = s.vShared ? 1 : s.h;
  RA_GRID_STRIDE(x, s.b * kHeads * s.tk * s.e) {
    i64 c = x % s.e, j = (x / s.e) % s.tk, bk = x / (s.e * s.tk);
    i64 bb = bk / kHeads, h0 = s.kShared ? 0 : bk % kHeads, h1 = s.kShared ? s.h : h0 + 1;
    float acc = 0.f;
    for (i64 h = h0; h < h1; ++h) {
      i64 bh = bb * s.h + h;
      for (i64 i = 0; i < s.tq; ++i)
        acc += fullDs(s, dsra + bh * s.tq * s.tk, a, i, j) * q[(bh * s.tq + i) * s.e + c];
    }
    dk[x] = s.scale * acc;
  }
  RA_GRID_STRIDE(x, s.b * vHeads * s.tk * s.dv) {
    i64 c = x % s.dv, j = (x / s.dv) % s.tk, bv = x / (s.dv * s.tk);
    i64 bb = bv / vHeads, h0 = s.vShared ? 0 : bv % vHeads, h1 = s.vShared ? s.h : h0 + 1;
    float acc = 0.f;
    for (i64 h = h0; h < h1; ++h) {
      i64 bh = bb * s.h + h;
      for (i64 i = 0; i < s.tq; ++i)
        acc += probs[(bh * s.tq + i) * s.tk + j] * dy[(bh * s.tq + i) * s.dv + c];
    }
    dv[x] = acc;
  }
}

/// C[b] = op(A[b]) op(B[b]) for each of `batch` products, row-major;
/// aOff/bOff give each operand's matrix per batch entry (host arrays).
/// cuBLAS is column-major: C^T = op(B)^T op(A)^T, so the operands swap.
/// The stride of offsets that step evenly (off[i] = off[0] + i * stride),
/// or -1: such a batch is one strided-batched cuBLAS call.
inline i64 evenStride(const i64 *off, i64 batch) {
  i64 stride = batch > 1 ? off[1] - off[0] : 0;
  for (i64 i = 2; i < batch; ++i)
    if (off[i] - off[i - 1] != stride)
      return -1;
  return stride;
}

inline void gemm(const float *a, const float *b, float *c, i64 batch, const i64 *aOff,
                 const i64 *bOff, i64 m, i64 n, i64 k, bool ta, bool tb) {
#ifdef __CUDACC__
  if (i64 sa = evenStride(aOff, batch), sb = evenStride(bOff, batch);
      batch > 1 && sa >= 0 && sb >= 0) {
    const float one = 1.f, zero = 0.f;
    cublasStatus_t status = cublasSgemmStridedBatched(
        ra_cublas_handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n),
        int(m), int(k), &one, b + bOff[0] * k * n, int(tb ? k : n), sb * k * n, a + aOff[0] * m * k,
        int(ta ? m : k), sa * m * k, &zero, c, int(n), m * n, int(batch));
    if (status != CUBLAS_STATUS_SUCCESS)
      fail("cublasSgemmStridedBatched", cublasGetStatusString(status));
    return;
  }
#endif
  for (i64 i = 0; i < batch; ++i) {
#ifdef __CUDACC__
    const float one = 1.f, zero = 0.f;
    cublasStatus_t status = cublasSgemm(
        ra_cublas_handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n),
        int(m), int(k), &one, b + bOff[i] * k * n, int(tb ? k : n), a + aOff[i] * m * k,
        int(ta ? m : k), &zero, c + i * m * n, int(n));
    if (status != CUBLAS_STATUS_SUCCESS)
      fail("cublasSgemm", cublasGetStatusString(status));
#else // the emulator's device memory is host memory
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                int(m), int(n), int(k), 1.f, a + aOff[i] * m * k, int(ta ? m : k),
                b + bOff[i] * k * n, int(tb ? k : n), 0.f, c + i * m * n, int(n));
#endif
  }
}

inline void attentionGrad(const AttentionShape &s, const float *q, const float *k, const float *v,
                          const float *alpha, const float *dy, float *dq, float *dk, float *dv,
                          float *dalpha, float *scratch) {
  i64 rows = s.b * s.h * s.tq;
  float *probs = scratch, *dsra = scratch + rows * s.tk, *parts = dsra + rows * s.tk;
  RA_LAUNCH(attentionGradRowsKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, s, q, k, v, alpha, dy,
            probs, dsra, parts);
  RA_LAUNCH(attentionGradQueryKernel, dim3(gridFor(rows * s.e)), dim3(kThreads), 0, s, k, alpha,
            (const float *)dsra, dq);
  i64 keyWork = s.b * (s.kShared ? 1 : s.h) * s.tk * (s.e > s.dv ? s.e : s.dv);
  RA_LAUNCH(attentionGradKeyKernel, dim3(gridFor(keyWork)), dim3(kThreads), 0, s, q, alpha, dy,
            (const float *)probs, (const float *)dsra, dk, dv);
  if (dalpha)
    RA_LAUNCH(scaledSumKernel, dim3(1), dim3(kThreads), 0, (const float *)parts, dalpha, rows, 1.f);
}

/// The gate's backward, a block per row: scaled = dy * gate, dgate =
/// rowsum(dy * y).
__global__ void gateGradKernel(i64 rows, i64 dv, const float *dy, const float *y, const float *gate,
                               float *scaled, float *dgate) {
  for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
    float part = 0.f;
    for (i64 c = threadIdx.x; c < dv; c += blockDim.x) {
      part += dy[r * dv + c] * y[r * dv + c];
      scaled[r * dv + c] = dy[r * dv + c] * gate[r];
    }
    part = blockReduce<Combine::Sum>(part, 0.f);
    if (threadIdx.x == 0)
      dgate[r] = part;
  }
}

/// dq, dk, dv and d alpha from FlashGrad's recomputation; `y` gives D.
inline void flashGradLaunch(const FlashGrad &g, const float *y, float *dq, float *dk, float *dv,
                            float *dalpha, float *delta, float *parts) {
  const AttentionShape &s = g.s;
  i64 rows = s.b * s.h * s.tq;
  RA_LAUNCH(flashGradDeltaKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, g, y, delta);
  RA_LAUNCH(flashGradQueryKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, g, dq,
            dalpha ? parts : (float *)nullptr);
  RA_LAUNCH(flashGradKeyKernel, dim3(rowsGrid(s.b * (s.kShared ? 1 : s.h) * s.tk)), dim3(kThreads),
            0, g, false, dk);
  if (dv)
    RA_LAUNCH(flashGradKeyKernel, dim3(rowsGrid(s.b * (s.vShared ? 1 : s.h) * s.tk)),
              dim3(kThreads), 0, g, true, dv);
  if (dalpha)
    RA_LAUNCH(scaledSumKernel, dim3(1), dim3(kThreads), 0, (const float *)parts, dalpha, rows, 1.f);
}

/// flash_attention_grad on CUDA: P and dS recomputed from `lse` and D =
/// rowsum(dy * y), nothing [Tq, Tk] stored. With `gate`, a row kernel
/// applies the gate's backward first (the scaled dy after D and d alpha in
/// scratch).
inline void flashAttentionGrad(const AttentionShape &s, const float *q, const float *k,
                               const float *v, const float *alpha, const float *y, const float *lse,
                               const float *dy, float *dq, float *dk, float *dv, float *dalpha,
                               float *scratch, const float *gate = nullptr,
                               float *dgate = nullptr) {
  i64 rows = s.b * s.h * s.tq;
  float *delta = scratch, *parts = scratch + rows;
  if (gate) {
    float *scaled = parts + rows;
    RA_LAUNCH(gateGradKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, rows, s.dv, dy, y, gate,
              scaled, dgate);
    dy = scaled;
  }
  flashGradLaunch(FlashGrad{s, q, k, v, alpha, dy, lse, delta, nullptr}, y, dq, dk, dv, dalpha,
                  delta, parts);
}

//===----------------------------------------------------------------------===//
// Head-mean attention (mechanism 2) on the sibling attention's log-sum-exps:
// the probabilities averaged over heads ([B, Tq, Tk] in scratch, H times
// smaller than the per-head ones) meet the shared value in one cuBLAS
// product per batch entry, forwards and backwards.
//===----------------------------------------------------------------------===//

/// A block per (batch, query row): pbar[b, i, j] = mean_h exp(S_h[i, j] -
/// lse_h[i]), 0 for masked keys.
__global__ void headMeanProbsKernel(AttentionShape s, const float *q, const float *k,
                                    const float *alpha, const float *lse, float *pbar) {
  float a = alpha ? *alpha : 0.f, invH = 1.f / float(s.h);
  for (i64 r = blockIdx.x; r < s.b * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bb = r / s.tq, last = lastKey(s, i);
    for (i64 j = threadIdx.x; j < s.tk; j += blockDim.x) {
      float acc = 0.f;
      for (i64 h = 0; j <= last && h < s.h; ++h)
        acc += expf(scoreRa(s, q, k, a, bb, h, i, j) - lse[(bb * s.h + h) * s.tq + i]);
      pbar[r * s.tk + j] = acc * invH;
    }
  }
}

/// One matrix per batch entry: offsets 0, 1, ..., B - 1.
inline std::vector<i64> eachBatch(i64 b) {
  std::vector<i64> off(b);
  for (i64 i = 0; i < b; ++i)
    off[i] = i;
  return off;
}

/// head_mean_attention: out[b] = pbar[b] v[b]. `scratch`: B Tq Tk floats.
inline void headMeanAttention(const AttentionShape &s, const float *q, const float *k,
                              const float *v, const float *alpha, const float *lse, float *out,
                              float *scratch) {
  RA_LAUNCH(headMeanProbsKernel, dim3(rowsGrid(s.b * s.tq)), dim3(kThreads), 0, s, q, k, alpha, lse,
            scratch);
  std::vector<i64> each = eachBatch(s.b);
  gemm(scratch, v, out, s.b, each.data(), each.data(), s.tq, s.dv, s.tk, false, false);
}

/// head_mean_attention_grad: dP = dmean v^T (a product per batch entry), the
/// rows' D = rowsum(P dP / H), dq and dk recomputing P and dS from lse as
/// the flash backward does, and dv = pbar^T dmean (a product per batch
/// entry). `scratch`: D and d alpha per row, then dP and pbar [B, Tq, Tk].
inline void headMeanAttentionGrad(const AttentionShape &s, const float *q, const float *k,
                                  const float *v, const float *alpha, const float *lse,
                                  const float *dmean, float *dq, float *dk, float *dv,
                                  float *dalpha, float *scratch) {
  i64 rows = s.b * s.h * s.tq;
  float *delta = scratch, *parts = delta + rows, *dp = parts + rows, *pbar = dp + s.b * s.tq * s.tk;
  std::vector<i64> each = eachBatch(s.b);
  gemm(dmean, v, dp, s.b, each.data(), each.data(), s.tq, s.tk, s.dv, false, true);
  flashGradLaunch(FlashGrad{s, q, k, v, alpha, nullptr, lse, delta, dp}, nullptr, dq, dk, nullptr,
                  dalpha, delta, parts);
  RA_LAUNCH(headMeanProbsKernel, dim3(rowsGrid(s.b * s.tq)), dim3(kThreads), 0, s, q, k, alpha, lse,
            pbar);
  gemm(pbar, dmean, dv, s.b, each.data(), each.data(), s.tk, s.dv, s.tq, true, false);
}

} // namespace ra_cuda

#endif // RA_CUDA_KERNELS_CUH
