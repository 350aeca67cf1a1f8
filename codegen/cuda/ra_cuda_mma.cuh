//===- ra_cuda_mma.cuh - tensor-core tile products --------------*- C++ -*-===//
//
// What the tensor-core kernels share: bfloat16 staging of float32 tiles into
// shared memory and a warp's 16 x 16 tile product through WMMA (bf16 in,
// float32 accumulate). Under nvcc these are CUDA's own (mma.h, sm_80 and
// later); under the emulator ra_simt_mma.h implements the same calls with a
// warp's meaning, so every tensor-core kernel runs in the tests.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_MMA_CUH
#define RA_CUDA_MMA_CUH

#include "ra_simt.h"

#include <cstdint>
#include <type_traits>

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <mma.h>
/// A matrix load's or store's address in a shared array.
#define RA_SHARED_AT(name, off) ((name) + (off))
#else
#include "ra_simt_mma.h"
#define RA_SHARED_AT(name, off) ::ra_simt::at((name), (off))
#endif

namespace ra_cuda {

namespace wmma = nvcuda::wmma;
using bf16 = __nv_bfloat16;

constexpr int kMmaSide = 16; // m = n = k of one tensor-core product

__device__ __forceinline__ bf16 toBf16(float x) { return __float2bfloat16_rn(x); }

/// Rows row0 .. row0 + R - 1 of a float32 [rows, width] matrix into a shared
/// bf16 [R, W] tile, zero past its rows and columns (W >= width).
template <int R, int W, typename Tile>
__device__ void stageBf16(Tile &tile, const float *src, int64_t row0, int64_t rows, int64_t width) {
  for (int idx = threadIdx.x; idx < R * W; idx += blockDim.x) {
    int r = idx / W, c = idx % W;
    int64_t g = row0 + r;
    tile[idx] = toBf16(g < rows && c < width ? src[g * width + c] : 0.f);
  }
}

/// One warp's 16 x 16 tile of C (float, row-major, at cOff with ldc) =
/// A B (+ C when `accumulate`), A 16 x K and B K x 16 in shared bf16 tiles.
/// LA, LB: wmma::row_major or col_major, how A's (m, k) and B's (k, n) lie
/// from their offsets with lda and ldb.
template <int K, typename LA, typename LB, typename TC, typename TA, typename TB>
__device__ void mmaTile(TC &c, int cOff, int ldc, bool accumulate, TA &a, int aOff, int lda, TB &b,
                        int bOff, int ldb) {
  constexpr bool aRows = std::is_same<LA, wmma::row_major>::value;
  constexpr bool bRows = std::is_same<LB, wmma::row_major>::value;
  wmma::fragment<wmma::accumulator, kMmaSide, kMmaSide, kMmaSide, float> acc;
  if (accumulate)
    wmma::load_matrix_sync(acc, RA_SHARED_AT(c, cOff), ldc, wmma::mem_row_major);
  else
    wmma::fill_fragment(acc, 0.f);
  for (int k0 = 0; k0 < K; k0 += kMmaSide) {
    wmma::fragment<wmma::matrix_a, kMmaSide, kMmaSide, kMmaSide, bf16, LA> fa;
    wmma::fragment<wmma::matrix_b, kMmaSide, kMmaSide, kMmaSide, bf16, LB> fb;
    wmma::load_matrix_sync(fa, RA_SHARED_AT(a, aOff + (aRows ? k0 : k0 * lda)), lda);
    wmma::load_matrix_sync(fb, RA_SHARED_AT(b, bOff + (bRows ? k0 * ldb : k0)), ldb);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(RA_SHARED_AT(c, cOff), acc, ldc, wmma::mem_row_major);
}

} // namespace ra_cuda

#endif // RA_CUDA_MMA_CUH
