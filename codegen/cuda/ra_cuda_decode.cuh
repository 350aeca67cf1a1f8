//===- ra_cuda_decode.cuh - the decoding kernels -----------------*- C++ -*-===//
//
// @decode's position-mixing kernels (passes/DeriveDecoding.cpp), mirroring
// codegen/cpu/ra_cpu_decode.h: ra.cached_attention as a block per
// (sequence, head) whose threads score the cached positions into scratch
// (one float per position), reduce max and sum over the block, then sum the
// values with a thread per output column (a paged cache's rows read through
// the block table); ra.running_mean elementwise.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_DECODE_CUH
#define RA_CUDA_DECODE_CUH

#include "ra_cuda_attention.cuh"

namespace ra_cuda {

using ra_attention::CachedAttentionShape;

/// x . (the cache's row at `at`, of `n` elements of type t), in float32.
__device__ __forceinline__ float dotCached(const float *x, const void *cache, i64 at, i64 n,
                                           ra_dtype::Dtype t) {
  float s = 0.f;
  for (i64 c = 0; c < n; ++c)
    s += x[c] * ra_dtype::load(cache, at + c, t);
  return s;
}

__global__ void cachedAttentionKernel(CachedAttentionShape s, const float *q, const void *kPast,
                                      const float *kNew, const void *vPast, const float *vNew,
                                      const int32_t *lengths, const float *alpha, const void *qPast,
                                      const float *kRecip, const int32_t *table, float *out,
                                      float *scratch) {
  float a = alpha ? *alpha : 0.f;
  for (i64 r = blockIdx.x; r < s.b * s.h; r += gridDim.x) {
    i64 b = r / s.h, h = r % s.h;
    i64 p = lengths[b] < 0 ? 0 : (lengths[b] >= s.tc ? s.tc - 1 : lengths[b]);
    const float *qi = q + r * s.e;
    const float *kn = kNew + s.kNewAt(b, h), *vn = vNew + s.vNewAt(b, h);
    float *sc = scratch + r * (s.tc + 1);
    float mx = -FLT_MAX;
    for (i64 j = threadIdx.x; j <= p; j += blockDim.x) {
      float v = s.scale * (j < p ? dotCached(qi, kPast, s.kPastAt(table, b, h, j), s.e, s.cacheType)
                                 : dot(qi, kn, s.e));
      if (s.reciprocalAt(p, j))
        v += a * s.scale *
             (j == p ? dot(qi, kn, s.e)
                     : dotCached(kRecip + r * s.er, qPast, s.qPastAt(table, b, h, j), s.er,
                                 s.cacheType));
      sc[j] = v;
      mx = v > mx ? v : mx;
    }
    mx = blockReduce<Combine::Max>(mx, -FLT_MAX);
    float sum = 0.f;
    for (i64 j = threadIdx.x; j <= p; j += blockDim.x)
      sum += (sc[j] = expf(sc[j] - mx));
    sum = blockReduce<Combine::Sum>(sum, 0.f); // its barriers order the writes above
    float inv = 1.f / sum;
    for (i64 c = threadIdx.x; c < s.dv; c += blockDim.x) {
      float acc = 0.f;
      for (i64 j = 0; j <= p; ++j)
        acc += sc[j] *
               (j < p ? ra_dtype::load(vPast, s.vPastAt(table, b, h, j) + c, s.cacheType) : vn[c]);
      out[r * s.dv + c] = acc * inv;
    }
    __syncthreads(); // the scores are read before the next row's overwrite them
  }
}

__global__ void runningMeanKernel(const float *sum, const float *x, const int32_t *lengths,
                                  float *out, i64 rows, i64 width) {
  RA_GRID_STRIDE(i, rows * width) {
    int32_t p = lengths[i / width];
    out[i] = (sum[i] + x[i]) / float((p < 0 ? 0 : p) + 1);
  }
}

inline void cachedAttention(const CachedAttentionShape &s, const float *q, const void *kPast,
                            const float *kNew, const void *vPast, const float *vNew,
                            const int32_t *lengths, const float *alpha, const void *qPast,
                            const float *kRecip, const int32_t *table, float *out, float *scratch) {
  i64 rows = s.b * s.h;
  RA_LAUNCH(cachedAttentionKernel, dim3(unsigned(rows < 65535 ? rows : 65535)), dim3(kThreads), 0,
            s, q, kPast, kNew, vPast, vNew, lengths, alpha, qPast, kRecip, table, out, scratch);
}

inline void runningMean(const float *sum, const float *x, const int32_t *lengths, float *out,
                        i64 rows, i64 width) {
  RA_LAUNCH(runningMeanKernel, dim3(gridFor(rows * width)), dim3(kThreads), 0, sum, x, lengths, out,
            rows, width);
}

} // namespace ra_cuda

#endif // RA_CUDA_DECODE_CUH
