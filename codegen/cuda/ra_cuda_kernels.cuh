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

} // namespace ra_cuda

#endif // RA_CUDA_KERNELS_CUH
