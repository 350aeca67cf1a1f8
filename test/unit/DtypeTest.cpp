// The half-precision conversions every decoding cache, the runtime and the
// kernels share (abi/ra_dtype.h), against the compiler's own _Float16 and
// against the bfloat16 definition (float32's upper 16 bits, rounded).
#include "abi/ra_dtype.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

using namespace ra_dtype;

TEST_CASE("dtype: every f16 converts to float as _Float16 does", "[dtype]") {
  int wrong = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    uint16_t bits = uint16_t(h);
    _Float16 x;
    std::memcpy(&x, &bits, 2);
    float want = float(x), got = f16ToFloat(bits);
    wrong += !(bitsOf(want) == bitsOf(got) || (std::isnan(want) && std::isnan(got)));
  }
  CHECK(wrong == 0);
}

TEST_CASE("dtype: floats round to f16 as _Float16 rounds them", "[dtype]") {
  std::mt19937 rng(7);
  int wrong = 0;
  // Every f16 boundary case: the halves themselves, the midpoints between
  // neighbours (ties to even), and random floats of every exponent.
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    float lo = f16ToFloat(uint16_t(h)), hi = f16ToFloat(uint16_t(h + 1));
    for (float f : {lo, -lo, (lo + hi) / 2, -(lo + hi) / 2, std::nextafter((lo + hi) / 2, hi)}) {
      _Float16 x = static_cast<_Float16>(f);
      uint16_t want;
      std::memcpy(&want, &x, 2);
      wrong += floatToF16(f) != want;
    }
  }
  for (int i = 0; i < 1000000; ++i) {
    float f = floatOf(uint32_t(rng()));
    if (std::isnan(f)) {
      uint16_t h = floatToF16(f);
      wrong += (h & 0x7c00) != 0x7c00 || !(h & 0x3ff); // stays a NaN
      continue;
    }
    _Float16 x = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &x, 2);
    wrong += floatToF16(f) != want;
  }
  CHECK(wrong == 0);
  CHECK(floatToF16(65520.f) == 0x7c00); // past the largest half: infinity
  CHECK(floatToF16(65519.f) == 0x7bff);
}

TEST_CASE("dtype: bfloat16 is float32's upper half, rounded to nearest even", "[dtype]") {
  int wrong = 0;
  for (uint32_t b = 0; b < 65536; ++b) {
    float f = bf16ToFloat(uint16_t(b));
    wrong += bitsOf(f) != b << 16;
    if (!std::isnan(f))
      wrong += floatToBf16(f) != b;
  }
  CHECK(wrong == 0);
  CHECK(floatToBf16(floatOf(0x3f808000u)) == 0x3f80); // a tie: to the even 0x3f80
  CHECK(floatToBf16(floatOf(0x3f818000u)) == 0x3f82); // a tie: to the even 0x3f82
  CHECK(floatToBf16(floatOf(0x3f808001u)) == 0x3f81); // past the tie: up
  CHECK(std::isnan(bf16ToFloat(floatToBf16(NAN))));
  CHECK(roundTo(1.f / 3, Dtype::F32) == 1.f / 3);
  CHECK(roundTo(1.f / 3, Dtype::BF16) == bf16ToFloat(floatToBf16(1.f / 3)));
  float buffer[2];
  store(buffer, 1, 0.1f, Dtype::F32);
  CHECK(load(buffer, 1, Dtype::F32) == 0.1f);
  uint16_t halves[2];
  store(halves, 1, 0.1f, Dtype::F16);
  CHECK(load(halves, 1, Dtype::F16) == f16ToFloat(floatToF16(0.1f)));
}
