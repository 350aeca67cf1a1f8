//===- ra_cuda_layernorm.cuh - layer normalization and its backward --*- C++ -*-===//
//
// A block per row forward; backward dx per row and dw, db a thread per feature
// summing rows in order (bit-identical run to run), the rows' statistics in
// scratch.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_LAYERNORM_CUH
#define RA_CUDA_LAYERNORM_CUH

#include "ra_cuda_common.cuh"

namespace ra_cuda {

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

inline void layerNorm(const float *x, const float *w, const float *b, float *out, i64 rows, i64 d,
                      float eps) {
  RA_LAUNCH(layerNormKernel, dim3(unsigned(rows < 65535 ? rows : 65535)), dim3(kThreads), 0, x, w,
            b, out, rows, d, eps);
}

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

/// `stats` is scratch of 2 * rows floats.
inline void layerNormGrad(const float *x, const float *w, const float *dy, float *dx, float *dw,
                          float *db, i64 rows, i64 d, float eps, float *stats) {
  RA_LAUNCH(layerNormGradRowsKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, x, w, dy, dx, stats,
            rows, d, eps);
  RA_LAUNCH(layerNormGradParamsKernel, dim3(gridFor(d)), dim3(kThreads), 0, x, dy,
            (const float *)stats, dw, db, rows, d);
}

} // namespace ra_cuda

#endif // RA_CUDA_LAYERNORM_CUH
