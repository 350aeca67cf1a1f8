//===- ra_cpu_reduce.h - reductions, causal mean and softmax ----*- C++ -*-===//
//
// Sums, means and maxima over an axis, the running mean along one, and softmax
// over the last axis, each accumulated in double.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_REDUCE_H
#define RA_CPU_REDUCE_H

#include "ra_cpu_common.h"

namespace ra_cpu {

enum class Reduce { Sum, Mean, Max };

/// x [outer, n, inner] reduced over n. Every output element accumulates its
/// n values in order, in double, whatever the layout (so the result does not
/// depend on it). Over the last axis (inner = 1) a row is contiguous; over
/// an earlier one (a bias gradient: the rows of [B T, N] summed) a task owns
/// a block of columns and sweeps the rows, reading each row's block
/// contiguously and accumulating it as a vector, instead of walking each
/// column down the rows with a stride of a row. bf16: each value rounded to
/// bfloat16 first (a bias gradient in a bf16 build, ra::sumRoundsToBf16).
template <Reduce kind>
void reduce(const float *__restrict x, float *__restrict out, i64 outer, i64 n, i64 inner,
            bool bf16 = false) {
  auto value = [bf16](float v) { return bf16 ? ra_dtype::roundTo(v, ra_dtype::Dtype::BF16) : v; };
  constexpr double start = kind == Reduce::Max ? -std::numeric_limits<double>::infinity() : 0.0;
  if (inner == 1) {
#pragma omp parallel for if (outer * n > kParallelMin)
    for (i64 o = 0; o < outer; ++o) {
      double acc = start;
      for (i64 t = 0; t < n; ++t) {
        float v = value(x[o * n + t]);
        acc = kind == Reduce::Max ? std::max(acc, (double)v) : acc + v;
      }
      out[o] = float(kind == Reduce::Mean ? acc / n : acc);
    }
    return;
  }
  const i64 blocks = (inner + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for collapse(2) if (outer * n * inner > kParallelMin)
  for (i64 o = 0; o < outer; ++o)
    for (i64 block = 0; block < blocks; ++block) {
      const i64 first = block * kColumnBlock, width = std::min(kColumnBlock, inner - first);
      double acc[kColumnBlock];
      for (i64 i = 0; i < width; ++i)
        acc[i] = start;
      for (i64 t = 0; t < n; ++t) {
        const float *row = x + (o * n + t) * inner + first;
#pragma omp simd
        for (i64 i = 0; i < width; ++i)
          acc[i] = kind == Reduce::Max ? std::max(acc[i], (double)value(row[i]))
                                       : acc[i] + value(row[i]);
      }
      for (i64 i = 0; i < width; ++i)
        out[o * inner + first + i] = float(kind == Reduce::Mean ? acc[i] / n : acc[i]);
    }
}

inline void causalMean(const float *__restrict x, float *__restrict out, i64 outer, i64 n,
                       i64 inner, bool grad) {
#pragma omp parallel for if (outer * n * inner > kParallelMin)
  for (i64 o = 0; o < outer; ++o)
    for (i64 i = 0; i < inner; ++i) {
      double sum = 0;
      if (!grad) {
        for (i64 t = 0; t < n; ++t) {
          sum += x[(o * n + t) * inner + i];
          out[(o * n + t) * inner + i] = float(sum / (t + 1));
        }
      } else { // dx[s] = sum over t >= s of dy[t] / (t + 1)
        for (i64 t = n - 1; t >= 0; --t) {
          sum += x[(o * n + t) * inner + i] / double(t + 1);
          out[(o * n + t) * inner + i] = float(sum);
        }
      }
    }
}

/// y = softmax(x) * scale over one row of d; returns the row's log-sum-exp.
inline double softmaxRow(const float *x, float *y, i64 d, float scale) {
  float mx = *std::max_element(x, x + d);
  double sum = 0;
  for (i64 i = 0; i < d; ++i)
    sum += (y[i] = std::exp(x[i] - mx));
  float inv = float(1.0 / sum);
  for (i64 i = 0; i < d; ++i)
    y[i] *= inv * scale;
  return mx + std::log(sum);
}

inline void softmax(const float *__restrict x, float *__restrict out, i64 rows, i64 d) {
#pragma omp parallel for if (rows * d > kParallelMin)
  for (i64 r = 0; r < rows; ++r)
    softmaxRow(x + r * d, out + r * d, d, 1.f);
}

} // namespace ra_cpu

#endif // RA_CPU_REDUCE_H
