//===- ra_cpu_decode.h - the decoding kernels --------------------*- C++ -*-===//
//
// @decode's position-mixing kernels (passes/DeriveDecoding.cpp): one new
// query per sequence against its cache (ra.cached_attention), and a causal
// mean from its running sum (ra.running_mean). A sequence's position is
// data (lengths[b]); rarun checks it lies in the cache before the call.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_DECODE_H
#define RA_CPU_DECODE_H

#include "ra_cpu_common.h"

namespace ra_cpu {
using ra_attention::CachedAttentionShape;
} // namespace ra_cpu

#ifdef RA_CPU_KERNELS_PRECOMPILED
namespace ra_cpu {
void cachedAttention(const CachedAttentionShape &s, const float *q, const void *kPast,
                     const float *kNew, const void *vPast, const float *vNew,
                     const int32_t *lengths, const float *alpha, const void *qPast,
                     const float *kRecip, const int32_t *table, float *out);
void runningMean(const float *sum, const float *x, const int32_t *lengths, float *out, i64 rows,
                 i64 width);
} // namespace ra_cpu
#else

namespace ra_cpu {

/// A cache's element as float32: T is float, or uint16_t holding an f16
/// or a bf16 (D says which). With F16C the compiler's _Float16 converts in
/// one vector instruction (exactly, as ra_dtype's portable form does).
template <ra_dtype::Dtype D, class T> inline float cacheValue(T x) {
  if constexpr (D == ra_dtype::Dtype::F16)
#if defined(__F16C__) && defined(__FLT16_MANT_DIG__)
    return float(__builtin_bit_cast(_Float16, x));
#else
    return ra_dtype::f16ToFloat(x);
#endif
  else if constexpr (D == ra_dtype::Dtype::BF16)
    return ra_dtype::bf16ToFloat(x);
  else
    return x;
}

template <ra_dtype::Dtype D = ra_dtype::Dtype::F32, class T>
inline float dotRow(const float *x, const T *y, i64 n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (i64 c = 0; c < n; ++c)
    s += x[c] * cacheValue<D>(y[c]);
  return s;
}

/// Keys a task of cachedAttention scores, for every head of its sequence,
/// when the caches are not paged (paged: a block).
constexpr i64 kDecodeKeyChunk = 128;

/// Split over the keys, as flash-decoding does: a task is one sequence's
/// chunk of cached positions for all its heads (one block of a paged cache,
/// whose rows are contiguous; else kDecodeKeyChunk positions), so that one
/// sequence's long cache is read by every thread and a chunk of MLA's
/// shared latents is read from memory once for all heads (it stays in
/// cache across them). Each task keeps, per head, its chunk's largest score,
/// the sum of exp(s - max) and the values weighted by it; a second pass
/// merges the chunks of each (sequence, head) in order. RA's reciprocal
/// term reads the kept queries of the band. The caches' elements are T (a
/// float, or the bits of an f16 or bf16: D), converted as they are read.
template <ra_dtype::Dtype D, class T>
void cachedAttentionOf(const CachedAttentionShape &s, const float *q, const T *kPast,
                       const float *kNew, const T *vPast, const float *vNew, const int32_t *lengths,
                       const float *alpha, const T *qPast, const float *kRecip,
                       const int32_t *table, float *out) {
  float a = alpha ? *alpha : 0.f;
  const i64 chunk = s.block > 0 ? s.block : kDecodeKeyChunk;
  const i64 chunks = (s.tc + chunk - 1) / chunk;
  const i64 stride = 2 + s.dv; // per head and chunk: max, sum, dv weighted values
  std::vector<i64> position(s.b);
  i64 work = 0;
  for (i64 b = 0; b < s.b; ++b) {
    position[b] = std::min<i64>(std::max<i64>(lengths[b], 0), s.tc - 1);
    work += position[b] + 1;
  }
  std::vector<float> partial(s.b * chunks * s.h * stride);
  (void)work; // read by the OpenMP clause only
#pragma omp parallel if (work * s.h * (s.e + s.dv) >= kParallelMin)
  {
    std::vector<float> sc(s.h * chunk);
#pragma omp for collapse(2) schedule(dynamic)
    for (i64 b = 0; b < s.b; ++b)
      for (i64 c = 0; c < chunks; ++c) {
        const i64 p = position[b], first = c * chunk;
        const i64 last = std::min(p, first + chunk - 1); // inclusive
        if (first > last)
          continue;
        for (i64 h = 0; h < s.h; ++h) {
          const float *qi = q + (b * s.h + h) * s.e;
          // The chunk's cached rows are contiguous from its first.
          const T *kp = kPast + s.kPastAt(table, b, h, first);
          const float *kn = kNew + s.kNewAt(b, h);
          float *row = sc.data() + h * chunk;
          float mx = -std::numeric_limits<float>::infinity();
          for (i64 j = first; j <= last; ++j) {
            float v = s.scale *
                      (j < p ? dotRow<D>(qi, kp + (j - first) * s.e, s.e) : dotRow(qi, kn, s.e));
            if (s.reciprocalAt(p, j)) {
              float back = j == p ? dotRow(qi, kn, s.e)
                                  : dotRow<D>(kRecip + (b * s.h + h) * s.er,
                                              qPast + s.qPastAt(table, b, h, j), s.er);
              v += a * s.scale * back;
            }
            row[j - first] = v;
            mx = std::max(mx, v);
          }
          float sum = 0;
          for (i64 j = first; j <= last; ++j)
            sum += (row[j - first] = std::exp(row[j - first] - mx));
          float *part = partial.data() + ((b * chunks + c) * s.h + h) * stride;
          part[0] = mx;
          part[1] = sum;
          float *acc = part + 2;
          std::fill(acc, acc + s.dv, 0.f);
          const T *vp = vPast + s.vPastAt(table, b, h, first);
          const float *vn = vNew + s.vNewAt(b, h);
          for (i64 j = first; j <= last; ++j) {
            float w = row[j - first];
            if (j < p) {
              const T *vj = vp + (j - first) * s.dv;
#pragma omp simd
              for (i64 d = 0; d < s.dv; ++d)
                acc[d] += w * cacheValue<D>(vj[d]);
            } else {
#pragma omp simd
              for (i64 d = 0; d < s.dv; ++d)
                acc[d] += w * vn[d];
            }
          }
        }
      }
  }
  for (i64 b = 0; b < s.b; ++b) {
    i64 used = position[b] / chunk + 1;
    for (i64 h = 0; h < s.h; ++h) {
      float mx = -std::numeric_limits<float>::infinity();
      for (i64 c = 0; c < used; ++c)
        mx = std::max(mx, partial[((b * chunks + c) * s.h + h) * stride]);
      double sum = 0;
      float *o = out + (b * s.h + h) * s.dv;
      std::fill(o, o + s.dv, 0.f);
      for (i64 c = 0; c < used; ++c) {
        const float *part = partial.data() + ((b * chunks + c) * s.h + h) * stride;
        float w = std::exp(part[0] - mx);
        sum += double(part[1]) * w;
        for (i64 d = 0; d < s.dv; ++d)
          o[d] += w * part[2 + d];
      }
      float inv = float(1.0 / sum);
      for (i64 d = 0; d < s.dv; ++d)
        o[d] *= inv;
    }
  }
}

RA_CPU_SHARED_KERNEL void cachedAttention(const CachedAttentionShape &s, const float *q,
                                          const void *kPast, const float *kNew, const void *vPast,
                                          const float *vNew, const int32_t *lengths,
                                          const float *alpha, const void *qPast,
                                          const float *kRecip, const int32_t *table, float *out) {
  using ra_dtype::Dtype;
  auto half = [](const void *p) { return static_cast<const uint16_t *>(p); };
  auto full = [](const void *p) { return static_cast<const float *>(p); };
  if (s.cacheType == Dtype::F16)
    cachedAttentionOf<Dtype::F16>(s, q, half(kPast), kNew, half(vPast), vNew, lengths, alpha,
                                  half(qPast), kRecip, table, out);
  else if (s.cacheType == Dtype::BF16)
    cachedAttentionOf<Dtype::BF16>(s, q, half(kPast), kNew, half(vPast), vNew, lengths, alpha,
                                   half(qPast), kRecip, table, out);
  else
    cachedAttentionOf<Dtype::F32>(s, q, full(kPast), kNew, full(vPast), vNew, lengths, alpha,
                                  full(qPast), kRecip, table, out);
}

/// out = (sum + x) / (lengths[b] + 1) for each of `rows` sequences.
RA_CPU_SHARED_KERNEL void runningMean(const float *sum, const float *x, const int32_t *lengths,
                                      float *out, i64 rows, i64 width) {
  for (i64 b = 0; b < rows; ++b) {
    float inv = 1.f / float(std::max<int32_t>(lengths[b], 0) + 1);
    for (i64 c = b * width; c < (b + 1) * width; ++c)
      out[c] = (sum[c] + x[c]) * inv;
  }
}

} // namespace ra_cpu

#endif // RA_CPU_KERNELS_PRECOMPILED
#endif // RA_CPU_DECODE_H
