// The emulator's warp matrix instructions (codegen/cuda/ra_simt_mma.h):
// WMMA's products on bfloat16 tiles in every layout, against a triple loop;
// and the mistakes a GPU punishes by luck (a collective call in divergent
// code, lanes passing different tiles, a load of shared memory another warp
// wrote without a barrier) fail every time, naming the kernel.
#include "abi/Init.h"
#include "codegen/cuda/ra_cuda_mma.cuh"

#include "ChildProcess.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace wmma = nvcuda::wmma;
using ra_cuda::bf16;

/// D = A B + C for one 16 x 16 x 16 product: A and B staged into shared
/// memory (A row- or column-major, B from global memory or shared), C and D
/// in global memory, row-major.
template <typename LA, typename LB>
__global__ void productKernel(const float *a, const float *b, const float *c, float *d,
                              bool bShared) {
  RA_SHARED(bf16, as, 256);
  RA_SHARED(bf16, bs, 256);
  for (int i = threadIdx.x; i < 256; i += blockDim.x) {
    as[i] = ra_cuda::toBf16(a[i]);
    bs[i] = ra_cuda::toBf16(b[i]);
  }
  __syncthreads();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, LA> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, LB> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::load_matrix_sync(fa, RA_SHARED_AT(as, 0), 16);
  if (bShared) {
    wmma::load_matrix_sync(fb, RA_SHARED_AT(bs, 0), 16);
  } else {
    static thread_local bf16 global[256]; // a global array, read by every lane
    if (threadIdx.x == 0)
      for (int i = 0; i < 256; ++i)
        global[i] = ra_cuda::toBf16(b[i]);
    __syncthreads();
    wmma::load_matrix_sync(fb, global, 16);
  }
  wmma::load_matrix_sync(acc, c, 16, wmma::mem_row_major);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(d, acc, 16, wmma::mem_row_major);
}

// Only half of the warp reaches the product.
__global__ void divergentProduct(float *d) {
  RA_SHARED(bf16, as, 256);
  for (int i = threadIdx.x; i < 256; i += blockDim.x)
    as[i] = ra_cuda::toBf16(1.f);
  __syncthreads();
  if (threadIdx.x < 16) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa;
    wmma::load_matrix_sync(fa, RA_SHARED_AT(as, 0), 16);
  }
  d[threadIdx.x] = 1.f;
}

// Each lane passes its own row as the tile.
__global__ void laneDependentTile(float *d) {
  RA_SHARED(bf16, as, 512);
  for (int i = threadIdx.x; i < 512; i += blockDim.x)
    as[i] = ra_cuda::toBf16(1.f);
  __syncthreads();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, RA_SHARED_AT(as, threadIdx.x % 2), 16);
  d[threadIdx.x] = 1.f;
}

// Warp 1 loads the tile warp 0 stages, with no barrier between.
__global__ void unsyncedTile(float *d) {
  RA_SHARED(bf16, as, 256);
  if (threadIdx.x < 32)
    for (int i = threadIdx.x; i < 256; i += 32)
      as[i] = ra_cuda::toBf16(1.f);
  wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, RA_SHARED_AT(as, 0), 16);
  d[threadIdx.x] = 1.f;
}

using ra::test::inChild;

float roundBf16(float x) { return ra_dtype::bf16ToFloat(ra_dtype::floatToBf16(x)); }

template <typename LA, typename LB> void checkProduct(bool bShared) {
  constexpr bool aRows = std::is_same_v<LA, wmma::row_major>;
  constexpr bool bRows = std::is_same_v<LB, wmma::row_major>;
  ra::Rng rng(3);
  std::vector<float> a(256), b(256), c(256), d(256);
  for (auto *v : {&a, &b, &c})
    for (float &x : *v)
      x = float(rng.normal());
  const float *pa = a.data(), *pb = b.data(), *pc = c.data();
  float *pd = d.data();
  RA_LAUNCH((productKernel<LA, LB>), dim3(1), dim3(32), 0, pa, pb, pc, pd, bShared);
  double worst = 0;
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      double ref = c[m * 16 + n];
      for (int k = 0; k < 16; ++k)
        ref += double(roundBf16(a[aRows ? m * 16 + k : k * 16 + m])) *
               double(roundBf16(b[bRows ? k * 16 + n : n * 16 + k]));
      worst = std::max(worst, std::abs(ref - d[m * 16 + n]));
    }
  // bf16 products are exact in float32: only the float32 sum of 17 terms rounds.
  CHECK(worst < 1e-5);
}

} // namespace

TEST_CASE("simt-mma: a warp's bf16 product matches a triple loop in every layout", "[simt][mma]") {
  checkProduct<wmma::row_major, wmma::row_major>(true);
  checkProduct<wmma::row_major, wmma::col_major>(true);
  checkProduct<wmma::col_major, wmma::row_major>(true);
  checkProduct<wmma::col_major, wmma::col_major>(false);
}

TEST_CASE("simt-mma: a collective call in divergent code fails, naming the kernel", "[simt][mma]") {
  auto [sig, err] = inChild([] {
    std::vector<float> d(32);
    float *pd = d.data();
    RA_LAUNCH(divergentProduct, dim3(1), dim3(32), 0, pd);
  });
  CHECK(sig == SIGABRT);
  CHECK(err.find("kernel divergentProduct: load_matrix_sync") != std::string::npos);
  CHECK(err.find("divergent code") != std::string::npos);
}

TEST_CASE("simt-mma: lanes passing different tiles fail", "[simt][mma]") {
  auto [sig, err] = inChild([] {
    std::vector<float> d(32);
    float *pd = d.data();
    RA_LAUNCH(laneDependentTile, dim3(1), dim3(32), 0, pd);
  });
  CHECK(sig == SIGABRT);
  CHECK(err.find("kernel laneDependentTile: load_matrix_sync: the lanes of warp 0 pass "
                 "different arguments") != std::string::npos);
}

TEST_CASE("simt-mma: a tile loaded before the barrier after another warp staged it fails",
          "[simt][mma]") {
  auto [sig, err] = inChild([] {
    std::vector<float> d(64);
    float *pd = d.data();
    RA_LAUNCH(unsyncedTile, dim3(1), dim3(64), 0, pd);
  });
  CHECK(sig == SIGABRT);
  CHECK(err.find("kernel unsyncedTile: race on shared element") != std::string::npos);
}
