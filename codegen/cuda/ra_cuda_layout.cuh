//===- ra_cuda_layout.cuh - gathers, slices and concats ---------*- C++ -*-===//
//
// Broadcast and transpose as a gather through strides; slice and concat as
// copies along an axis.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_LAYOUT_CUH
#define RA_CUDA_LAYOUT_CUH

#include "ra_cuda_common.cuh"

namespace ra_cuda {

/// out[c] = in[sum c_d * strides_d]: broadcasts (stride 0) and transposes.
/// Up to 8 dims, passed by value.
struct GatherShape {
  int rank;
  i64 dims[8], strides[8];
};

template <typename T> __global__ void gatherKernel(const T *in, T *out, GatherShape s, i64 n) {
  RA_GRID_STRIDE(i, n) {
    i64 off = 0, r = i;
    for (int d = s.rank - 1; d >= 0; --d) {
      off += (r % s.dims[d]) * s.strides[d];
      r /= s.dims[d];
    }
    out[i] = in[off];
  }
}

/// [outer, n, inner] -> [outer, end - start, inner], or the reverse placement
/// of a concat part at `offset` along an axis of `total`.
template <typename T>
__global__ void copyAlongAxisKernel(const T *in, T *out, i64 outer, i64 inN, i64 outN, i64 inner,
                                    i64 inStart, i64 outStart) {
  i64 rowLen = (outN < inN ? outN : inN) * inner;
  (void)outer;
  RA_GRID_STRIDE(i, outer * rowLen) {
    i64 o = i / rowLen, k = i % rowLen;
    out[o * outN * inner + outStart * inner + k] = in[o * inN * inner + inStart * inner + k];
  }
}

template <typename T>
void gather(const T *in, T *out, int rank, const i64 *dims, const i64 *strides) {
  GatherShape s{};
  s.rank = rank;
  i64 n = 1;
  for (int d = 0; d < rank; ++d) {
    s.dims[d] = dims[d];
    s.strides[d] = strides[d];
    n *= dims[d];
  }
  RA_LAUNCH(gatherKernel<T>, dim3(gridFor(n)), dim3(kThreads), 0, in, out, s, n);
}

template <typename T>
void slice(const T *in, T *out, i64 outer, i64 n, i64 inner, i64 start, i64 end) {
  i64 len = end - start;
  RA_LAUNCH(copyAlongAxisKernel<T>, dim3(gridFor(outer * len * inner)), dim3(kThreads), 0, in, out,
            outer, n, len, inner, start, i64(0));
}

template <typename T>
void concatPart(const T *in, T *out, i64 outer, i64 n, i64 inner, i64 offset, i64 total) {
  RA_LAUNCH(copyAlongAxisKernel<T>, dim3(gridFor(outer * n * inner)), dim3(kThreads), 0, in, out,
            outer, n, total, inner, i64(0), offset);
}

} // namespace ra_cuda

#endif // RA_CUDA_LAYOUT_CUH
