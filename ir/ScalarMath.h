//===- ScalarMath.h - the real-number functions of the ra ops -----*- C++ -*-===//
//
// What the elementwise ops compute, in extended precision, for the
// interpreter (through ElementwiseOpInterface::evaluate) and the ops'
// definitions in RaOps.td. The kernels' float versions are
// codegen/ra_elementwise.h.
//
//===----------------------------------------------------------------------===//
#ifndef RA_IR_SCALARMATH_H
#define RA_IR_SCALARMATH_H

#include <algorithm>
#include <cmath>

namespace ra::math {

using Real = long double;

constexpr Real kSqrt2OverPi = 0.7978845608028654;
constexpr Real kGeluCubic = 0.044715;

/// GELU, tanh approximation (GPT-2's).
inline Real gelu(Real x) {
  return 0.5 * x * (1 + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
}

/// d gelu / dx.
inline Real geluGrad(Real x) {
  Real u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
  Real t = std::tanh(u);
  Real du = kSqrt2OverPi * (1 + 3 * kGeluCubic * x * x);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
}

} // namespace ra::math

#endif // RA_IR_SCALARMATH_H
