//===- ra_cpu_layout.h - gathers, slices and concats ------------*- C++ -*-===//
//
// Broadcast and transpose through strides, slice and concat as copies.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_LAYOUT_H
#define RA_CPU_LAYOUT_H

#include "ra_cpu_common.h"

namespace ra_cpu {

/// out[c] = in[sum c_i * inStrides_i], over the output's dims; a broadcast has
/// stride 0 on its broadcast dims, a transpose permuted strides.
template <typename T>
void gather(const T *__restrict in, T *__restrict out, int rank, const i64 *outDims,
            const i64 *inStrides) {
  i64 n = 1;
  for (int d = 0; d < rank; ++d)
    n *= outDims[d];
  i64 inner = outDims[rank - 1], innerStride = inStrides[rank - 1];
#pragma omp parallel for if (n > kParallelMin)
  for (i64 row = 0; row < n / inner; ++row) {
    i64 off = 0, r = row;
    for (int d = rank - 2; d >= 0; --d) {
      off += (r % outDims[d]) * inStrides[d];
      r /= outDims[d];
    }
    T *o = out + row * inner;
    for (i64 i = 0; i < inner; ++i)
      o[i] = in[off + i * innerStride];
  }
}

/// [outer, n, inner] -> [outer, end - start, inner]
template <typename T>
void slice(const T *__restrict in, T *__restrict out, i64 outer, i64 n, i64 inner, i64 start,
           i64 end) {
  for (i64 o = 0; o < outer; ++o)
    std::memcpy(out + o * (end - start) * inner, in + (o * n + start) * inner,
                sizeof(T) * (end - start) * inner);
}

/// Copies one input of a concat into its place: [outer, n, inner] at
/// `offset` along an axis of size `total`.
template <typename T>
void concatPart(const T *__restrict in, T *__restrict out, i64 outer, i64 n, i64 inner, i64 offset,
                i64 total) {
  for (i64 o = 0; o < outer; ++o)
    std::memcpy(out + (o * total + offset) * inner, in + o * n * inner, sizeof(T) * n * inner);
}

} // namespace ra_cpu

#endif // RA_CPU_LAYOUT_H
