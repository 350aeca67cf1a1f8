//===- ra_attention_shape.h - an attention call's static shape -*- C++ -*-===//
//
// The static parameters of an attention kernel call: what the compiler's
// attention ops report (AttentionOpInterface), what the kernel form carries
// and what the CPU and CUDA kernels (as __host__ __device__) receive. Every
// artifact ships it; it depends on nothing.
//
//===----------------------------------------------------------------------===//
#ifndef RA_ATTENTION_SHAPE_H
#define RA_ATTENTION_SHAPE_H

#include "ra_dtype.h" // and RA_HD

#include <cstdint>

namespace ra_attention {

struct AttentionShape {
  int64_t b, h, tq, tk, e, dv;
  bool kShared, vShared; // [B, T, .] shared by every head (MLA latents)
  float scale;
  bool causal;
  bool reciprocal;
  int64_t band; // < 0: the whole causal triangle
  // --precision bf16: the products may take bfloat16 operands (the CUDA
  // tensor-core kernels, ra_cuda_tc_attention.cuh; the CPU kernels and the
  // interpreter stay float32).
  bool bf16 = false;

  /// Whether RA's reciprocal term alpha * S[j, i] adds to S_ra[i, j]: j <= i,
  /// within the band.
  RA_HD bool reciprocalAt(int64_t i, int64_t j) const {
    return reciprocal && j <= i && (band < 0 || i - j <= band);
  }
  /// The width a tensor-core tile pads a head dim of n to: 32, 64 or 128; 0
  /// past 128 (the CUDA kernels of ra_cuda_tc_attention.cuh, and racc, which
  /// compiles the forms a model uses).
  RA_HD static int tensorCoreWidth(int64_t n) {
    return n <= 32 ? 32 : n <= 64 ? 64 : n <= 128 ? 128 : 0;
  }
  /// The last key query i sees.
  RA_HD int64_t lastKey(int64_t i) const { return causal ? (i < tk - 1 ? i : tk - 1) : tk - 1; }
  /// Where head (b, h) starts in q (and the result), k and v.
  RA_HD int64_t qAt(int64_t bb, int64_t hh) const { return (bb * h + hh) * tq * e; }
  RA_HD int64_t kAt(int64_t bb, int64_t hh) const { return (kShared ? bb : bb * h + hh) * tk * e; }
  RA_HD int64_t vAt(int64_t bb, int64_t hh) const { return (vShared ? bb : bb * h + hh) * tk * dv; }

  // Floats of scratch the CUDA families need: the emitter sizes an entry
  // point's scratch with these, the launchers lay it out.
  int64_t rows() const { return b * h * tq; }
  /// Probabilities, dS_ra and d alpha per row.
  int64_t attentionGradScratch() const { return 2 * rows() * tk + rows(); }
  /// D and d alpha per row, and with a gate the gated rows' dy.
  int64_t flashAttentionGradScratch(bool gated) const {
    return 2 * rows() + (gated ? rows() * dv : 0);
  }
  /// In a bf16 build, the operands of head-mean attention's products with
  /// the shared values (pbar v, dmean v^T, pbar^T dmean) staged as bf16: the
  /// largest of the three (ra_dtype's staging layout).
  int64_t headMeanStagingFloats() const {
    if (!bf16)
      return 0;
    const int64_t pbar = b * tq * tk, values = b * tk * dv, dmean = b * tq * dv;
    const int64_t forward = ra_dtype::bf16StagingFloats(pbar, values), // pbar v
        dp = ra_dtype::bf16StagingFloats(dmean, values),               // dmean v^T
        dvalues = ra_dtype::bf16StagingFloats(pbar, dmean);            // pbar^T dmean
    const int64_t most = forward > dp ? forward : dp;
    return most > dvalues ? most : dvalues;
  }
  /// The probabilities averaged over heads, [B, Tq, Tk], then the staging.
  int64_t headMeanAttentionScratch() const { return b * tq * tk + headMeanStagingFloats(); }
  /// D and d alpha per row, then dP and the averaged probabilities, then
  /// the staging.
  int64_t headMeanAttentionGradScratch() const {
    return 2 * rows() + 2 * b * tq * tk + headMeanStagingFloats();
  }
};

/// ra.cached_attention's static parameters: one query per sequence (its
/// position lengths[b] is data) against `tc` cached positions.
struct CachedAttentionShape {
  int64_t b, h, tc, e, dv;
  bool kShared, vShared; // [B, T, .] shared by every head (MLA latents)
  float scale;
  bool reciprocal;
  int64_t band; // < 0: every earlier position
  int64_t ring; // RA: the kept queries (position j in slot j % ring)
  int64_t er;   // RA: their width
  // Paged (ra.cached_attention's block table): the caches are pools of
  // blocks of `block` positions, [N, H, block, .] or [N, block, .], and
  // position j of sequence b is row j % block of block table[b][j / block];
  // `blocks` is the table's width (tc = blocks * block). 0: not paged.
  int64_t block = 0, blocks = 0;
  bool qPaged = false; // RA's kept queries are a pool read through the table
  // The element type of k_past, v_past and q_past (f32, f16 or bf16).
  ra_dtype::Dtype cacheType = ra_dtype::Dtype::F32;

  /// Where position j of head (b, h) starts in a cache of `width` values per
  /// position, kept per head or `shared` by every head.
  RA_HD int64_t pastAt(const int32_t *table, int64_t bb, int64_t hh, int64_t j, bool shared,
                       int64_t width) const {
    if (block == 0)
      return ((shared ? bb : bb * h + hh) * tc + j) * width;
    int64_t at = table[bb * blocks + j / block];
    return ((shared ? at : at * h + hh) * block + j % block) * width;
  }
  RA_HD int64_t kPastAt(const int32_t *table, int64_t bb, int64_t hh, int64_t j) const {
    return pastAt(table, bb, hh, j, kShared, e);
  }
  RA_HD int64_t vPastAt(const int32_t *table, int64_t bb, int64_t hh, int64_t j) const {
    return pastAt(table, bb, hh, j, vShared, dv);
  }
  /// Where query j of head (b, h) is kept: its ring slot, or its row in the pool.
  RA_HD int64_t qPastAt(const int32_t *table, int64_t bb, int64_t hh, int64_t j) const {
    return qPaged ? pastAt(table, bb, hh, j, false, er) : ((bb * h + hh) * ring + j % ring) * er;
  }
  RA_HD int64_t kNewAt(int64_t bb, int64_t hh) const { return (kShared ? bb : bb * h + hh) * e; }
  RA_HD int64_t vNewAt(int64_t bb, int64_t hh) const { return (vShared ? bb : bb * h + hh) * dv; }
  /// Whether RA's term reaches back from position p to j.
  RA_HD bool reciprocalAt(int64_t p, int64_t j) const {
    return reciprocal && j <= p && (band < 0 || p - j <= band);
  }
  /// The CUDA kernel's scratch: a score per cached position and head.
  int64_t scratch() const { return b * h * (tc + 1); }
};

} // namespace ra_attention

#endif // RA_ATTENTION_SHAPE_H
