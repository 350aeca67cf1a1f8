//===- ra_cpu_flash_attention.h - attention without a [T, T] matrix -*- C++ -*-===//
//
// The CPU kernels of ra.flash_attention and ra.flash_attention_grad
// (passes/FuseAttention.cpp). Per (batch, head), blocks of 32 query rows
// stream over the keys they may see: k^T (and q^T for RA's reciprocal term,
// v^T for dP) are laid out [E, Tk] once per call (MLA's shared latents once
// per batch entry), and every product of a block (scores, P v, dP, dS k,
// dS^T q, P^T dy) is a register-tiled micro-kernel (ra_cpu_tile_gemm.h)
// instead of a row at a time. A thread holds a block's [32, Tk] tiles, never
// a [Tq, Tk] matrix. Keys past a block's last row are never touched (the
// causal triangle), and the reciprocal term q_j . k_i is computed only over
// the block's band. The forward keeps each row's log-sum-exp; the backward
// recomputes P = exp(S - lse) and uses D = rowsum(dy * y) instead of a second
// pass over the row.
//
// Deterministic: each (batch, head) is one task, summed in a fixed order
// where heads share MLA's latent keys or values.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_FLASH_ATTENTION_H
#define RA_CPU_FLASH_ATTENTION_H

#include "ra_cpu_common.h"
#include "ra_cpu_gemm.h"
#include "ra_cpu_tile_gemm.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#ifdef RA_CPU_KERNELS_PRECOMPILED
// A model's source sees declarations only: the definitions below take their
// shapes at run time, so racc compiles them once (ra_cpu_library.cpp, kept in
// the compile cache) and links them into every model.so instead of
// compiling them again for each model.
namespace ra_cpu {
using ra_attention::AttentionShape;
void flashAttention(const AttentionShape &s, const float *q, const float *k, const float *v,
                    const float *alpha, float *out, float *lse, const float *gate = nullptr,
                    float *gated = nullptr);
void flashAttentionGrad(const AttentionShape &s, const float *q, const float *k, const float *v,
                        const float *alpha, const float *y, const float *lse, const float *dy,
                        float *dq, float *dk, float *dv, float *dalpha, const float *gate = nullptr,
                        float *dgate = nullptr);
void headMeanAttention(const AttentionShape &s, const float *q, const float *k, const float *v,
                       const float *alpha, const float *lse, float *out);
void headMeanAttentionGrad(const AttentionShape &s, const float *q, const float *k, const float *v,
                           const float *alpha, const float *lse, const float *dmean, float *dq,
                           float *dk, float *dv, float *dalpha);
} // namespace ra_cpu
#else

namespace ra_cpu {

namespace flash {

/// [rows, cols] -> [cols, rows].
inline void transpose(const float *in, float *out, i64 rows, i64 cols) {
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < cols; ++c)
      out[c * rows + r] = in[r * cols + c];
}

/// One query row's keys: [0, last]; the reciprocal term's: [first, i].
struct RowRange {
  i64 last, recFirst, recLast; // recLast < recFirst: none
};
inline RowRange rowRange(const AttentionShape &s, i64 i) {
  RowRange r;
  r.last = s.causal ? std::min(i, s.tk - 1) : s.tk - 1;
  r.recFirst = s.band < 0 ? 0 : std::max<i64>(0, i - s.band);
  r.recLast = s.reciprocal ? std::min(i, s.tk - 1) : -1;
  return r;
}

/// k^T, q^T (for RA's reciprocal term) and, with v, v^T of every (batch,
/// head), [width, T] each at the same offsets as the untransposed tensors,
/// made once before the heads' tasks. MLA's latents, shared by the heads,
/// are transposed once per batch entry.
struct Transposed {
  const AttentionShape &s;
  std::vector<float> kT, qT, vT;

  Transposed(const AttentionShape &s, const float *q, const float *k, const float *v = nullptr)
      : s(s), kT(s.b * (s.kShared ? 1 : s.h) * s.tk * s.e),
        qT(s.reciprocal ? s.b * s.h * s.tq * s.e : 0),
        vT(v ? s.b * (s.vShared ? 1 : s.h) * s.tk * s.dv : 0) {
#pragma omp parallel for collapse(2)
    for (i64 b = 0; b < s.b; ++b)
      for (i64 h = 0; h < s.h; ++h) {
        if (h == 0 || !s.kShared)
          transpose(k + s.kAt(b, h), kAt(b, h), s.tk, s.e);
        if (v && (h == 0 || !s.vShared))
          transpose(v + s.vAt(b, h), vAt(b, h), s.tk, s.dv);
        if (s.reciprocal)
          transpose(q + s.qAt(b, h), qAt(b, h), s.tq, s.e);
      }
  }
  float *kAt(i64 b, i64 h) { return kT.data() + s.kAt(b, h); }
  float *qAt(i64 b, i64 h) { return s.reciprocal ? qT.data() + s.qAt(b, h) : nullptr; }
  float *vAt(i64 b, i64 h) { return vT.data() + s.vAt(b, h); }
};

/// Query rows a task takes at once: their scores against every key they
/// see are one tile product ([kBlockRows, Tk]), not a row at a time.
constexpr i64 kBlockRows = 32;

/// A block of query rows [i0, i0 + m): the keys any of them sees, [0, nk),
/// and the reciprocal term's, [rec0, rec1] (rec1 < rec0: none).
struct Block {
  i64 i0, m, nk, rec0, rec1;
};
inline Block blockAt(const AttentionShape &s, i64 i0) {
  Block blk;
  blk.i0 = i0;
  blk.m = std::min(kBlockRows, s.tq - i0);
  RowRange first = rowRange(s, i0), last = rowRange(s, i0 + blk.m - 1);
  blk.nk = last.last + 1;
  blk.rec0 = first.recFirst;
  blk.rec1 = last.recLast;
  return blk;
}

/// A thread's tiles, [kBlockRows, Tk] each (row stride Tk): scores then P,
/// dP then dS, the reciprocal term; and the block's (gated) dy rows.
struct BlockBuffers {
  std::vector<float> p, dp, rec, g;
  explicit BlockBuffers(const AttentionShape &s)
      : p(kBlockRows * s.tk), dp(kBlockRows * s.tk), rec(s.reciprocal ? kBlockRows * s.tk : 0),
        g(kBlockRows * s.dv) {}
};

/// The block's scores into `sc`: S[r, j] = scale q_i . k_j for i = i0 + r and
/// j < nk, plus alpha rec[r, j] inside row i's band, where rec[r, j] = scale
/// q_j . k_i (kept for d alpha) over the block's band columns.
inline void scoreBlock(const AttentionShape &s, const Block &blk, const float *qh, const float *kh,
                       const float *kT, const float *qT, float a, float *sc, float *rec) {
  tileGemm(blk.m, blk.nk, s.e, s.scale, qh + blk.i0 * s.e, s.e, 1, kT, s.tk, sc, s.tk, false);
  if (blk.rec1 < blk.rec0)
    return;
  tileGemm(blk.m, blk.rec1 - blk.rec0 + 1, s.e, s.scale, kh + blk.i0 * s.e, s.e, 1, qT + blk.rec0,
           s.tq, rec + blk.rec0, s.tk, false);
  for (i64 r = 0; r < blk.m; ++r) {
    RowRange rr = rowRange(s, blk.i0 + r);
    for (i64 j = rr.recFirst; j <= rr.recLast; ++j)
      sc[r * s.tk + j] += a * rec[r * s.tk + j];
  }
}

/// From a block's dS ([m, Tk], zero past each row's keys): dq_I += scale dS
/// k and dk += scale dS^T q_I; with RA, the reciprocal term alpha scale q_j .
/// k_i of S_ra[i, j] inside each row's band: dq_J and dk_I, and the block's
/// d alpha, returned. `rec` (scoreBlock's reciprocal scores) is overwritten
/// with dS over the band.
inline double scoreGradBlock(const AttentionShape &s, const Block &blk, float a, const float *qh,
                             const float *kh, float *dqh, float *dkh, const float *ds, float *rec) {
  tileGemm(blk.m, s.e, blk.nk, s.scale, ds, s.tk, 1, kh, s.e, dqh + blk.i0 * s.e, s.e, true);
  tileGemm(blk.nk, s.e, blk.m, s.scale, ds, 1, s.tk, qh + blk.i0 * s.e, s.e, dkh, s.e, true);
  if (blk.rec1 < blk.rec0)
    return 0;
  double da = 0;
  for (i64 r = 0; r < blk.m; ++r) {
    RowRange rr = rowRange(s, blk.i0 + r);
    float *recRow = rec + r * s.tk;
    const float *dsr = ds + r * s.tk;
    for (i64 j = blk.rec0; j <= blk.rec1; ++j) {
      const bool in = j >= rr.recFirst && j <= rr.recLast;
      if (in)
        da += double(dsr[j]) * recRow[j];
      recRow[j] = in ? dsr[j] : 0.f;
    }
  }
  const i64 nr = blk.rec1 - blk.rec0 + 1;
  const float w = a * s.scale;
  tileGemm(nr, s.e, blk.m, w, rec + blk.rec0, 1, s.tk, kh + blk.i0 * s.e, s.e, dqh + blk.rec0 * s.e,
           s.e, true);
  tileGemm(blk.m, s.e, nr, w, rec + blk.rec0, s.tk, 1, qh + blk.rec0 * s.e, s.e, dkh + blk.i0 * s.e,
           s.e, true);
  return da;
}

/// sc[0..last] <- exp(sc - max); returns (max, sum) for the row's softmax.
/// The exponentials are ra_math::vexp, which vectorizes (libm's expf is a
/// call per element); the sum, in double and in order, is a second loop.
inline std::pair<float, double> expRow(float *sc, i64 last) {
  float mx = -std::numeric_limits<float>::infinity();
  for (i64 j = 0; j <= last; ++j)
    mx = std::max(mx, sc[j]);
  for (i64 j = 0; j <= last; ++j)
    sc[j] = ra_math::vexp(sc[j] - mx);
  double sum = 0;
  for (i64 j = 0; j <= last; ++j)
    sum += sc[j];
  return {mx, sum};
}

} // namespace flash

/// With `gate` ([B, H, Tq], a factor per row), also `gated` = out * gate,
/// written as each row is finished (gated_flash_attention's epilogue).
RA_CPU_SHARED_KERNEL void flashAttention(const AttentionShape &s, const float *q, const float *k,
                                         const float *v, const float *alpha, float *out, float *lse,
                                         const float *gate = nullptr, float *gated = nullptr) {
  const float a = alpha ? *alpha : 0.f;
  flash::Transposed t(s, q, k);
#pragma omp parallel
  {
    flash::BlockBuffers buf(s);
#pragma omp for collapse(2)
    for (i64 b = 0; b < s.b; ++b)
      for (i64 h = 0; h < s.h; ++h) {
        const i64 bh = b * s.h + h;
        const float *qh = q + s.qAt(b, h), *kh = k + s.kAt(b, h), *vh = v + s.vAt(b, h);
        float *oh = out + bh * s.tq * s.dv, *lh = lse + bh * s.tq;
        for (i64 i0 = 0; i0 < s.tq; i0 += flash::kBlockRows) {
          const flash::Block blk = flash::blockAt(s, i0);
          float *p = buf.p.data();
          flash::scoreBlock(s, blk, qh, kh, t.kAt(b, h), t.qAt(b, h), a, p, buf.rec.data());
          for (i64 r = 0; r < blk.m; ++r) {
            const i64 last = flash::rowRange(s, i0 + r).last;
            float *row = p + r * s.tk;
            auto [mx, sum] = flash::expRow(row, last);
            const float inv = float(1.0 / sum);
            for (i64 j = 0; j <= last; ++j)
              row[j] *= inv;
            std::fill(row + last + 1, row + blk.nk, 0.f);
            lh[i0 + r] = mx + float(std::log(sum));
          }
          float *oi = oh + i0 * s.dv;
          tileGemm(blk.m, s.dv, blk.nk, 1.f, p, s.tk, 1, vh, s.dv, oi, s.dv, false);
          if (gated)
            for (i64 r = 0; r < blk.m; ++r) {
              const float g = gate[bh * s.tq + i0 + r];
              float *gi = gated + (bh * s.tq + i0 + r) * s.dv;
              for (i64 c = 0; c < s.dv; ++c)
                gi[c] = oi[r * s.dv + c] * g;
            }
        }
      }
  }
}

/// dq, dk, dv (written here; shared k/v get the sum over heads, in head
/// order) and d alpha, from the forward's result `y` and `lse`. With `gate`
/// (gated_flash_attention_grad), `dy` is the gated output's gradient: each
/// row is scaled by its gate as it is read, and `dgate` = rowsum(dy * y).
RA_CPU_SHARED_KERNEL void flashAttentionGrad(const AttentionShape &s, const float *q,
                                             const float *k, const float *v, const float *alpha,
                                             const float *y, const float *lse, const float *dy,
                                             float *dq, float *dk, float *dv, float *dalpha,
                                             const float *gate = nullptr, float *dgate = nullptr) {
  const float a = alpha ? *alpha : 0.f;
  const i64 kStride = s.tk * s.e, vStride = s.tk * s.dv;
  // Heads that share k or v accumulate into their own slice, summed after.
  std::vector<float> dkHeads(s.kShared ? s.b * s.h * kStride : 0),
      dvHeads(s.vShared ? s.b * s.h * vStride : 0);
  std::vector<double> daParts(s.b * s.h, 0.0);
  std::memset(dq, 0, sizeof(float) * s.b * s.h * s.tq * s.e);
  flash::Transposed t(s, q, k, v);
#pragma omp parallel
  {
    flash::BlockBuffers buf(s);
#pragma omp for collapse(2)
    for (i64 b = 0; b < s.b; ++b)
      for (i64 h = 0; h < s.h; ++h) {
        const i64 bh = b * s.h + h;
        const float *qh = q + s.qAt(b, h), *kh = k + s.kAt(b, h), *yh = y + bh * s.tq * s.dv;
        float *dqh = dq + s.qAt(b, h);
        float *dkh = s.kShared ? dkHeads.data() + bh * kStride : dk + bh * kStride;
        float *dvh = s.vShared ? dvHeads.data() + bh * vStride : dv + bh * vStride;
        std::fill(dkh, dkh + kStride, 0.f);
        std::fill(dvh, dvh + vStride, 0.f);
        double da = 0;
        for (i64 i0 = 0; i0 < s.tq; i0 += flash::kBlockRows) {
          const flash::Block blk = flash::blockAt(s, i0);
          float *p = buf.p.data(), *ds = buf.dp.data(), *rec = buf.rec.data();
          flash::scoreBlock(s, blk, qh, kh, t.kAt(b, h), t.qAt(b, h), a, p, rec);
          for (i64 r = 0; r < blk.m; ++r) { // P = exp(S - lse)
            const i64 last = flash::rowRange(s, i0 + r).last;
            const float l = lse[bh * s.tq + i0 + r];
            float *row = p + r * s.tk;
            for (i64 j = 0; j <= last; ++j)
              row[j] = ra_math::vexp(row[j] - l);
            std::fill(row + last + 1, row + blk.nk, 0.f);
          }
          // The block's output gradient rows, scaled by the gate as read.
          const float *g = dy + (bh * s.tq + i0) * s.dv;
          if (gate) {
            for (i64 r = 0; r < blk.m; ++r) {
              const float gv = gate[bh * s.tq + i0 + r];
              const float *gi = g + r * s.dv, *yi = yh + (i0 + r) * s.dv;
              float dg = 0, *scaled = buf.g.data() + r * s.dv;
              for (i64 c = 0; c < s.dv; ++c) {
                dg += gi[c] * yi[c];
                scaled[c] = gi[c] * gv;
              }
              dgate[bh * s.tq + i0 + r] = dg;
            }
            g = buf.g.data();
          }
          // dP = g v^T, then dS = P (dP - D) with D = rowsum(g * y).
          tileGemm(blk.m, blk.nk, s.dv, 1.f, g, s.dv, 1, t.vAt(b, h), s.tk, ds, s.tk, false);
          for (i64 r = 0; r < blk.m; ++r) {
            const float *gi = g + r * s.dv, *yi = yh + (i0 + r) * s.dv;
            double d = 0;
            for (i64 c = 0; c < s.dv; ++c)
              d += gi[c] * yi[c];
            const float df = float(d), *pr = p + r * s.tk;
            float *dsr = ds + r * s.tk;
            for (i64 j = 0; j < blk.nk; ++j)
              dsr[j] = pr[j] * (dsr[j] - df);
          }
          // dv += P^T g, then dq, dk and RA's share from dS.
          tileGemm(blk.nk, s.dv, blk.m, 1.f, p, 1, s.tk, g, s.dv, dvh, s.dv, true);
          da += flash::scoreGradBlock(s, blk, a, qh, kh, dqh, dkh, ds, rec);
        }
        daParts[bh] = da;
      }
  }
  // Shared latents: the per-head gradients summed in head order.
  auto sumHeads = [&](const std::vector<float> &heads, float *out, i64 stride) {
#pragma omp parallel for
    for (i64 b = 0; b < s.b; ++b) {
      float *o = out + b * stride;
      std::memcpy(o, heads.data() + b * s.h * stride, sizeof(float) * stride);
      for (i64 h = 1; h < s.h; ++h) {
        const float *src = heads.data() + (b * s.h + h) * stride;
        for (i64 x = 0; x < stride; ++x)
          o[x] += src[x];
      }
    }
  };
  if (s.kShared)
    sumHeads(dkHeads, dk, kStride);
  if (s.vShared)
    sumHeads(dvHeads, dv, vStride);
  storeSum(daParts, dalpha);
}

namespace flash {

/// pbar[b, I, :] += mean over heads of P_h = exp(S_h - lse_h) for a block of
/// query rows of batch entry b, head by head in order; with `dp` (dP = dmean
/// v^T / H, the same for every head, [Tq, Tk] rows of b), also each head's
/// softmax backward: dS = P (dP - D) with D = rowsum(P dP), then dq, dk (k
/// shared or per head) and the block's d alpha, returned.
inline double headMeanBlock(const AttentionShape &s, float a, i64 b, const Block &blk,
                            const float *q, const float *k, const float *lse, Transposed &t,
                            float *pbar, const float *dp, float *dq, float *dk, BlockBuffers &buf) {
  const float invH = 1.f / float(s.h);
  float *p = buf.p.data(), *ds = buf.dp.data(), *rec = buf.rec.data();
  double da = 0;
  for (i64 h = 0; h < s.h; ++h) {
    const float *qh = q + s.qAt(b, h), *kh = k + s.kAt(b, h);
    scoreBlock(s, blk, qh, kh, t.kAt(b, h), t.qAt(b, h), a, p, rec);
    for (i64 r = 0; r < blk.m; ++r) {
      const i64 i = blk.i0 + r, last = rowRange(s, i).last;
      const float l = lse[(b * s.h + h) * s.tq + i];
      float *pr = p + r * s.tk, *pbarRow = pbar + i * s.tk;
      for (i64 j = 0; j <= last; ++j)
        pr[j] = ra_math::vexp(pr[j] - l);
      std::fill(pr + last + 1, pr + blk.nk, 0.f);
      for (i64 j = 0; j <= last; ++j)
        pbarRow[j] += pr[j] * invH;
      if (!dp)
        continue;
      const float *dpRow = dp + i * s.tk;
      double d = 0;
      for (i64 j = 0; j <= last; ++j)
        d += double(pr[j]) * dpRow[j];
      float *dsr = ds + r * s.tk;
      for (i64 j = 0; j < blk.nk; ++j)
        dsr[j] = pr[j] * (dpRow[j] - float(d));
    }
    if (dp)
      da += scoreGradBlock(s, blk, a, qh, kh, dq + s.qAt(b, h), dk + s.kAt(b, h), ds, rec);
  }
  return da;
}
} // namespace flash

/// head_mean_attention: out[b] = pbar[b] v[b] with pbar = mean_h(P_h) and
/// P_h = exp(S_h - lse_h), the sibling attention's probabilities: averaged
/// over heads ([B, Tq, Tk], H times smaller than the per-head ones), then
/// one sgemm per batch entry with the shared v ([B, Tk, Dv]).
RA_CPU_SHARED_KERNEL void headMeanAttention(const AttentionShape &s, const float *q, const float *k,
                                            const float *v, const float *alpha, const float *lse,
                                            float *out) {
  const float a = alpha ? *alpha : 0.f;
  flash::Transposed t(s, q, k);
  std::vector<float> pbar(s.b * s.tq * s.tk, 0.f);
  const i64 blocks = (s.tq + flash::kBlockRows - 1) / flash::kBlockRows;
#pragma omp parallel
  {
    flash::BlockBuffers buf(s);
#pragma omp for collapse(2)
    for (i64 b = 0; b < s.b; ++b)
      for (i64 n = 0; n < blocks; ++n)
        flash::headMeanBlock(s, a, b, flash::blockAt(s, n * flash::kBlockRows), q, k, lse, t,
                             pbar.data() + b * s.tq * s.tk, nullptr, nullptr, nullptr, buf);
  }
  for (i64 b = 0; b < s.b; ++b)
    sgemm(false, false, s.tq, s.dv, s.tk, 1.f, pbar.data() + b * s.tq * s.tk, s.tk, v + s.vAt(b, 0),
          s.dv, 0.f, out + b * s.tq * s.dv, s.dv);
}

/// head_mean_attention_grad: dP = dmean v^T / H (one sgemm per batch entry,
/// every head's), each head's softmax backward by blocks of query rows (dq,
/// dk, d alpha; parallel over the batch, blocks and heads in order inside,
/// so a shared k sums in a fixed order), then dv = pbar^T dmean (one sgemm
/// per batch entry).
RA_CPU_SHARED_KERNEL void headMeanAttentionGrad(const AttentionShape &s, const float *q,
                                                const float *k, const float *v, const float *alpha,
                                                const float *lse, const float *dmean, float *dq,
                                                float *dk, float *dv, float *dalpha) {
  const float a = alpha ? *alpha : 0.f;
  std::memset(dq, 0, sizeof(float) * s.b * s.h * s.tq * s.e);
  std::memset(dk, 0, sizeof(float) * s.b * (s.kShared ? 1 : s.h) * s.tk * s.e);
  flash::Transposed t(s, q, k);
  std::vector<float> dp(s.b * s.tq * s.tk), pbar(s.b * s.tq * s.tk, 0.f);
  for (i64 b = 0; b < s.b; ++b)
    sgemm(false, true, s.tq, s.tk, s.dv, 1.f / float(s.h), dmean + b * s.tq * s.dv, s.dv,
          v + s.vAt(b, 0), s.dv, 0.f, dp.data() + b * s.tq * s.tk, s.tk);
  std::vector<double> daParts(s.b, 0.0);
#pragma omp parallel
  {
    flash::BlockBuffers buf(s);
#pragma omp for
    for (i64 b = 0; b < s.b; ++b) {
      double da = 0;
      for (i64 i0 = 0; i0 < s.tq; i0 += flash::kBlockRows)
        da += flash::headMeanBlock(s, a, b, flash::blockAt(s, i0), q, k, lse, t,
                                   pbar.data() + b * s.tq * s.tk, dp.data() + b * s.tq * s.tk, dq,
                                   dk, buf);
      daParts[b] = da;
    }
  }
  for (i64 b = 0; b < s.b; ++b)
    sgemm(true, false, s.tk, s.dv, s.tq, 1.f, pbar.data() + b * s.tq * s.tk, s.tk,
          dmean + b * s.tq * s.dv, s.dv, 0.f, dv + s.vAt(b, 0), s.dv);
  storeSum(daParts, dalpha);
}

} // namespace ra_cpu

#endif // RA_CPU_KERNELS_PRECOMPILED

#endif // RA_CPU_FLASH_ATTENTION_H
