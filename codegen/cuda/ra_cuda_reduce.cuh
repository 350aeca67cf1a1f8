//===- ra_cuda_reduce.cuh - reductions, causal mean and softmax --*- C++ -*-===//
//
// Row reductions by a block per row, strided ones by a thread per output, the
// running mean along an axis, and softmax over the last axis.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_REDUCE_CUH
#define RA_CUDA_REDUCE_CUH

#include "ra_cuda_common.cuh"

namespace ra_cuda {

enum class Reduce { Sum, Mean, Max };

/// A block per output row when the reduced axis is innermost; else a thread
/// per output, looping over the axis (still coalesced across threads).
/// bf16: each value rounded to bfloat16 first (a bias gradient in a bf16
/// build, ra::sumRoundsToBf16).
template <Reduce kind>
__global__ void reduceRowsKernel(const float *x, float *out, i64 rows, i64 n, bool bf16) {
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    float acc = kind == Reduce::Max ? -FLT_MAX : 0.f;
    for (i64 t = threadIdx.x; t < n; t += blockDim.x) {
      float v = x[row * n + t];
      v = bf16 ? ra_dtype::roundTo(v, ra_dtype::Dtype::BF16) : v;
      acc = kind == Reduce::Max ? (acc > v ? acc : v) : acc + v;
    }
    acc = kind == Reduce::Max ? blockReduce<Combine::Max>(acc, -FLT_MAX)
                              : blockReduce<Combine::Sum>(acc, 0.f);
    if (threadIdx.x == 0)
      out[row] = kind == Reduce::Mean ? acc / float(n) : acc;
  }
}

template <Reduce kind>
__global__ void reduceStridedKernel(const float *x, float *out, i64 outer, i64 n, i64 inner,
                                    bool bf16) {
  RA_GRID_STRIDE(j, outer * inner) {
    i64 o = j / inner, i = j % inner;
    float acc = kind == Reduce::Max ? -FLT_MAX : 0.f;
    for (i64 t = 0; t < n; ++t) {
      float v = x[(o * n + t) * inner + i];
      v = bf16 ? ra_dtype::roundTo(v, ra_dtype::Dtype::BF16) : v;
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

template <Reduce kind>
void reduce(const float *x, float *out, i64 outer, i64 n, i64 inner, bool bf16 = false) {
  if (inner == 1)
    RA_LAUNCH(reduceRowsKernel<kind>, dim3(unsigned(outer < 65535 ? outer : 65535)), dim3(kThreads),
              0, x, out, outer, n, bf16);
  else
    RA_LAUNCH(reduceStridedKernel<kind>, dim3(gridFor(outer * inner)), dim3(kThreads), 0, x, out,
              outer, n, inner, bf16);
}

inline void causalMean(const float *x, float *out, i64 outer, i64 n, i64 inner, bool grad) {
  RA_LAUNCH(causalMeanKernel, dim3(gridFor(outer * inner)), dim3(kThreads), 0, x, out, outer, n,
            inner, grad);
}

inline void softmax(const float *x, float *out, i64 rows, i64 d) {
  RA_LAUNCH(softmaxKernel, dim3(unsigned(rows < 65535 ? rows : 65535)), dim3(kThreads), 0, x, out,
            rows, d);
}

} // namespace ra_cuda

#endif // RA_CUDA_REDUCE_CUH
