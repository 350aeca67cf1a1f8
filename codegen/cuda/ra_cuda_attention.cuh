//===- ra_cuda_attention.cuh - attention row kernels ------------*- C++ -*-===//
//
// Attention (standard, MLA's shared latents, RA's reciprocal term and band):
// a block per query row walking keys in chunks, which also keeps the row's
// log-sum-exp and applies a gate for the flash forms, and the unfused backward
// with its probabilities in scratch. No atomics.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_ATTENTION_CUH
#define RA_CUDA_ATTENTION_CUH

#include "ra_cuda_common.cuh"
#include "ra_cuda_tc_attention.cuh"

namespace ra_cuda {

//===----------------------------------------------------------------------===//
// Attention: a block per (batch, head, query row). The row's keys are walked
// in chunks of kKeyChunk, a chunk of probabilities at a time in shared
// memory, so any sequence length fits and no [Tq, Tk] matrix is stored.
//===----------------------------------------------------------------------===//

constexpr int kKeyChunk = 1024;

using ra_attention::AttentionShape;

__device__ __forceinline__ float dot(const float *a, const float *b, i64 n) {
  float s = 0.f;
  for (i64 c = 0; c < n; ++c)
    s += a[c] * b[c];
  return s;
}

__device__ __forceinline__ i64 lastKey(const AttentionShape &s, i64 i) { return s.lastKey(i); }

/// S_ra[i, j] of head (b, h): scale q_i . k_j, plus alpha scale q_j . k_i
/// where RA's reciprocal term applies.
__device__ __forceinline__ float scoreRa(const AttentionShape &s, const float *q, const float *k,
                                         float a, i64 b, i64 h, i64 i, i64 j) {
  const float *qh = q + s.qAt(b, h), *kh = k + s.kAt(b, h);
  float score = s.scale * dot(qh + i * s.e, kh + j * s.e, s.e);
  if (s.reciprocalAt(i, j))
    score += a * s.scale * dot(qh + j * s.e, kh + i * s.e, s.e);
  return score;
}

/// With `lse`, each row's log-sum-exp too (flash_attention); with `gated`,
/// also the row times its `gate` (gated_flash_attention's epilogue). A row
/// that fits one chunk keeps its scores from the first pass; a longer one
/// computes them again in the second.
__global__ void attentionKernel(AttentionShape s, const float *q, const float *k, const float *v,
                                const float *alpha, float *out, float *lse, const float *gate,
                                float *gated) {
  RA_SHARED(float, p, kKeyChunk);
  float a = alpha ? *alpha : 0.f;
  for (i64 r = blockIdx.x; r < s.b * s.h * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bh = r / s.tq, bb = bh / s.h, hh = bh % s.h;
    const float *vh = v + s.vAt(bb, hh);
    i64 last = lastKey(s, i);
    bool fits = last < kKeyChunk;
    // Pass 1: the row's max and sum, online per thread, merged over the block.
    float mx = -FLT_MAX, sum = 0.f;
    for (i64 j = threadIdx.x; j <= last; j += blockDim.x) {
      float score = scoreRa(s, q, k, a, bb, hh, i, j);
      if (fits)
        p[j] = score;
      if (score > mx) {
        sum = sum * expf(mx - score) + 1.f;
        mx = score;
      } else {
        sum += expf(score - mx);
      }
    }
    float rowMax = blockReduce<Combine::Max>(mx, -FLT_MAX);
    float rowSum = blockReduce<Combine::Sum>(sum * expf(mx - rowMax), 0.f);
    float rowLse = rowMax + logf(rowSum);
    // Pass 2: P a chunk at a time, then that chunk's share of the output.
    float *o = out + r * s.dv;
    for (i64 j0 = 0; j0 <= last; j0 += kKeyChunk) {
      i64 n = last + 1 - j0 < kKeyChunk ? last + 1 - j0 : kKeyChunk;
      for (i64 jj = threadIdx.x; jj < n; jj += blockDim.x)
        p[jj] = expf((fits ? float(p[jj]) : scoreRa(s, q, k, a, bb, hh, i, j0 + jj)) - rowLse);
      __syncthreads();
      for (i64 c = threadIdx.x; c < s.dv; c += blockDim.x) {
        float acc = 0.f;
        for (i64 jj = 0; jj < n; ++jj)
          acc += float(p[jj]) * vh[(j0 + jj) * s.dv + c];
        o[c] = j0 ? o[c] + acc : acc;
      }
      __syncthreads(); // p is read by all before the next chunk or row overwrites it
    }
    for (i64 c = threadIdx.x; gated && c < s.dv; c += blockDim.x)
      gated[r * s.dv + c] = o[c] * gate[r];
    if (lse && threadIdx.x == 0)
      lse[r] = rowLse;
  }
}

inline void attention(const AttentionShape &s, const float *q, const float *k, const float *v,
                      const float *alpha, float *out) {
  if (tcAttentionApplies(s))
    return tcAttention(s, q, k, v, alpha, out, nullptr, nullptr, nullptr);
  RA_LAUNCH(attentionKernel, dim3(rowsGrid(s.b * s.h * s.tq)), dim3(kThreads), 0, s, q, k, v, alpha,
            out, (float *)nullptr, (const float *)nullptr, (float *)nullptr);
}

/// flash_attention: the row kernel also keeps each row's log-sum-exp.
inline void flashAttention(const AttentionShape &s, const float *q, const float *k, const float *v,
                           const float *alpha, float *out, float *lse, const float *gate = nullptr,
                           float *gated = nullptr) {
  if (tcAttentionApplies(s))
    return tcAttention(s, q, k, v, alpha, out, lse, gate, gated);
  RA_LAUNCH(attentionKernel, dim3(rowsGrid(s.b * s.h * s.tq)), dim3(kThreads), 0, s, q, k, v, alpha,
            out, lse, gate, gated);
}

//===----------------------------------------------------------------------===//
// Attention backward, without atomics: (1) per query row, the probabilities
// P and dS_ra = P (dP - rowsum(P dP)) into scratch, d alpha per row; (2) per
// query row, dq from dS = dS_ra + alpha dS_ra^T (where the RA term applies);
// (3) per key row (summing heads that share it), dk and dv; (4) d alpha.
//===----------------------------------------------------------------------===//

__global__ void attentionGradRowsKernel(AttentionShape s, const float *q, const float *k,
                                        const float *v, const float *alpha, const float *dy,
                                        float *probs, float *dsra, float *alphaParts) {
  for (i64 r = blockIdx.x; r < s.b * s.h * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bh = r / s.tq, bb = bh / s.h, hh = bh % s.h;
    const float *qh = q + s.qAt(bb, hh), *kh = k + s.kAt(bb, hh), *vh = v + s.vAt(bb, hh);
    const float *g = dy + r * s.dv;
    float *p = probs + r * s.tk, *ds = dsra + r * s.tk;
    i64 last = lastKey(s, i);
    float a = alpha ? *alpha : 0.f, mx = -FLT_MAX;
    for (i64 j = threadIdx.x; j < s.tk; j += blockDim.x) {
      float score = j <= last ? scoreRa(s, q, k, a, bb, hh, i, j) : -FLT_MAX;
      p[j] = score;
      mx = score > mx ? score : mx;
    }
    mx = blockReduce<Combine::Max>(mx, -FLT_MAX);
    float sum = 0.f;
    for (i64 j = threadIdx.x; j < s.tk; j += blockDim.x) {
      float e = j <= last ? expf(p[j] - mx) : 0.f;
      p[j] = e;
      sum += e;
    }
    sum = blockReduce<Combine::Sum>(sum, 0.f);
    float dotPdP = 0.f;
    for (i64 j = threadIdx.x; j < s.tk; j += blockDim.x) {
      p[j] /= sum;
      float dp = j <= last ? dot(g, vh + j * s.dv, s.dv) : 0.f;
      ds[j] = dp;
      dotPdP += p[j] * dp;
    }
    dotPdP = blockReduce<Combine::Sum>(dotPdP, 0.f);
    float da = 0.f;
    for (i64 j = threadIdx.x; j < s.tk; j += blockDim.x) {
      ds[j] = p[j] * (ds[j] - dotPdP);
      if (s.reciprocalAt(i, j))
        da += ds[j] * s.scale * dot(qh + j * s.e, kh + i * s.e, s.e);
    }
    da = blockReduce<Combine::Sum>(da, 0.f);
    if (threadIdx.x == 0)
      alphaParts[r] = da;
  }
}

/// dS[i, j] = dS_ra[i, j] + alpha dS_ra[j, i] where RA links (row j, key i).
__device__ __forceinline__ float fullDs(const AttentionShape &s, const float *dsraHead, float a,
                                        i64 i, i64 j) {
  float d = dsraHead[i * s.tk + j];
  if (s.reciprocalAt(j, i))
    d += a * dsraHead[j * s.tk + i];
  return d;
}

__global__ void attentionGradQueryKernel(AttentionShape s, const float *k, const float *alpha,
                                         const float *dsra, float *dq) {
  float a = alpha ? *alpha : 0.f;
  RA_GRID_STRIDE(x, s.b * s.h * s.tq * s.e) {
    i64 c = x % s.e, r = x / s.e, i = r % s.tq, bh = r / s.tq;
    const float *kh = k + s.kAt(bh / s.h, bh % s.h);
    const float *dsh = dsra + bh * s.tq * s.tk;
    float acc = 0.f;
    for (i64 j = 0; j < s.tk; ++j)
      acc += fullDs(s, dsh, a, i, j) * kh[j * s.e + c];
    dq[x] = s.scale * acc;
  }
}

/// A thread per (key row, feature): dk = scale sum_i dS[i, j] q_i and
/// dv = sum_i P[i, j] dy_i, over every head that uses this key row.
__global__ void attentionGradKeyKernel(AttentionShape s, const float *q, const float *alpha,
                                       const float *dy, const float *probs, const float *dsra,
                                       float *dk, float *dv) {
  float a = alpha ? *alpha : 0.f;
  i64 kHeads = s.kShared ? 1 : s.h, vHeads = s.vShared ? 1 : s.h;
  RA_GRID_STRIDE(x, s.b * kHeads * s.tk * s.e) {
    i64 c = x % s.e, j = (x / s.e) % s.tk, bk = x / (s.e * s.tk);
    i64 bb = bk / kHeads, h0 = s.kShared ? 0 : bk % kHeads, h1 = s.kShared ? s.h : h0 + 1;
    float acc = 0.f;
    for (i64 h = h0; h < h1; ++h) {
      i64 bh = bb * s.h + h;
      for (i64 i = 0; i < s.tq; ++i)
        acc += fullDs(s, dsra + bh * s.tq * s.tk, a, i, j) * q[(bh * s.tq + i) * s.e + c];
    }
    dk[x] = s.scale * acc;
  }
  RA_GRID_STRIDE(x, s.b * vHeads * s.tk * s.dv) {
    i64 c = x % s.dv, j = (x / s.dv) % s.tk, bv = x / (s.dv * s.tk);
    i64 bb = bv / vHeads, h0 = s.vShared ? 0 : bv % vHeads, h1 = s.vShared ? s.h : h0 + 1;
    float acc = 0.f;
    for (i64 h = h0; h < h1; ++h) {
      i64 bh = bb * s.h + h;
      for (i64 i = 0; i < s.tq; ++i)
        acc += probs[(bh * s.tq + i) * s.tk + j] * dy[(bh * s.tq + i) * s.dv + c];
    }
    dv[x] = acc;
  }
}

/// d alpha = the sum of the rows' parts, in row order (nothing without RA).
inline void sumAlphaParts(const float *parts, float *dalpha, i64 rows) {
  if (dalpha)
    RA_LAUNCH(scaledSumKernel, dim3(1), dim3(kThreads), 0, parts, dalpha, rows, 1.f);
}

inline void attentionGrad(const AttentionShape &s, const float *q, const float *k, const float *v,
                          const float *alpha, const float *dy, float *dq, float *dk, float *dv,
                          float *dalpha, float *scratch) {
  i64 rows = s.b * s.h * s.tq;
  float *probs = scratch, *dsra = scratch + rows * s.tk, *parts = dsra + rows * s.tk;
  RA_LAUNCH(attentionGradRowsKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, s, q, k, v, alpha, dy,
            probs, dsra, parts);
  RA_LAUNCH(attentionGradQueryKernel, dim3(gridFor(rows * s.e)), dim3(kThreads), 0, s, k, alpha,
            (const float *)dsra, dq);
  i64 keyWork = s.b * (s.kShared ? 1 : s.h) * s.tk * (s.e > s.dv ? s.e : s.dv);
  RA_LAUNCH(attentionGradKeyKernel, dim3(gridFor(keyWork)), dim3(kThreads), 0, s, q, alpha, dy,
            (const float *)probs, (const float *)dsra, dk, dv);
  sumAlphaParts(parts, dalpha, rows);
}

} // namespace ra_cuda

#endif // RA_CUDA_ATTENTION_CUH
