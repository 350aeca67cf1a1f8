//===- ra_elementwise.h - elementwise math shared by every backend -*- C++ -*-===//
//
// One definition of each elementwise function, for the CPU kernels and (as
// __host__ __device__) the CUDA kernels, so the two cannot drift apart.
//
//===----------------------------------------------------------------------===//
#ifndef RA_ELEMENTWISE_H
#define RA_ELEMENTWISE_H

#include <cmath>

#ifdef __CUDACC__
#define RA_HD __host__ __device__ __forceinline__
#else
#define RA_HD inline
#endif

namespace ra_math {

enum class Binary { Add, Sub, Mul, Div, Max, Ge, GeluGrad };
enum class Unary { Neg, Exp, Log, Tanh, Sigmoid, Sqrt, Rsqrt, Gelu };

RA_HD float gelu(float x) {
  const float c = 0.7978845608028654f;
  return 0.5f * x * (1.f + tanhf(c * (x + 0.044715f * x * x * x)));
}

RA_HD float geluGrad(float x) {
  const float c = 0.7978845608028654f;
  float u = c * (x + 0.044715f * x * x * x), t = tanhf(u);
  return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * c * (1.f + 3.f * 0.044715f * x * x);
}

template <Binary op> RA_HD float apply(float a, float b) {
  if constexpr (op == Binary::Add)
    return a + b;
  if constexpr (op == Binary::Sub)
    return a - b;
  if constexpr (op == Binary::Mul)
    return a * b;
  if constexpr (op == Binary::Div)
    return a / b;
  if constexpr (op == Binary::Max)
    return a > b ? a : b;
  if constexpr (op == Binary::Ge)
    return a >= b ? 1.f : 0.f;
  if constexpr (op == Binary::GeluGrad)
    return b * geluGrad(a);
}

template <Unary op> RA_HD float apply(float x) {
  if constexpr (op == Unary::Neg)
    return -x;
  if constexpr (op == Unary::Exp)
    return expf(x);
  if constexpr (op == Unary::Log)
    return logf(x);
  if constexpr (op == Unary::Tanh)
    return tanhf(x);
  if constexpr (op == Unary::Sigmoid)
    return 1.f / (1.f + expf(-x));
  if constexpr (op == Unary::Sqrt)
    return sqrtf(x);
  if constexpr (op == Unary::Rsqrt)
    return 1.f / sqrtf(x);
  if constexpr (op == Unary::Gelu)
    return gelu(x);
}

} // namespace ra_math

#endif // RA_ELEMENTWISE_H
