//===- ra_cuda_elementwise.cuh - elementwise kernels ------------*- C++ -*-===//
//
// Elementwise functions of ra_math, fill and iota: grid-stride loops, consecutive
// threads on consecutive elements.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_ELEMENTWISE_CUH
#define RA_CUDA_ELEMENTWISE_CUH

#include "ra_cuda_common.cuh"

namespace ra_cuda {

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

} // namespace ra_cuda

#endif // RA_CUDA_ELEMENTWISE_CUH
