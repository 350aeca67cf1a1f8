//===- ra_simt_mma.h - warp matrix instructions on the CPU ------*- C++ -*-===//
//
// The emulator's nvcuda::wmma: the 16 x 16 x 16 shape with bfloat16 inputs
// and float32 accumulation, what the tensor-core kernels use
// (ra_cuda_mma.cuh). It keeps the meaning a GPU gives them:
//   - a fragment is spread over the warp's 32 lanes, 8 elements each, in a
//     layout the program cannot rely on (as on a GPU, where it is
//     unspecified): a kernel may only scale or fill fragments uniformly;
//   - load_matrix_sync, store_matrix_sync and mma_sync are collective: every
//     lane of the warp must reach the same call with the same arguments,
//     else the launch fails naming the kernel (a call in divergent code
//     waits forever on a GPU, or reads garbage);
//   - mma_sync exchanges the lanes' elements through the warp and each lane
//     computes its own 8 results, float32 sums in k order;
//   - loads and stores of shared memory (RA_SHARED arrays, addressed with
//     RA_SHARED_AT) go through the race checker element by element.
//
//===----------------------------------------------------------------------===//
#ifndef RA_SIMT_MMA_H
#define RA_SIMT_MMA_H

#ifndef __CUDACC__

#include "ra_dtype.h"
#include "ra_simt.h"

/// bfloat16 as CUDA's cuda_bf16.h names it: the bits, rounded to nearest even.
struct __nv_bfloat16 {
  uint16_t bits = 0;
};
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return {ra_dtype::floatToBf16(f)}; }
inline float __bfloat162float(__nv_bfloat16 b) { return ra_dtype::bf16ToFloat(b.bits); }

namespace ra_simt {

/// An element `off` into a shared array: what RA_SHARED_AT gives a matrix
/// load or store, so that each element it touches is race-checked.
template <typename T, size_t N> struct SharedAt {
  SharedArray<T, N> *array;
  size_t off;
  T get(size_t i) const { return (*array)[off + i]; }
  void set(size_t i, T v) const { (*array)[off + i] = v; }
  uint64_t identity() const { return reinterpret_cast<uintptr_t>(array) + off * sizeof(T); }
};
template <typename T> struct GlobalAt {
  T *p;
  T get(size_t i) const { return p[i]; }
  void set(size_t i, T v) const { p[i] = v; }
  uint64_t identity() const { return reinterpret_cast<uintptr_t>(p); }
};
template <typename T, size_t N> SharedAt<T, N> at(SharedArray<T, N> &a, size_t off) {
  return {&a, off};
}
template <typename T> GlobalAt<T> at(T *p) { return {p}; }
template <typename T> GlobalAt<const T> at(const T *p) { return {p}; }

constexpr int kMmaSide = 16, kMmaElements = kMmaSide * kMmaSide / kWarpSize;

/// Every lane of the warp has reached this collective call with the same
/// arguments (`what` names it); the caller's lane index.
inline unsigned collective(const char *what, uint64_t a0, uint64_t a1) {
  BlockState &b = block();
  Fiber &f = *b.current;
  unsigned n = b.fibers.size(), warps = (n + kWarpSize - 1) / kWarpSize;
  if (n % kWarpSize)
    fail(b.kernel,
         std::string(what) + " needs whole warps; the block has " + std::to_string(n) + " threads");
  if (b.warpCalls.size() != warps) {
    b.warpCalls.assign(warps, std::vector<uint64_t>(3 * kWarpSize));
    b.warpTiles.assign(warps, std::vector<float>(3 * kMmaSide * kMmaSide));
  }
  unsigned w = warpOf(f), lane = f.linear % kWarpSize;
  uint64_t *mine = &b.warpCalls[w][3 * lane];
  mine[0] = ++f.collectives;
  mine[1] = a0;
  mine[2] = a1;
  warpBarrier();
  for (unsigned l = 0; l < kWarpSize; ++l) {
    const uint64_t *other = &b.warpCalls[w][3 * l];
    if (b.fibers[w * kWarpSize + l].done || other[0] != mine[0])
      fail(b.kernel, std::string(what) + ": lane " + std::to_string(lane) + " of warp " +
                         std::to_string(w) + " calls it where lane " + std::to_string(l) +
                         " does not (a warp-collective call in divergent code)");
    if (other[1] != a0 || other[2] != a1)
      fail(b.kernel, std::string(what) + ": the lanes of warp " + std::to_string(w) +
                         " pass different arguments");
  }
  warpBarrier(); // every lane has checked before the slots are reused
  return lane;
}

} // namespace ra_simt

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

/// A lane's share of a 16 x 16 operand: elements lane * 8 .. lane * 8 + 7
/// of the row-major logical matrix (A[m][k], B[k][n] or C[m][n]).
template <typename Use, int M, int N, int K, typename T, typename Layout = void> struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "the emulator implements m16n16k16");
  static constexpr int num_elements = ::ra_simt::kMmaElements;
  T x[num_elements];
};

namespace detail {
inline float widen(float v) { return v; }
inline float widen(__nv_bfloat16 v) { return __bfloat162float(v); }
/// Where logical element (r, c) lies from the pointer, in `layout`.
inline size_t offset(int r, int c, unsigned ldm, bool rowMajor) {
  return rowMajor ? size_t(r) * ldm + c : size_t(c) * ldm + r;
}
template <typename Frag, typename Src>
void load(const char *what, Frag &f, Src src, unsigned ldm, bool rowMajor) {
  unsigned lane = ::ra_simt::collective(what, src.identity(), (uint64_t(ldm) << 1) | rowMajor);
  for (int t = 0; t < Frag::num_elements; ++t) {
    int e = lane * Frag::num_elements + t;
    f.x[t] = src.get(offset(e / 16, e % 16, ldm, rowMajor));
  }
}
template <typename L> constexpr bool isRowMajor() { return std::is_same_v<L, row_major>; }
} // namespace detail

template <typename Use, typename T, typename L>
void fill_fragment(fragment<Use, 16, 16, 16, T, L> &f, T v) {
  for (T &x : f.x)
    x = v;
}

/// Operand fragments (matrix_a, matrix_b): the layout is the fragment's.
template <typename Use, typename T, typename L, typename P>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, L> &f, P *p, unsigned ldm) {
  detail::load("load_matrix_sync", f, ::ra_simt::at(p), ldm, detail::isRowMajor<L>());
}
template <typename Use, typename T, typename L, typename U, size_t N>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, L> &f, ::ra_simt::SharedAt<U, N> p,
                      unsigned ldm) {
  detail::load("load_matrix_sync", f, p, ldm, detail::isRowMajor<L>());
}
/// Accumulators: the layout is the call's.
template <typename P>
void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, P *p, unsigned ldm,
                      layout_t layout) {
  detail::load("load_matrix_sync", f, ::ra_simt::at(p), ldm, layout == mem_row_major);
}
template <size_t N>
void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, ::ra_simt::SharedAt<float, N> p,
                      unsigned ldm, layout_t layout) {
  detail::load("load_matrix_sync", f, p, ldm, layout == mem_row_major);
}

namespace detail {
template <typename Dst>
void store(Dst dst, const fragment<accumulator, 16, 16, 16, float> &f, unsigned ldm,
           layout_t layout) {
  bool rowMajor = layout == mem_row_major;
  unsigned lane =
      ::ra_simt::collective("store_matrix_sync", dst.identity(), (uint64_t(ldm) << 1) | rowMajor);
  for (int t = 0; t < ::ra_simt::kMmaElements; ++t) {
    int e = lane * ::ra_simt::kMmaElements + t;
    dst.set(offset(e / 16, e % 16, ldm, rowMajor), f.x[t]);
  }
}
} // namespace detail

inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f,
                              unsigned ldm, layout_t layout) {
  detail::store(::ra_simt::at(p), f, ldm, layout);
}
template <size_t N>
void store_matrix_sync(::ra_simt::SharedAt<float, N> p,
                       const fragment<accumulator, 16, 16, 16, float> &f, unsigned ldm,
                       layout_t layout) {
  detail::store(p, f, ldm, layout);
}

/// d = a b + c over the warp: each lane publishes its elements, then
/// computes its own 8 of d from the whole of a and b.
template <typename T, typename LA, typename LB>
void mma_sync(fragment<accumulator, 16, 16, 16, float> &d,
              const fragment<matrix_a, 16, 16, 16, T, LA> &a,
              const fragment<matrix_b, 16, 16, 16, T, LB> &b,
              const fragment<accumulator, 16, 16, 16, float> &c) {
  constexpr int n = ::ra_simt::kMmaElements, side = 16;
  unsigned lane = ::ra_simt::collective("mma_sync", 0, 0);
  ::ra_simt::BlockState &bs = ::ra_simt::block();
  float *tiles = bs.warpTiles[::ra_simt::warpOf(*bs.current)].data();
  float *ta = tiles, *tb = tiles + side * side, *tc = tiles + 2 * side * side;
  for (int t = 0; t < n; ++t) {
    ta[lane * n + t] = detail::widen(a.x[t]);
    tb[lane * n + t] = detail::widen(b.x[t]);
    tc[lane * n + t] = c.x[t];
  }
  ::ra_simt::warpBarrier(); // every lane has published
  float out[n];
  for (int t = 0; t < n; ++t) {
    int e = lane * n + t, m = e / side, col = e % side;
    float acc = tc[e];
    for (int kk = 0; kk < side; ++kk)
      acc += ta[m * side + kk] * tb[kk * side + col];
    out[t] = acc;
  }
  ::ra_simt::warpBarrier(); // every lane has read before d (which may be c) changes
  for (int t = 0; t < n; ++t)
    d.x[t] = out[t];
}

} // namespace nvcuda::wmma

#endif // __CUDACC__
#endif // RA_SIMT_MMA_H
