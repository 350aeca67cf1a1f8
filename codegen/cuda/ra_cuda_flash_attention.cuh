//===- ra_cuda_flash_attention.cuh - flash backward, head-mean attention -*- C++ -*-===//
//
// The flash backward recomputing P and dS from the rows' log-sum-exps (plain,
// gated), and mechanism 2's attention averaged over heads on a sibling's
// log-sum-exps, forward and backward.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_FLASH_ATTENTION_CUH
#define RA_CUDA_FLASH_ATTENTION_CUH

#include "ra_cuda_attention.cuh"
#include "ra_cuda_gemm.cuh"

namespace ra_cuda {

//===----------------------------------------------------------------------===//
// Flash attention backward: no [Tq, Tk] matrix in device memory. P and dS_ra
// are recomputed where they are needed from lse and each row's D; a block
// owns a query row (dq) or a key row (dk, dv) of every head that reads it,
// so there are no atomics and sums run in a fixed order.
//===----------------------------------------------------------------------===//

/// What recomputes an entry of P or dS_ra: P = exp(S_ra - lse); dP = dy_i . v_j,
/// or for head_mean_attention_grad dpbar[b, i, j] / H (every head's); D =
/// delta[row].
struct FlashGrad {
  AttentionShape s;
  const float *q, *k, *v, *alpha, *dy, *lse, *delta, *dpbar;
  float a = 0.f; // *alpha, read by each kernel on the device

  __device__ void readAlpha() { a = alpha ? *alpha : 0.f; }

  __device__ float prob(i64 b, i64 h, i64 i, i64 j) const {
    if (j > lastKey(s, i))
      return 0.f;
    return expf(scoreRa(s, q, k, a, b, h, i, j) - lse[(b * s.h + h) * s.tq + i]);
  }
  __device__ float dp(i64 b, i64 h, i64 i, i64 j) const {
    if (dpbar)
      return dpbar[(b * s.tq + i) * s.tk + j] / float(s.h);
    return dot(dy + ((b * s.h + h) * s.tq + i) * s.dv, v + s.vAt(b, h) + j * s.dv, s.dv);
  }
  /// dS_ra[i, j], 0 where key j is masked for query i.
  __device__ float dsRa(i64 b, i64 h, i64 i, i64 j) const {
    float pij = prob(b, h, i, j);
    return pij == 0.f ? 0.f : pij * (dp(b, h, i, j) - delta[(b * s.h + h) * s.tq + i]);
  }
  /// The gradient of S[i, j]: directly, and through RA's term of row j.
  __device__ float ds(i64 b, i64 h, i64 i, i64 j) const {
    float d = dsRa(b, h, i, j);
    if (s.reciprocalAt(j, i))
      d += a * dsRa(b, h, j, i);
    return d;
  }
};

/// D per row: rowsum(dy * y), or with dpbar rowsum(P dP).
__global__ void flashGradDeltaKernel(FlashGrad g, const float *y, float *delta) {
  g.readAlpha();
  const AttentionShape &s = g.s;
  for (i64 r = blockIdx.x; r < s.b * s.h * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bh = r / s.tq, bb = bh / s.h, hh = bh % s.h;
    float part = 0.f;
    if (g.dpbar)
      for (i64 j = threadIdx.x; j <= lastKey(s, i); j += blockDim.x)
        part += g.prob(bb, hh, i, j) * g.dp(bb, hh, i, j);
    else
      for (i64 c = threadIdx.x; c < s.dv; c += blockDim.x)
        part += g.dy[r * s.dv + c] * y[r * s.dv + c];
    part = blockReduce<Combine::Sum>(part, 0.f);
    if (threadIdx.x == 0)
      delta[r] = part;
  }
}

/// A block per query row: dq = scale sum_j dS[i, j] k_j over the keys with
/// a share (j <= last, or RA's row j reaching back to key i), a chunk of dS
/// at a time in shared memory; and the row's d alpha.
__global__ void flashGradQueryKernel(FlashGrad g, float *dq, float *alphaParts) {
  RA_SHARED(float, ds, kKeyChunk);
  g.readAlpha();
  const AttentionShape &s = g.s;
  for (i64 r = blockIdx.x; r < s.b * s.h * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bh = r / s.tq, bb = bh / s.h, hh = bh % s.h;
    i64 last = lastKey(s, i), end = last + 1;
    if (s.reciprocal)
      end = s.band < 0 || i + s.band + 1 > s.tk ? s.tk
                                                : (i + s.band + 1 > end ? i + s.band + 1 : end);
    const float *kh = g.k + s.kAt(bb, hh), *qh = g.q + s.qAt(bb, hh);
    float da = 0.f;
    for (i64 c = threadIdx.x; c < s.e; c += blockDim.x)
      dq[r * s.e + c] = 0.f;
    for (i64 j0 = 0; j0 < end; j0 += kKeyChunk) {
      i64 n = end - j0 < kKeyChunk ? end - j0 : kKeyChunk;
      for (i64 jj = threadIdx.x; jj < n; jj += blockDim.x) {
        i64 j = j0 + jj;
        float direct = g.dsRa(bb, hh, i, j), d = direct;
        if (s.reciprocalAt(j, i))
          d += g.a * g.dsRa(bb, hh, j, i);
        if (s.reciprocalAt(i, j)) // alpha's share: dS_ra[i, j] S[j, i]
          da += direct * s.scale * dot(qh + j * s.e, kh + i * s.e, s.e);
        ds[jj] = d;
      }
      __syncthreads();
      for (i64 c = threadIdx.x; c < s.e; c += blockDim.x) {
        float acc = 0.f;
        for (i64 jj = 0; jj < n; ++jj)
          acc += float(ds[jj]) * kh[(j0 + jj) * s.e + c];
        dq[r * s.e + c] += s.scale * acc;
      }
      __syncthreads();
    }
    da = blockReduce<Combine::Sum>(da, 0.f);
    if (alphaParts && threadIdx.x == 0)
      alphaParts[r] = da;
  }
}

/// The first query row that can give key j a gradient: causal rows start at
/// j, and RA's row j reaches back to the keys (queries) `band` before it.
__device__ __forceinline__ i64 firstQuery(const AttentionShape &s, i64 j) {
  i64 first = s.causal ? j : 0;
  if (s.reciprocal) {
    i64 back = s.band < 0 ? 0 : (j - s.band > 0 ? j - s.band : 0);
    first = back < first ? back : first;
  }
  return first;
}

/// A block per key row of k (dk = scale sum_i dS[i, j] q_i) or, with
/// `value`, of v (dv = sum_i P[i, j] dy_i), over every head that reads it,
/// in head order; a chunk of a column of dS or P at a time in shared memory.
__global__ void flashGradKeyKernel(FlashGrad g, bool value, float *out) {
  RA_SHARED(float, col, kKeyChunk);
  g.readAlpha();
  const AttentionShape &s = g.s;
  bool shared = value ? s.vShared : s.kShared;
  i64 groups = shared ? 1 : s.h, width = value ? s.dv : s.e;
  for (i64 r = blockIdx.x; r < s.b * groups * s.tk; r += gridDim.x) {
    i64 j = r % s.tk, bg = r / s.tk, bb = bg / groups;
    i64 h0 = shared ? 0 : bg % groups, h1 = shared ? s.h : h0 + 1;
    i64 first = value ? (s.causal ? j : 0) : firstQuery(s, j);
    for (i64 c = threadIdx.x; c < width; c += blockDim.x)
      out[r * width + c] = 0.f;
    for (i64 hh = h0; hh < h1; ++hh) {
      const float *rows = value ? g.dy + (bb * s.h + hh) * s.tq * s.dv : g.q + s.qAt(bb, hh);
      for (i64 i0 = first; i0 < s.tq; i0 += kKeyChunk) {
        i64 n = s.tq - i0 < kKeyChunk ? s.tq - i0 : kKeyChunk;
        for (i64 ii = threadIdx.x; ii < n; ii += blockDim.x)
          col[ii] = value ? g.prob(bb, hh, i0 + ii, j) : s.scale * g.ds(bb, hh, i0 + ii, j);
        __syncthreads();
        for (i64 c = threadIdx.x; c < width; c += blockDim.x) {
          float acc = 0.f;
          for (i64 ii = 0; ii < n; ++ii)
            acc += float(col[ii]) * rows[(i0 + ii) * width + c];
          out[r * width + c] += acc;
        }
        __syncthreads();
      }
    }
  }
}

/// The gate's backward, a block per row: scaled = dy * gate, dgate =
/// rowsum(dy * y).
__global__ void gateGradKernel(i64 rows, i64 dv, const float *dy, const float *y, const float *gate,
                               float *scaled, float *dgate) {
  for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
    float part = 0.f;
    for (i64 c = threadIdx.x; c < dv; c += blockDim.x) {
      part += dy[r * dv + c] * y[r * dv + c];
      scaled[r * dv + c] = dy[r * dv + c] * gate[r];
    }
    part = blockReduce<Combine::Sum>(part, 0.f);
    if (threadIdx.x == 0)
      dgate[r] = part;
  }
}

/// dq, dk, dv and d alpha from FlashGrad's recomputation; `y` gives D.
inline void flashGradLaunch(const FlashGrad &g, const float *y, float *dq, float *dk, float *dv,
                            float *dalpha, float *delta, float *parts) {
  const AttentionShape &s = g.s;
  i64 rows = s.b * s.h * s.tq;
  RA_LAUNCH(flashGradDeltaKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, g, y, delta);
  RA_LAUNCH(flashGradQueryKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, g, dq,
            dalpha ? parts : (float *)nullptr);
  RA_LAUNCH(flashGradKeyKernel, dim3(rowsGrid(s.b * (s.kShared ? 1 : s.h) * s.tk)), dim3(kThreads),
            0, g, false, dk);
  if (dv)
    RA_LAUNCH(flashGradKeyKernel, dim3(rowsGrid(s.b * (s.vShared ? 1 : s.h) * s.tk)),
              dim3(kThreads), 0, g, true, dv);
  sumAlphaParts(parts, dalpha, rows);
}

/// flash_attention_grad on CUDA: P and dS recomputed from `lse` and D =
/// rowsum(dy * y), nothing [Tq, Tk] stored. With `gate`, a row kernel
/// applies the gate's backward first (the scaled dy after D and d alpha in
/// scratch).
inline void flashAttentionGrad(const AttentionShape &s, const float *q, const float *k,
                               const float *v, const float *alpha, const float *y, const float *lse,
                               const float *dy, float *dq, float *dk, float *dv, float *dalpha,
                               float *scratch, const float *gate = nullptr,
                               float *dgate = nullptr) {
  i64 rows = s.b * s.h * s.tq;
  float *delta = scratch, *parts = scratch + rows;
  if (gate) {
    float *scaled = parts + rows;
    RA_LAUNCH(gateGradKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, rows, s.dv, dy, y, gate,
              scaled, dgate);
    dy = scaled;
  }
  FlashGrad g{s, q, k, v, alpha, dy, lse, delta, nullptr};
  if (tcAttentionGradApplies(s)) {
    RA_LAUNCH(flashGradDeltaKernel, dim3(rowsGrid(rows)), dim3(kThreads), 0, g, y, delta);
    tcAttentionGrad(s, q, k, v, alpha, dy, lse, delta, dq, dk, dv, dalpha ? parts : nullptr);
    sumAlphaParts(parts, dalpha, rows);
    return;
  }
  flashGradLaunch(g, y, dq, dk, dv, dalpha, delta, parts);
}

//===----------------------------------------------------------------------===//
// Head-mean attention (mechanism 2) on the sibling attention's log-sum-exps:
// the probabilities averaged over heads ([B, Tq, Tk] in scratch, H times
// smaller than the per-head ones) meet the shared value in one cuBLAS
// product per batch entry, forwards and backwards.
//===----------------------------------------------------------------------===//

/// A block per (batch, query row): pbar[b, i, j] = mean_h exp(S_h[i, j] -
/// lse_h[i]), 0 for masked keys.
__global__ void headMeanProbsKernel(AttentionShape s, const float *q, const float *k,
                                    const float *alpha, const float *lse, float *pbar) {
  float a = alpha ? *alpha : 0.f, invH = 1.f / float(s.h);
  for (i64 r = blockIdx.x; r < s.b * s.tq; r += gridDim.x) {
    i64 i = r % s.tq, bb = r / s.tq, last = lastKey(s, i);
    for (i64 j = threadIdx.x; j < s.tk; j += blockDim.x) {
      float acc = 0.f;
      for (i64 h = 0; j <= last && h < s.h; ++h)
        acc += expf(scoreRa(s, q, k, a, bb, h, i, j) - lse[(bb * s.h + h) * s.tq + i]);
      pbar[r * s.tk + j] = acc * invH;
    }
  }
}

/// One matrix per batch entry: offsets 0, 1, ..., B - 1.
inline std::vector<i64> eachBatch(i64 b) {
  std::vector<i64> off(b);
  for (i64 i = 0; i < b; ++i)
    off[i] = i;
  return off;
}

/// C[b] = op(A[b]) op(B[b]) for each batch entry: head-mean attention's
/// products with the shared values. Where the attention runs on tensor
/// cores (a bf16 build) they are bf16 GEMMs too, their operands staged in
/// `staging` (AttentionShape::headMeanStagingFloats).
inline void headMeanGemm(const AttentionShape &s, const float *a, const float *b, float *c, i64 m,
                         i64 n, i64 k, bool ta, bool tb, float *staging) {
  std::vector<i64> each = eachBatch(s.b);
  if (tcHeadMeanApplies(s))
    gemmBf16(a, b, c, s.b, each.data(), each.data(), m, n, k, ta, tb, s.b * m * k, s.b * k * n,
             staging);
  else
    gemm(a, b, c, s.b, each.data(), each.data(), m, n, k, ta, tb);
}

/// head_mean_attention: out[b] = pbar[b] v[b]. `scratch`: pbar (B Tq Tk
/// floats), then the staging.
inline void headMeanAttention(const AttentionShape &s, const float *q, const float *k,
                              const float *v, const float *alpha, const float *lse, float *out,
                              float *scratch) {
  if (tcHeadMeanApplies(s))
    tcHeadMeanProbs(s, q, k, alpha, lse, scratch);
  else
    RA_LAUNCH(headMeanProbsKernel, dim3(rowsGrid(s.b * s.tq)), dim3(kThreads), 0, s, q, k, alpha,
              lse, scratch);
  headMeanGemm(s, scratch, v, out, s.tq, s.dv, s.tk, false, false, scratch + s.b * s.tq * s.tk);
}

/// head_mean_attention_grad: dP = dmean v^T (a product per batch entry), the
/// rows' D = rowsum(P dP / H), dq and dk recomputing P and dS from lse as
/// the flash backward does, and dv = pbar^T dmean (a product per batch
/// entry). `scratch`: D and d alpha per row, dP and pbar [B, Tq, Tk], then
/// the staging.
inline void headMeanAttentionGrad(const AttentionShape &s, const float *q, const float *k,
                                  const float *v, const float *alpha, const float *lse,
                                  const float *dmean, float *dq, float *dk, float *dv,
                                  float *dalpha, float *scratch) {
  i64 rows = s.b * s.h * s.tq;
  float *delta = scratch, *parts = delta + rows, *dp = parts + rows, *pbar = dp + s.b * s.tq * s.tk,
        *staging = pbar + s.b * s.tq * s.tk;
  headMeanGemm(s, dmean, v, dp, s.tq, s.tk, s.dv, false, true, staging);
  if (tcHeadMeanApplies(s)) {
    tcHeadMeanGrad(s, q, k, alpha, lse, dp, delta, dq, dk, dalpha ? parts : nullptr);
    sumAlphaParts(parts, dalpha, rows);
    tcHeadMeanProbs(s, q, k, alpha, lse, pbar);
  } else {
    flashGradLaunch(FlashGrad{s, q, k, v, alpha, nullptr, lse, delta, dp}, nullptr, dq, dk, nullptr,
                    dalpha, delta, parts);
    RA_LAUNCH(headMeanProbsKernel, dim3(rowsGrid(s.b * s.tq)), dim3(kThreads), 0, s, q, k, alpha,
              lse, pbar);
  }
  headMeanGemm(s, pbar, dmean, dv, s.tk, s.dv, s.tq, true, false, staging);
}

} // namespace ra_cuda

#endif // RA_CUDA_FLASH_ATTENTION_CUH
