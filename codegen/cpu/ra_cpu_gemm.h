//===- ra_cpu_gemm.h - matrix products through OpenBLAS ---------*- C++ -*-===//
//
// sgemm per batch entry, and the GEMM rate rarun bench measures MFU against.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_GEMM_H
#define RA_CPU_GEMM_H

#include "ra_cpu_common.h"

#include <cblas.h>
#include <chrono>

namespace ra_cpu {

/// TFLOP/s of an n x n x n sgemm, the median of 5 after a warm-up: the
/// ceiling rarun bench measures MFU against, with the BLAS this library uses.
inline double gemmTflops(int n) {
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  double times[6];
  for (double &t : times) {
    auto start = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data(), n, b.data(), n,
                0.f, c.data(), n);
    t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::sort(times + 1, times + 6);
  return 2.0 * n * n * n / times[3] / 1e12;
}

/// C[b] = op(A[b]) op(B[b]) for each of `batch` products; aOff/bOff give the
/// matrix index of each operand per batch entry (broadcast batch dims repeat).
inline void gemm(const float *a, const float *b, float *c, i64 batch, const i64 *aOff,
                 const i64 *bOff, i64 m, i64 n, i64 k, bool ta, bool tb) {
  for (i64 i = 0; i < batch; ++i)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, 1.f, a + aOff[i] * m * k, ta ? m : k, b + bOff[i] * k * n, tb ? k : n, 0.f,
                c + i * m * n, n);
}

} // namespace ra_cpu

#endif // RA_CPU_GEMM_H
