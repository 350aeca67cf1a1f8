//===- ra_cpu_layernorm.h - layer normalization and its backward --*- C++ -*-===//
//
// Row statistics in double; the backward's weight and bias gradients summed
// over rows in order, in parallel over features.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_LAYERNORM_H
#define RA_CPU_LAYERNORM_H

#include "ra_cpu_common.h"

namespace ra_cpu {

/// A row's mean and 1 / sqrt(variance + eps), in double.
struct MeanRstd {
  float mean, rstd;
};

inline MeanRstd meanRstd(const float *xr, i64 d, float eps) {
  double mean = 0, var = 0;
  for (i64 i = 0; i < d; ++i)
    mean += xr[i];
  mean /= d;
  for (i64 i = 0; i < d; ++i)
    var += (xr[i] - mean) * (xr[i] - mean);
  return {float(mean), float(1.0 / std::sqrt(var / d + eps))};
}

inline void layerNorm(const float *__restrict x, const float *__restrict w,
                      const float *__restrict b, float *__restrict out, i64 rows, i64 d,
                      float eps) {
#pragma omp parallel for if (rows * d > kParallelMin)
  for (i64 r = 0; r < rows; ++r) {
    const float *xr = x + r * d;
    MeanRstd st = meanRstd(xr, d, eps);
    for (i64 i = 0; i < d; ++i)
      out[r * d + i] = (xr[i] - st.mean) * st.rstd * w[i] + b[i];
  }
}

/// dx per row; dw and db summed over rows (each feature's rows in order,
/// in double), in parallel over blocks of features.
inline void layerNormGrad(const float *__restrict x, const float *__restrict w,
                          const float *__restrict dy, float *__restrict dx, float *__restrict dw,
                          float *__restrict db, i64 rows, i64 d, float eps) {
  std::vector<float> mean(rows), rstd(rows);
#pragma omp parallel for if (rows * d > kParallelMin)
  for (i64 r = 0; r < rows; ++r) {
    const float *xr = x + r * d, *g = dy + r * d;
    MeanRstd st = meanRstd(xr, d, eps);
    float m = st.mean, rs = st.rstd;
    mean[r] = m;
    rstd[r] = rs;
    double meanG = 0, meanGX = 0;
    for (i64 i = 0; i < d; ++i) {
      float xhat = (xr[i] - m) * rs, gh = g[i] * w[i];
      meanG += gh;
      meanGX += gh * xhat;
    }
    meanG /= d;
    meanGX /= d;
    for (i64 i = 0; i < d; ++i) {
      float xhat = (xr[i] - m) * rs;
      dx[r * d + i] = rs * (g[i] * w[i] - float(meanG) - xhat * float(meanGX));
    }
  }
  const i64 blocks = (d + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for if (rows * d > kParallelMin)
  for (i64 block = 0; block < blocks; ++block) {
    const i64 first = block * kColumnBlock, width = std::min(kColumnBlock, d - first);
    double sw[kColumnBlock] = {}, sb[kColumnBlock] = {};
    for (i64 r = 0; r < rows; ++r) {
      const float *g = dy + r * d + first, *xr = x + r * d + first;
      const float m = mean[r], rs = rstd[r];
#pragma omp simd
      for (i64 i = 0; i < width; ++i) {
        sw[i] += g[i] * (xr[i] - m) * rs;
        sb[i] += g[i];
      }
    }
    for (i64 i = 0; i < width; ++i) {
      dw[first + i] = float(sw[i]);
      db[first + i] = float(sb[i]);
    }
  }
}

} // namespace ra_cpu

#endif // RA_CPU_LAYERNORM_H
