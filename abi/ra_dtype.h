//===- ra_dtype.h - element types of the tensors entry points take -*- C++ -*-===//
//
// Entry points take and return float32 and int32 tensors, and @decode's
// caches may be kept in IEEE half (f16) or bfloat16 (bf16): two bytes per
// value, converted to float32 where a kernel reads them. This is the one
// home of those types and their conversions, for racc, the runtime, the
// interpreter's tests and the kernels (as __host__ __device__): every
// artifact ships it; it depends on nothing.
//
// The conversions round to nearest, ties to even (F. Giesen's branch-light
// forms, exact for every half and bfloat16 and checked against the
// compiler's _Float16 in the unit tests); float32 NaN stays NaN, beyond
// f16's range is infinity.
//
//===----------------------------------------------------------------------===//
#ifndef RA_DTYPE_H
#define RA_DTYPE_H

#include <cstdint>
#include <cstring>

#ifndef RA_HD
#ifdef __CUDACC__
#define RA_HD __host__ __device__ __forceinline__
#else
#define RA_HD inline
#endif
#endif

namespace ra_dtype {

enum class Dtype : int32_t { F32 = 0, I32 = 1, F16 = 2, BF16 = 3 };

RA_HD int bytes(Dtype t) { return t == Dtype::F16 || t == Dtype::BF16 ? 2 : 4; }

RA_HD uint32_t bitsOf(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
RA_HD float floatOf(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

RA_HD float bf16ToFloat(uint16_t b) { return floatOf(uint32_t(b) << 16); }

RA_HD uint16_t floatToBf16(float f) {
  uint32_t u = bitsOf(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) // NaN: keep it quiet
    return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}

RA_HD float f16ToFloat(uint16_t h) {
  const uint32_t shiftedExp = 0x7c00u << 13;
  uint32_t o = uint32_t(h & 0x7fff) << 13;
  uint32_t exp = shiftedExp & o;
  o += (127 - 15) << 23;
  if (exp == shiftedExp) { // infinity or NaN
    o += (128 - 16) << 23;
  } else if (exp == 0) { // zero or subnormal: renormalized by a float subtraction
    o += 1 << 23;
    o = bitsOf(floatOf(o) - floatOf(113u << 23));
  }
  return floatOf(o | (uint32_t(h & 0x8000) << 16));
}

RA_HD uint16_t floatToF16(float f) {
  const uint32_t infinity = 255u << 23, f16Max = (127u + 16) << 23;
  const uint32_t denormMagic = ((127u - 15) + (23 - 10) + 1) << 23;
  uint32_t x = bitsOf(f), sign = x & 0x80000000u;
  x ^= sign;
  uint16_t o;
  if (x >= f16Max) { // past the largest half: infinity, or NaN
    o = x > infinity ? 0x7e00 : 0x7c00;
  } else if (x < (113u << 23)) { // a half subnormal or zero: the float adder rounds
    o = uint16_t(bitsOf(floatOf(x) + floatOf(denormMagic)) - denormMagic);
  } else {
    uint32_t odd = (x >> 13) & 1;
    x += (uint32_t(15 - 127) << 23) + 0xfff;
    x += odd;
    o = uint16_t(x >> 13);
  }
  return uint16_t(o | (sign >> 16));
}

/// "f32", "i32", "f16", "bf16": the names the manifest, the kernel form and
/// racc's and rarun's flags use (host only).
inline const char *name(Dtype t) {
  switch (t) {
  case Dtype::F32:
    return "f32";
  case Dtype::I32:
    return "i32";
  case Dtype::F16:
    return "f16";
  case Dtype::BF16:
    return "bf16";
  }
  return "?";
}

/// The type `text` names; false when it names none (host only).
inline bool parse(const char *text, Dtype &out) {
  const Dtype all[] = {Dtype::F32, Dtype::I32, Dtype::F16, Dtype::BF16};
  for (Dtype t : all)
    if (std::strcmp(text, name(t)) == 0) {
      out = t;
      return true;
    }
  return false;
}

/// x as a value of type t holds it (f32: x itself).
RA_HD float roundTo(float x, Dtype t) {
  return t == Dtype::F16    ? f16ToFloat(floatToF16(x))
         : t == Dtype::BF16 ? bf16ToFloat(floatToBf16(x))
                            : x;
}

/// A bf16 GEMM's operands rounded into one scratch buffer (--precision
/// bf16), 2 bytes a value: A's `aElements`, then B from the next 16 bytes.
/// Where B starts, in values, and the scratch it all takes, in floats: the
/// kernels and the compiler's scratch count share them.
RA_HD int64_t bf16StagingB(int64_t aElements) { return (aElements + 7) / 8 * 8; }
RA_HD int64_t bf16StagingFloats(int64_t aElements, int64_t bElements) {
  return (bf16StagingB(aElements) + bElements + 1) / 2;
}

/// Element i of a float tensor stored as t (F32, F16 or BF16).
RA_HD float load(const void *p, int64_t i, Dtype t) {
  if (t == Dtype::F16)
    return f16ToFloat(static_cast<const uint16_t *>(p)[i]);
  if (t == Dtype::BF16)
    return bf16ToFloat(static_cast<const uint16_t *>(p)[i]);
  return static_cast<const float *>(p)[i];
}

/// Stores x as element i of a float tensor of type t.
RA_HD void store(void *p, int64_t i, float x, Dtype t) {
  if (t == Dtype::F16)
    static_cast<uint16_t *>(p)[i] = floatToF16(x);
  else if (t == Dtype::BF16)
    static_cast<uint16_t *>(p)[i] = floatToBf16(x);
  else
    static_cast<float *>(p)[i] = x;
}

} // namespace ra_dtype

#endif // RA_DTYPE_H
