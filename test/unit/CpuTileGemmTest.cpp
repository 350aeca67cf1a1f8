// The attention kernels' register-tiled micro-kernel against a plain triple
// loop: full 4 x 16 tiles and ragged edges, A read in place through strides
// (as P^T and dS^T are), B and C with row strides wider than the tile, and
// accumulate on and off.
#include "codegen/cpu/ra_cpu_tile_gemm.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

namespace {

float valueAt(int64_t i) { return float((i * 7919) % 23) / 11.f - 1.f; }

} // namespace

TEST_CASE("cpu: the tile micro-kernel equals a plain product at every edge", "[cpu][tile]") {
  struct Case {
    int64_t M, N, K;
    bool transposedA, accumulate;
  };
  // 4 x 16 exactly, several whole tiles, ragged rows and columns, K = 1.
  for (Case c :
       {Case{4, 16, 8, false, false}, Case{8, 32, 64, false, true}, Case{37, 53, 19, false, false},
        Case{5, 17, 1, true, true}, Case{3, 7, 33, true, false}, Case{64, 64, 32, true, true}}) {
    INFO("M " << c.M << " N " << c.N << " K " << c.K << " transposed A " << c.transposedA);
    const int64_t ldb = c.N + 5, ldc = c.N + 3;
    // A is [M, K] read as (m, k) -> a[m K + k], or stored [K, M] and read
    // transposed in place: (m, k) -> a[k M + m].
    const int64_t am = c.transposedA ? 1 : c.K, ak = c.transposedA ? c.M : 1;
    std::vector<float> a(c.M * c.K), b(c.K * ldb), C(c.M * ldc), expect(c.M * ldc);
    for (size_t i = 0; i < a.size(); ++i)
      a[i] = valueAt(int64_t(i));
    for (size_t i = 0; i < b.size(); ++i)
      b[i] = valueAt(int64_t(i) + 101);
    for (size_t i = 0; i < C.size(); ++i)
      C[i] = expect[i] = valueAt(int64_t(i) + 577);
    const float alpha = 0.75f;
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < c.N; ++n) {
        double sum = 0;
        for (int64_t k = 0; k < c.K; ++k)
          sum += double(a[m * am + k * ak]) * b[k * ldb + n];
        float &e = expect[m * ldc + n];
        e = float((c.accumulate ? e : 0.0) + alpha * sum);
      }
    ra_cpu::tileGemm(c.M, c.N, c.K, alpha, a.data(), am, ak, b.data(), ldb, C.data(), ldc,
                     c.accumulate);
    double worst = 0;
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < ldc; ++n) {
        const size_t i = m * ldc + n;
        if (n >= c.N) // past the tile: untouched
          REQUIRE(C[i] == valueAt(int64_t(i) + 577));
        else
          worst = std::max(worst, double(std::abs(C[i] - expect[i])));
      }
    CHECK(worst < 1e-4);
  }
}
