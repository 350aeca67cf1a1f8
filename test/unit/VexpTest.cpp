// ra_math::vexp, the exponential the CPU kernels vectorize (softmax rows in
// the flash kernels, GELU): its error measured against exp in double over
// the whole range where the result is a normal float.
#include "codegen/ra_elementwise.h"

#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace {

/// The distance between two positive floats in units in the last place.
int64_t ulpsApart(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(int64_t(ia) - int64_t(ib));
}

} // namespace

TEST_CASE("cpu: vexp is within 2 ulp of exp wherever exp is a normal float", "[cpu][math]") {
  // exp(x) is a normal float for x in (-87.33, 88.72); vexp clamps at +-88.
  int64_t worst = 0;
  float worstAt = 0;
  const int64_t steps = 2000000;
  for (int64_t i = 0; i <= steps; ++i) {
    const float x = -87.3f + float(i) * (88.0f + 87.3f) / float(steps);
    const float want = float(std::exp(double(x)));
    const int64_t ulps = ulpsApart(ra_math::vexp(x), want);
    if (ulps > worst) {
      worst = ulps;
      worstAt = x;
    }
  }
  INFO("worst " << worst << " ulp at x = " << worstAt);
  CHECK(worst <= 2);
  WARN("vexp: worst " << worst << " ulp over [-87.3, 88] (at x = " << worstAt << ")");
  // Below the normal range it underflows to (about) zero, as a softmax's
  // masked or far-below-max scores need.
  CHECK(ra_math::vexp(-100.f) <= FLT_MIN);
  CHECK(ra_math::vexp(-1e30f) <= FLT_MIN);
  CHECK(ra_math::vexp(0.f) == 1.f);
}
