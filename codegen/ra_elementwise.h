//===- ra_elementwise.h - elementwise math shared by every backend -*- C++ -*-===//
//
// One definition of each elementwise function, for the CPU kernels and (as
// __host__ __device__) the CUDA kernels, so the two cannot drift apart.
//
//===----------------------------------------------------------------------===//
#ifndef RA_ELEMENTWISE_H
#define RA_ELEMENTWISE_H

#include <cmath>

#ifndef RA_HD // also defined by ra_attention_shape.h
#ifdef __CUDACC__
#define RA_HD __host__ __device__ __forceinline__
#else
#define RA_HD inline
#endif
#endif

namespace ra_math {

enum class Binary { Add, Sub, Mul, Div, Max, Ge, GeluGrad };
enum class Unary { Neg, Abs, Exp, Log, Tanh, Sigmoid, Sqrt, Rsqrt, Gelu };

#ifdef __CUDACC__
RA_HD float vexp(float x) { return expf(x); }
#else
/// exp(x) in arithmetic the compiler vectorizes (libm's expf and tanhf are
/// calls, one element at a time): Cephes' range reduction and degree-6
/// polynomial, within 2 ulp for |x| <= 88.
inline float vexp(float x) {
  x = x < 88.f ? (x > -88.f ? x : -88.f) : 88.f;
  float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  x -= n * 0.693359375f;
  x -= n * -2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * x + 1.3981999507e-3f;
  y = y * x + 8.3334519073e-3f;
  y = y * x + 4.1665795894e-2f;
  y = y * x + 1.6666665459e-1f;
  y = y * x + 5.0000001201e-1f;
  y = y * x * x + x + 1.f;
  int bits = (int(n) + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &bits, 4);
  return y * scale;
}
#endif

// GELU's tanh form through (1 + tanh(u)) / 2 = sigmoid(2u): no cancellation
// where tanh(u) is near -1, and vectorizable on the CPU.
RA_HD float gelu(float x) {
  const float c = 0.7978845608028654f;
  float u = c * (x + 0.044715f * x * x * x);
  return x / (1.f + vexp(-2.f * u));
}

/// d gelu / dx = s + 2 x s (1 - s) c (1 + 3 * 0.044715 x^2), s = sigmoid(2u).
RA_HD float geluGrad(float x) {
  const float c = 0.7978845608028654f;
  float u = c * (x + 0.044715f * x * x * x), s = 1.f / (1.f + vexp(-2.f * u));
  return s + 2.f * x * s * (1.f - s) * c * (1.f + 3.f * 0.044715f * x * x);
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
  if constexpr (op == Unary::Abs)
    return fabsf(x);
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
