//===- ra_cpu_tile_gemm.h - small products inside one thread's task -*- C++ -*-===//
//
// The attention kernels' tiles (a block of query rows against their keys)
// are products of a few dozen rows, made inside an OpenMP task: too small
// for a BLAS call to pay (and a BLAS call there would start its own threads
// on cores the tasks already use). This is the micro-kernel they use
// instead, as a BLAS's inner kernel is built: 4 rows by 16 columns of C
// held in registers while the shared dimension streams by, one broadcast of
// A and one load of B per multiply-add pair of rows. Plain loops over fixed
// sizes, which the compiler turns into vector FMAs (AVX2: 8 accumulators).
//
// A is read through strides, so transposed operands (P^T, dS^T) are read in
// place; B and C are row-major. Each C entry sums its products in k order,
// so results do not depend on the blocking or the thread count.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_TILE_GEMM_H
#define RA_CPU_TILE_GEMM_H

#include "ra_cpu_common.h"

#include <algorithm>

namespace ra_cpu {

/// C[m, n] = alpha sum_k A(m, k) B[k, n] (+ C[m, n] with `accumulate`), for
/// m < M, n < N, k < K, where A(m, k) = a[m * am + k * ak], B[k, n] = b[k *
/// ldb + n] and C[m, n] = c[m * ldc + n].
inline void tileGemm(i64 M, i64 N, i64 K, float alpha, const float *a, i64 am, i64 ak,
                     const float *b, i64 ldb, float *c, i64 ldc, bool accumulate) {
  constexpr i64 R = 4, W = 16;
  for (i64 m0 = 0; m0 < M; m0 += R) {
    const i64 rows = std::min(R, M - m0);
    const float *a0 = a + m0 * am;
    for (i64 n0 = 0; n0 < N; n0 += W) {
      const i64 cols = std::min(W, N - n0);
      float acc[R][W] = {};
      // The same loop twice: with fixed bounds (a whole tile) the compiler
      // keeps `acc` in vector registers; the edges take the general one.
      if (rows == R && cols == W) {
        for (i64 k = 0; k < K; ++k) {
          const float *bk = b + k * ldb + n0, *ak0 = a0 + k * ak;
          for (i64 r = 0; r < R; ++r) {
            const float ar = ak0[r * am];
            for (i64 j = 0; j < W; ++j)
              acc[r][j] += ar * bk[j];
          }
        }
      } else {
        for (i64 k = 0; k < K; ++k) {
          const float *bk = b + k * ldb + n0, *ak0 = a0 + k * ak;
          for (i64 r = 0; r < rows; ++r) {
            const float ar = ak0[r * am];
            for (i64 j = 0; j < cols; ++j)
              acc[r][j] += ar * bk[j];
          }
        }
      }
      for (i64 r = 0; r < rows; ++r) {
        float *cr = c + (m0 + r) * ldc + n0;
        for (i64 j = 0; j < cols; ++j)
          cr[j] = accumulate ? cr[j] + alpha * acc[r][j] : alpha * acc[r][j];
      }
    }
  }
}

} // namespace ra_cpu

#endif // RA_CPU_TILE_GEMM_H
