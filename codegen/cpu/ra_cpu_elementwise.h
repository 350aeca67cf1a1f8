//===- ra_cpu_elementwise.h - elementwise kernels ---------------*- C++ -*-===//
//
// The functions of ra_math over n elements (in place allowed), fill and iota.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_ELEMENTWISE_H
#define RA_CPU_ELEMENTWISE_H

#include "ra_cpu_common.h"

namespace ra_cpu {

template <Binary op>
// Elementwise kernels may run in place (ra-plan-memory reuses an operand that
// dies at the op): no __restrict.
void binary(const float *a, const float *b, float *out, i64 n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (i64 i = 0; i < n; ++i)
    out[i] = apply<op>(a[i], b[i]);
}

template <Unary op> void unary(const float *x, float *out, i64 n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (i64 i = 0; i < n; ++i)
    out[i] = apply<op>(x[i]);
}

inline void fill(float *out, float value, i64 n) { std::fill(out, out + n, value); }

inline void iota(float *out, i64 n, i64 axisSize, i64 inner) {
  for (i64 i = 0; i < n; ++i)
    out[i] = float((i / inner) % axisSize);
}

} // namespace ra_cpu

#endif // RA_CPU_ELEMENTWISE_H
