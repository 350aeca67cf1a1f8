//===- ra_cpu_gemm.h - matrix products through OpenBLAS ---------*- C++ -*-===//
//
// sgemm per batch entry, and the GEMM rate rarun bench measures MFU against.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_GEMM_H
#define RA_CPU_GEMM_H

#include "ra_cpu_common.h"
#include "ra_cpu_reduce.h"

#include "ra_dtype.h"
#include "ra_elementwise.h"

#include <cblas.h>
#include <chrono>
#include <tuple>
#include <utility>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace ra_cpu {

/// C = alpha op(A) op(B) + beta C (row-major), on the kernels' own OpenMP
/// threads: one thread pool for the whole step. OpenBLAS runs single-threaded
/// and each OpenMP thread multiplies a strip of C (rows, or columns when C is
/// wider than tall), so the BLAS's threads never compete with OpenMP's
/// spinning workers for the cores (docs/performance.md, "Threads"). Each
/// entry of C is still one call's sum over all of K, so the result does not
/// depend on the strips.
inline void sgemm(bool ta, bool tb, i64 m, i64 n, i64 k, float alpha, const float *a, i64 lda,
                  const float *b, i64 ldb, float beta, float *c, i64 ldc) {
  static const bool singleThreadedBlas = (openblas_set_num_threads(1), true);
  (void)singleThreadedBlas;
  const CBLAS_TRANSPOSE opA = ta ? CblasTrans : CblasNoTrans, opB = tb ? CblasTrans : CblasNoTrans;
#ifdef _OPENMP
  const i64 threads = omp_get_max_threads();
#else
  const i64 threads = 1;
#endif
  // Below about a million multiply-adds a strip is not worth a thread.
  const i64 strips = std::min<i64>(threads, std::max<i64>(1, m * n * k / (1 << 20)));
  if (strips <= 1) {
    cblas_sgemm(CblasRowMajor, opA, opB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const bool byRows = m >= n;
  const i64 extent = byRows ? m : n, unit = (extent + strips - 1) / strips;
#pragma omp parallel for num_threads(strips)
  for (i64 t = 0; t < strips; ++t) {
    const i64 from = t * unit, count = std::min(unit, extent - from);
    if (count <= 0)
      continue;
    if (byRows) // rows [from, from + count) of op(A) and of C
      cblas_sgemm(CblasRowMajor, opA, opB, count, n, k, alpha, a + (ta ? from : from * lda), lda, b,
                  ldb, beta, c + from * ldc, ldc);
    else // columns of op(B) and of C
      cblas_sgemm(CblasRowMajor, opA, opB, m, count, k, alpha, a, lda, b + (tb ? from * ldb : from),
                  ldb, beta, c + from, ldc);
  }
}

/// TFLOP/s of an n x n x n sgemm, the median of 5 after a warm-up: the
/// ceiling rarun bench measures MFU against, with the BLAS this library uses
/// as the kernels use it.
inline double gemmTflops(int n) {
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  double times[6];
  for (double &t : times) {
    auto start = std::chrono::steady_clock::now();
    sgemm(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
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
    sgemm(ta, tb, m, n, k, 1.f, a + aOff[i] * m * k, ta ? m : k, b + bOff[i] * k * n, tb ? k : n,
          0.f, c + i * m * n, n);
}

/// A and B rounded to bfloat16 (to nearest even), kept as float32 in this
/// thread's buffer: A's aElements values, then B's. The products of bf16
/// values are exact in float32, so the GEMM of these is the GPU's bf16 GEMM
/// with float32 accumulation. Slower than float32 on a CPU (a pass over
/// both operands); the build exists to check the GPU's.
inline std::pair<const float *, const float *> roundOperandsToBf16(const float *a, const float *b,
                                                                   i64 aElements, i64 bElements) {
  static thread_local std::vector<float> rounded;
  rounded.resize(size_t(aElements + bElements));
  auto round = [](const float *x, float *out, i64 n) {
#pragma omp parallel for simd schedule(static)
    for (i64 i = 0; i < n; ++i)
      out[i] = ra_dtype::roundTo(x[i], ra_dtype::Dtype::BF16);
  };
  round(a, rounded.data(), aElements);
  round(b, rounded.data() + aElements, bElements);
  return {rounded.data(), rounded.data() + aElements};
}

/// gemm with A and B rounded to bfloat16 first (racc compile --precision
/// bf16); aElements/bElements: what the products read of A and B.
inline void gemmBf16(const float *a, const float *b, float *c, i64 batch, const i64 *aOff,
                     const i64 *bOff, i64 m, i64 n, i64 k, bool ta, bool tb, i64 aElements,
                     i64 bElements) {
  auto [ar, br] = roundOperandsToBf16(a, b, aElements, bElements);
  gemm(ar, br, c, batch, aOff, bOff, m, n, k, ta, tb);
}

/// C = op(A) op(B) + bias (a row of n, broadcast over C's m rows) [+
/// residual (m x n)]: C is filled with the bias and residual, then the GEMM
/// adds the product (beta = 1), so C is written once instead of written,
/// read and written again (foldGemmEpilogues). bf16: the operands rounded as
/// gemmBf16 rounds them.
inline void gemmBias(const float *a, const float *b, const float *bias, const float *residual,
                     float *c, i64 m, i64 n, i64 k, bool ta, bool tb, bool bf16, i64 aElements,
                     i64 bElements) {
#pragma omp parallel for schedule(static)
  for (i64 r = 0; r < m; ++r) {
    float *row = c + r * n;
    const float *res = residual ? residual + r * n : nullptr;
#pragma omp simd
    for (i64 j = 0; j < n; ++j)
      row[j] = res ? bias[j] + res[j] : bias[j];
  }
  if (bf16)
    std::tie(a, b) = roundOperandsToBf16(a, b, aElements, bElements);
  sgemm(ta, tb, m, n, k, 1.f, a, ta ? m : k, b, tb ? k : n, 1.f, c, n);
}

/// out = gelu(op(A) op(B) + bias), the MLP's first projection
/// (foldGemmEpilogues' BiasGelu and BiasGeluAux; cuBLASLt's GELU_BIAS and
/// GELU_AUX_BIAS on a GPU); with `pre`, the sum kept there for the GELU's
/// backward.
inline void gemmBiasGelu(const float *a, const float *b, const float *bias, float *pre, float *out,
                         i64 m, i64 n, i64 k, bool ta, bool tb, bool bf16, i64 aElements,
                         i64 bElements) {
  float *sum = pre ? pre : out;
  gemmBias(a, b, bias, nullptr, sum, m, n, k, ta, tb, bf16, aElements, bElements);
#pragma omp parallel for simd schedule(static)
  for (i64 i = 0; i < m * n; ++i)
    out[i] = ra_math::gelu(sum[i]);
}

/// C = op(A) op(B) and db = the sums of B's k rows (B as stored, k x n) as
/// the product reads them, rounded to bf16 in a bf16 build: a linear layer's
/// weight and bias gradients in one call (foldGemmEpilogues' BiasGrad,
/// cuBLASLt's BGRADA on a GPU, which sums the operand it multiplies).
inline void gemmBiasGrad(const float *a, const float *b, float *c, float *db, i64 m, i64 n, i64 k,
                         bool ta, bool tb, bool bf16, i64 aElements, i64 bElements) {
  if (bf16)
    std::tie(a, b) = roundOperandsToBf16(a, b, aElements, bElements);
  sgemm(ta, tb, m, n, k, 1.f, a, ta ? m : k, b, tb ? k : n, 0.f, c, n);
  reduce<Reduce::Sum>(b, db, 1, k, n);
}

/// C = gelu'(pre) * op(A) op(B): the GELU's backward over the product that
/// feeds it (foldGemmEpilogues' GeluGrad, cuBLASLt's DGELU on a GPU).
inline void gemmGeluGrad(const float *a, const float *b, const float *pre, float *c, i64 m, i64 n,
                         i64 k, bool ta, bool tb, bool bf16, i64 aElements, i64 bElements) {
  if (bf16)
    std::tie(a, b) = roundOperandsToBf16(a, b, aElements, bElements);
  sgemm(ta, tb, m, n, k, 1.f, a, ta ? m : k, b, tb ? k : n, 0.f, c, n);
#pragma omp parallel for simd schedule(static)
  for (i64 i = 0; i < m * n; ++i)
    c[i] = ra_math::apply<ra_math::Binary::GeluGrad>(pre[i], c[i]);
}

} // namespace ra_cpu

#endif // RA_CPU_GEMM_H
