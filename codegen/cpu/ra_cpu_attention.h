//===- ra_cpu_attention.h - attention with its scores in memory --*- C++ -*-===//
//
// The unfused attention kernels: each head's [Tq, Tk] scores and
// probabilities in a thread's buffers (flash attention is ra_cpu_flash_attention.h).
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_ATTENTION_H
#define RA_CPU_ATTENTION_H

#include "ra_cpu_common.h"

namespace ra_cpu {
using ra_attention::AttentionShape;
} // namespace ra_cpu

#ifdef RA_CPU_KERNELS_PRECOMPILED
// Declarations only in a model's source (see ra_cpu_flash_attention.h).
namespace ra_cpu {
void attention(const AttentionShape &s, const float *q, const float *k, const float *v,
               const float *alpha, float *out);
void attentionGrad(const AttentionShape &s, const float *q, const float *k, const float *v,
                   const float *alpha, const float *dy, float *dq, float *dk, float *dv,
                   float *dalpha);
} // namespace ra_cpu
#else

namespace ra_cpu {

/// Scores S over the whole matrix (the reciprocal term reads S[j, i]) and
/// probabilities P of the masked S_ra.
inline void scoresAndProbs(const AttentionShape &s, const float *q, const float *k, float alpha,
                           float *sc, float *p) {
  for (i64 i = 0; i < s.tq; ++i)
    for (i64 j = 0; j < s.tk; ++j) {
      float dot = 0;
      for (i64 c = 0; c < s.e; ++c)
        dot += q[i * s.e + c] * k[j * s.e + c];
      sc[i * s.tk + j] = s.scale * dot;
    }
  for (i64 i = 0; i < s.tq; ++i) {
    i64 last = s.causal ? std::min(i, s.tk - 1) : s.tk - 1;
    float mx = -std::numeric_limits<float>::infinity();
    for (i64 j = 0; j <= last; ++j) {
      float v = sc[i * s.tk + j] + (s.reciprocalAt(i, j) ? alpha * sc[j * s.tk + i] : 0.f);
      p[i * s.tk + j] = v;
      mx = std::max(mx, v);
    }
    double sum = 0;
    for (i64 j = 0; j <= last; ++j)
      sum += (p[i * s.tk + j] = std::exp(p[i * s.tk + j] - mx));
    float inv = float(1.0 / sum);
    for (i64 j = 0; j < s.tk; ++j)
      p[i * s.tk + j] = j <= last ? p[i * s.tk + j] * inv : 0.f;
  }
}

RA_CPU_SHARED_KERNEL void attention(const AttentionShape &s, const float *q, const float *k,
                                    const float *v, const float *alpha, float *out) {
#pragma omp parallel
  {
    std::vector<float> sc(s.tq * s.tk), p(s.tq * s.tk);
#pragma omp for collapse(2)
    for (i64 b = 0; b < s.b; ++b)
      for (i64 h = 0; h < s.h; ++h) {
        const float *qh = q + s.qAt(b, h), *kh = k + s.kAt(b, h), *vh = v + s.vAt(b, h);
        scoresAndProbs(s, qh, kh, alpha ? *alpha : 0.f, sc.data(), p.data());
        float *o = out + (b * s.h + h) * s.tq * s.dv;
        for (i64 i = 0; i < s.tq; ++i) {
          float *oi = o + i * s.dv;
          std::fill(oi, oi + s.dv, 0.f);
          for (i64 j = 0; j < s.tk; ++j) {
            float pij = p[i * s.tk + j];
            if (pij != 0.f)
              for (i64 c = 0; c < s.dv; ++c)
                oi[c] += pij * vh[j * s.dv + c];
          }
        }
      }
  }
}

/// dq, dk, dv (zeroed here; shared k/v sum over heads) and dalpha.
RA_CPU_SHARED_KERNEL void attentionGrad(const AttentionShape &s, const float *q, const float *k,
                                        const float *v, const float *alpha, const float *dy,
                                        float *dq, float *dk, float *dv, float *dalpha) {
  std::memset(dq, 0, sizeof(float) * s.b * s.h * s.tq * s.e);
  std::memset(dk, 0, sizeof(float) * s.b * (s.kShared ? 1 : s.h) * s.tk * s.e);
  std::memset(dv, 0, sizeof(float) * s.b * (s.vShared ? 1 : s.h) * s.tk * s.dv);
  float a = alpha ? *alpha : 0.f;
  // Heads that share k or v write the same gradient rows: parallel over batch only then.
  bool shared = s.kShared || s.vShared;
  // d alpha per (batch, head), summed in order afterwards: deterministic.
  std::vector<double> daParts(s.b * s.h, 0.0);
#pragma omp parallel
  {
    std::vector<float> sc(s.tq * s.tk), p(s.tq * s.tk), dp(s.tq * s.tk), ds(s.tq * s.tk);
#pragma omp for collapse(2)
    for (i64 b = 0; b < s.b; ++b)
      for (i64 hh = 0; hh < (shared ? 1 : s.h); ++hh)
        for (i64 h = shared ? 0 : hh; h < (shared ? s.h : hh + 1); ++h) {
          const float *qh = q + (b * s.h + h) * s.tq * s.e;
          const float *kh = k + (s.kShared ? b : b * s.h + h) * s.tk * s.e;
          const float *vh = v + (s.vShared ? b : b * s.h + h) * s.tk * s.dv;
          const float *g = dy + (b * s.h + h) * s.tq * s.dv;
          float *dqh = dq + (b * s.h + h) * s.tq * s.e;
          float *dkh = dk + (s.kShared ? b : b * s.h + h) * s.tk * s.e;
          float *dvh = dv + (s.vShared ? b : b * s.h + h) * s.tk * s.dv;
          scoresAndProbs(s, qh, kh, a, sc.data(), p.data());
          for (i64 i = 0; i < s.tq; ++i)
            for (i64 j = 0; j < s.tk; ++j) {
              float pij = p[i * s.tk + j], d = 0;
              for (i64 c = 0; c < s.dv; ++c) {
                d += g[i * s.dv + c] * vh[j * s.dv + c];
                dvh[j * s.dv + c] += pij * g[i * s.dv + c];
              }
              dp[i * s.tk + j] = d;
            }
          std::fill(ds.begin(), ds.end(), 0.f);
          for (i64 i = 0; i < s.tq; ++i) {
            double dot = 0;
            for (i64 j = 0; j < s.tk; ++j)
              dot += p[i * s.tk + j] * dp[i * s.tk + j];
            for (i64 j = 0; j < s.tk; ++j) {
              float dsra = p[i * s.tk + j] * (dp[i * s.tk + j] - float(dot));
              ds[i * s.tk + j] += dsra;
              if (s.reciprocalAt(i, j)) {
                ds[j * s.tk + i] += a * dsra;
                daParts[b * s.h + h] += dsra * sc[j * s.tk + i];
              }
            }
          }
          for (i64 i = 0; i < s.tq; ++i)
            for (i64 j = 0; j < s.tk; ++j) {
              float d = s.scale * ds[i * s.tk + j];
              if (d == 0.f)
                continue;
              for (i64 c = 0; c < s.e; ++c) {
                dqh[i * s.e + c] += d * kh[j * s.e + c];
                dkh[j * s.e + c] += d * qh[i * s.e + c];
              }
            }
        }
  }
  storeSum(daParts, dalpha);
}

} // namespace ra_cpu

#endif // RA_CPU_KERNELS_PRECOMPILED

#endif // RA_CPU_ATTENTION_H
