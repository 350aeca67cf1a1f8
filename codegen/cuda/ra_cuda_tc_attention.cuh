//===- ra_cuda_tc_attention.cuh - tensor-core flash attention ---*- C++ -*-===//
//
// Attention on tensor cores for --precision bf16 builds: tiles of 32 queries
// and 32 keys in shared memory as bfloat16, every product (S = Q K^T, RA's
// K_I Q_J^T, P V; in the backward dP = dY V^T, dQ = dS K, dK = dS^T Q,
// dV = P^T dY) a warp's WMMA with float32 accumulation, the online softmax
// and everything elementwise in float32, whole key tiles skipped past the
// causal triangle. Every form the row kernels take: plain, MLA's shared
// latents, RA's reciprocal term and band, the gate's epilogue, the
// log-sum-exps. Head dims are padded to 32, 64 or 128 in shared memory;
// wider heads (and RA with both dims past 64, whose tiles pass 48 KiB) keep
// the row kernels (ra_cuda_attention.cuh), as do float32 builds.
//
// Two warps a block, each owning 16 of the tile's rows (RA's backward: tiles
// of 16, one warp). Only the forms a model uses are compiled (RA_TC_FORMS,
// which racc defines from the kernel form). This is the first form, written
// to be checked under the emulator: the forward's accumulators live in
// shared memory (the WMMA fragment layout is opaque, so a row's
// online-softmax rescale cannot be applied in registers); mma.sync with
// register-resident accumulators, larger tiles and pipelined loads are the
// tuning a GPU has to measure.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_TC_ATTENTION_CUH
#define RA_CUDA_TC_ATTENTION_CUH

#include "ra_cuda_common.cuh"
#include "ra_cuda_mma.cuh"

namespace ra_cuda {

using ra_attention::AttentionShape;

constexpr int kTcTile = 32;    // queries, and keys, per tile
constexpr int kTcThreads = 64; // two warps, 16 query rows each

/// Whether tile (queries i0.., keys j0..) holds an entry RA's term reaches:
/// j <= i within the band.
__device__ __forceinline__ bool tileReciprocal(const AttentionShape &s, i64 i0, i64 j0) {
  return s.reciprocal && j0 <= i0 + kTcTile - 1 &&
         (s.band < 0 || i0 - (j0 + kTcTile - 1) <= s.band);
}

/// Bytes of shared memory the forward's tiles take.
constexpr int tcForwardBytes(int ep, int dp, bool ra) {
  return (2 * kTcTile * ep + kTcTile * dp + (ra ? kTcTile * ep : 0)) * 2 // q, k, v, RA's q_J
         + (ra ? 2 : 1) * kTcTile * kTcTile * 4 + kTcTile * kTcTile * 2  // S, R, P
         + kTcTile * dp * 4 + 2 * kTcTile * 4;                           // O, max, sum
}

/// One warp's 16 query rows of the tile: C (T columns) = A B^T, A and B
/// rows in shared tiles of width W.
template <int W, int T, typename TF, typename TA, typename TB>
__device__ void tcRowsTimesRowsT(TF &c, TA &aTile, TB &bTile, int warp) {
  for (int n0 = 0; n0 < T; n0 += kMmaSide)
    mmaTile<W, wmma::row_major, wmma::col_major>(c, warp * 16 * T + n0, T, false, aTile,
                                                 warp * 16 * W, W, bTile, n0 * W, W);
}

/// A block per tile of 32 query rows of one head: the key tiles in order,
/// S (and RA's R) on tensor cores, the online softmax a thread per row in
/// float32, P rounded to bf16, O += P V on tensor cores; then y = O / l,
/// the log-sum-exps and the gate's epilogue.
template <int EP, int DP, bool RA>
__global__ void tcAttentionKernel(AttentionShape s, const float *q, const float *k, const float *v,
                                  const float *alpha, float *out, float *lse, const float *gate,
                                  float *gated) {
  constexpr int T = kTcTile;
  RA_SHARED(bf16, qs, T * EP);
  RA_SHARED(bf16, ks, T * EP);
  RA_SHARED(bf16, vs, T * DP);
  RA_SHARED(bf16, qj, RA ? T * EP : 1); // RA: the queries of the key tile
  RA_SHARED(float, sc, T *T);
  RA_SHARED(float, rc, RA ? T *T : 1); // RA: R[i][j] = k_i . q_j
  RA_SHARED(bf16, ps, T * T);
  RA_SHARED(float, os, T *DP);
  RA_SHARED(float, rowMax, T);
  RA_SHARED(float, rowSum, T);
  const float a = alpha ? *alpha : 0.f;
  const int warp = threadIdx.x / 32;
  const i64 tiles = (s.tq + T - 1) / T;
  for (i64 blk = blockIdx.x; blk < s.b * s.h * tiles; blk += gridDim.x) {
    i64 i0 = (blk % tiles) * T, bh = blk / tiles, bb = bh / s.h, hh = bh % s.h;
    const float *qh = q + s.qAt(bb, hh), *kh = k + s.kAt(bb, hh), *vh = v + s.vAt(bb, hh);
    stageBf16<T, EP>(qs, qh, i0, s.tq, s.e);
    for (int idx = threadIdx.x; idx < T * DP; idx += blockDim.x)
      os[idx] = 0.f;
    if (threadIdx.x < T) {
      rowMax[threadIdx.x] = -FLT_MAX;
      rowSum[threadIdx.x] = 0.f;
    }
    i64 lastRow = (i0 + T < s.tq ? i0 + T : s.tq) - 1, end = s.lastKey(lastRow) + 1;
    for (i64 j0 = 0; j0 < end; j0 += T) {
      const bool recip = RA && tileReciprocal(s, i0, j0);
      stageBf16<T, EP>(ks, kh, j0, s.tk, s.e);
      stageBf16<T, DP>(vs, vh, j0, s.tk, s.dv);
      if (recip)
        stageBf16<T, EP>(qj, qh, j0, s.tq, s.e);
      __syncthreads();
      tcRowsTimesRowsT<EP, T>(sc, qs, ks, warp);
      if (recip) { // R = K_I Q_J^T, with the query tile's keys in ks
        __syncthreads();
        stageBf16<T, EP>(ks, kh, i0, s.tk, s.e);
        __syncthreads();
        tcRowsTimesRowsT<EP, T>(rc, ks, qj, warp);
      }
      __syncthreads();
      if (threadIdx.x < T) { // the online softmax, a thread per query row
        const int r = threadIdx.x;
        const i64 i = i0 + r, last = i < s.tq ? s.lastKey(i) : -1;
        float score[T], mOld = rowMax[r], m = mOld;
        for (int jj = 0; jj < T; ++jj) {
          i64 j = j0 + jj;
          if (j > last)
            continue;
          score[jj] = s.scale * sc[r * T + jj];
          if (recip && s.reciprocalAt(i, j))
            score[jj] += a * s.scale * rc[r * T + jj];
          m = score[jj] > m ? score[jj] : m;
        }
        float corr = expf(mOld - m), sum = 0.f;
        for (int jj = 0; jj < T; ++jj) {
          float p = j0 + jj > last ? 0.f : expf(score[jj] - m);
          sum += p;
          ps[r * T + jj] = toBf16(p);
        }
        rowMax[r] = m;
        rowSum[r] = rowSum[r] * corr + sum;
        for (int c = 0; c < DP; ++c)
          os[r * DP + c] *= corr;
      }
      __syncthreads();
      for (int n0 = 0; n0 < DP; n0 += kMmaSide)
        mmaTile<T, wmma::row_major, wmma::row_major>(os, warp * 16 * DP + n0, DP, true, ps,
                                                     warp * 16 * T, T, vs, n0, DP);
      __syncthreads();
    }
    for (int idx = threadIdx.x; idx < T * DP; idx += blockDim.x) {
      int r = idx / DP, c = idx % DP;
      i64 row = bh * s.tq + i0 + r;
      if (i0 + r >= s.tq || c >= s.dv)
        continue;
      float y = os[idx] / rowSum[r];
      out[row * s.dv + c] = y;
      if (gated)
        gated[row * s.dv + c] = y * gate[row];
    }
    if (lse && threadIdx.x < T && i0 + threadIdx.x < s.tq)
      lse[bh * s.tq + i0 + threadIdx.x] = rowMax[threadIdx.x] + logf(rowSum[threadIdx.x]);
    __syncthreads(); // every thread is done with the tiles before the next query tile
  }
}

template <int EP, int DP, bool RA>
void tcAttentionLaunch(const AttentionShape &s, const float *q, const float *k, const float *v,
                       const float *alpha, float *out, float *lse, const float *gate,
                       float *gated) {
  if constexpr (tcForwardBytes(EP, DP, RA) <= 48 * 1024) {
    i64 blocks = s.b * s.h * ((s.tq + kTcTile - 1) / kTcTile);
    auto *tcAttentionKernelFor = &tcAttentionKernel<EP, DP, RA>;
    RA_LAUNCH(tcAttentionKernelFor, dim3(rowsGrid(blocks)), dim3(kTcThreads), 0, s, q, k, v, alpha,
              out, lse, gate, gated);
  }
}

// The forms (padded e, padded dv, RA's term) this translation unit compiles:
// racc defines RA_TC_FORMS before the kernels with those its model uses
// (nvcc would take minutes over all 18 of each kernel); a unit including
// the kernels itself gets them all.
#ifndef RA_TC_FORMS
// clang-format off
#define RA_TC_FORMS(X)                                                                             \
  X(32, 32, false) X(32, 64, false) X(32, 128, false)                                              \
  X(64, 32, false) X(64, 64, false) X(64, 128, false)                                              \
  X(128, 32, false) X(128, 64, false) X(128, 128, false)                                           \
  X(32, 32, true) X(32, 64, true) X(32, 128, true)                                                 \
  X(64, 32, true) X(64, 64, true) X(64, 128, true)                                                 \
  X(128, 32, true) X(128, 64, true) X(128, 128, true)
// clang-format on
#endif

/// Runs Fn<EP, DP, RA>::run(s, args...) for s's form; false when this unit
/// does not compile that form.
template <template <int, int, bool> class Fn, typename... Args>
bool tcDispatch(const AttentionShape &s, Args... args) {
  const int ep = AttentionShape::tensorCoreWidth(s.e), dp = AttentionShape::tensorCoreWidth(s.dv);
#define RA_TC_CASE(E, D, R)                                                                        \
  if (ep == E && dp == D && s.reciprocal == R) {                                                   \
    Fn<E, D, R>::run(s, args...);                                                                  \
    return true;                                                                                   \
  }
  RA_TC_FORMS(RA_TC_CASE)
#undef RA_TC_CASE
  return false;
}

/// Nothing: whether a form is compiled (tcDispatch's answer).
template <int EP, int DP, bool RA> struct TcNothing {
  static void run(const AttentionShape &) {}
};

/// Whether a build's attention runs on tensor cores: --precision bf16 (the
/// shape's bf16), head dims of at most 128, tiles within 48 KiB of shared
/// memory, and the form compiled. RA_CUDA_TENSOR_CORES=0 keeps the row
/// kernels (to compare a bf16 build's other kernels at float32 accuracy).
inline bool tcAttentionApplies(const AttentionShape &s) {
  const int ep = AttentionShape::tensorCoreWidth(s.e), dp = AttentionShape::tensorCoreWidth(s.dv);
  if (!s.bf16 || !ep || !dp || tcForwardBytes(ep, dp, s.reciprocal) > 48 * 1024)
    return false;
  if (const char *env = std::getenv("RA_CUDA_TENSOR_CORES"); env && std::strcmp(env, "0") == 0)
    return false;
  return tcDispatch<TcNothing>(s);
}

template <int EP, int DP, bool RA> struct TcForward {
  template <typename... Args> static void run(const AttentionShape &s, Args... args) {
    tcAttentionLaunch<EP, DP, RA>(s, args...);
  }
};

/// flash_attention (and attention, gated_flash_attention) on tensor cores.
inline void tcAttention(const AttentionShape &s, const float *q, const float *k, const float *v,
                        const float *alpha, float *out, float *lse, const float *gate,
                        float *gated) {
  (void)tcDispatch<TcForward>(s, q, k, v, alpha, out, lse, gate, gated);
}

//===----------------------------------------------------------------------===//
// The backward on tensor cores: P = exp(S_ra - lse) and dS = P (dP - D)
// recomputed a tile at a time, as the row kernels do, nothing [Tq, Tk]
// stored. A block per query tile accumulates dQ (and each row's d alpha), a
// block per key tile dK and dV (summing every head that shares them, in
// head order); the accumulators stay in WMMA fragments, no atomics.
//
// RA's term makes dS[i, j] also take row j's share through S_ra[j, i]
// (dS = dS_ra + alpha dS_ra^T in the band), so a tile near the diagonal
// needs the transposed products K_I Q_J^T and V_I dY_J^T as well, with the
// key tile's queries, dy, log-sum-exps and D: twice the staged tiles, so RA
// takes tiles of 16 (one warp) to stay within 48 KiB, 32 (two warps)
// otherwise.
//===----------------------------------------------------------------------===//

/// Rows per tile of the backward.
template <bool RA> constexpr int kTcGradTile = RA ? 16 : 32;

/// Bytes of shared memory the backward's tiles take: the staged tiles (with
/// RA twice as many), S and dP in float32 (with RA the transposed ones
/// too), P and dS in bf16.
constexpr int tcBackwardBytes(int ep, int dp, bool ra) {
  int t = ra ? kTcGradTile<true> : kTcGradTile<false>;
  return (ra ? 2 : 1) * (2 * t * ep + 2 * t * dp) * 2 + (ra ? 4 : 2) * t * t * 4 + 2 * t * t * 2;
}

/// Whether tile (queries i0.., keys j0..) holds an entry where RA's term
/// applies either way: |i - j| within the band.
__device__ __forceinline__ bool tileBand(const AttentionShape &s, i64 i0, i64 j0, int t) {
  return s.reciprocal &&
         (s.band < 0 || (j0 - (i0 + t - 1) <= s.band && i0 - (j0 + t - 1) <= s.band));
}

/// S_ra[i, j] of the tile's entry idx: scale S, plus alpha scale S^T (K_I
/// Q_J^T) where RA's band reaches (i, j).
template <typename TF>
__device__ __forceinline__ float tcRaScore(const AttentionShape &s, float a, TF &sc, TF &scT,
                                           int idx, i64 i, i64 j, bool band) {
  return s.scale * sc[idx] + (band && s.reciprocalAt(i, j) ? a * s.scale * scT[idx] : 0.f);
}

/// P and dS of the tile (queries i0.., keys j0..) of rows bh from S (and,
/// with RA's term, S^T = K_I Q_J^T and dP^T = V_I dY_J^T) in shared memory;
/// 0 where the key is masked. Without RA a thread per entry; with RA a
/// thread per query row, which also adds the row's share of d alpha.
template <bool RA, int T, typename TF, typename TP>
__device__ void tcGradTile(const AttentionShape &s, float a, const float *lse, const float *delta,
                           i64 bh, i64 i0, i64 j0, bool band, TF &sc, TF &dp, TF &scT, TF &dpT,
                           TP *ps, TP *dss, float &da) {
  if constexpr (!RA) {
    for (int idx = threadIdx.x; idx < T * T; idx += blockDim.x) {
      i64 i = i0 + idx / T, j = j0 + idx % T;
      float p = 0.f, ds = 0.f;
      if (i < s.tq && j <= s.lastKey(i)) {
        i64 row = bh * s.tq + i;
        p = expf(s.scale * sc[idx] - lse[row]);
        ds = p * (dp[idx] - delta[row]);
      }
      if (ps)
        (*ps)[idx] = toBf16(p);
      if (dss)
        (*dss)[idx] = toBf16(ds);
    }
  } else if (threadIdx.x < T) {
    const int r = threadIdx.x;
    const i64 i = i0 + r, rowI = bh * s.tq + i;
    for (int c = 0; c < T; ++c) {
      const int idx = r * T + c;
      const i64 j = j0 + c, rowJ = bh * s.tq + j;
      float p = 0.f, ds = 0.f;
      if (i < s.tq && j <= s.lastKey(i)) { // S_ra[i, j]'s own share
        p = expf(tcRaScore(s, a, sc, scT, idx, i, j, band) - lse[rowI]);
        ds = p * (dp[idx] - delta[rowI]);
        if (band && s.reciprocalAt(i, j))
          da += ds * s.scale * scT[idx]; // alpha's share: dS_ra[i, j] S[j, i]
      }
      if (band && i < s.tq && j < s.tq && s.reciprocalAt(j, i)) { // through S_ra[j, i]
        float sRaT = s.scale * scT[idx] + a * s.scale * sc[idx];
        float pT = expf(sRaT - lse[rowJ]);
        ds += a * pT * (dpT[idx] - delta[rowJ]);
      }
      if (ps)
        (*ps)[idx] = toBf16(p);
      if (dss)
        (*dss)[idx] = toBf16(ds);
    }
  }
}

/// The backward's shared tiles (each kernel declares them all; the budget
/// is tcBackwardBytes): Q_I, dY_I, K_J, V_J staged as bf16, with RA's term
/// also K_I, V_I (the query tile's keys and values) and Q_J, dY_J (the key
/// tile's queries and dy), X rows each (1 without RA); S, dP and with RA S^T,
/// dP^T in float32; P and dS in bf16.
#define RA_TC_GRAD_TILES(EP, DP, T, X)                                                             \
  RA_TC_SCORE_TILES(EP, T, X);                                                                     \
  RA_SHARED(bf16, dys, T *DP);                                                                     \
  RA_SHARED(bf16, vs, T *DP);                                                                      \
  RA_SHARED(bf16, vI, X *DP);                                                                      \
  RA_SHARED(bf16, dyJ, X *DP);                                                                     \
  RA_SHARED(float, dp, T *T);                                                                      \
  RA_SHARED(float, dpT, T *T);                                                                     \
  RA_SHARED(bf16, ps, T *T);                                                                       \
  RA_SHARED(bf16, dss, T *T)
/// The tiles the scores take: Q_I, K_J and with RA's term K_I, Q_J (X
/// rows), S and S^T.
#define RA_TC_SCORE_TILES(EP, T, X)                                                                \
  RA_SHARED(bf16, qs, T *EP);                                                                      \
  RA_SHARED(bf16, ks, T *EP);                                                                      \
  RA_SHARED(bf16, kI, X *EP);                                                                      \
  RA_SHARED(bf16, qJ, X *EP);                                                                      \
  RA_SHARED(float, sc, T *T);                                                                      \
  RA_SHARED(float, scT, T *T)
/// Stages T rows from row0 of one side (x, e wide, and y, dv wide: `rows`
/// of each) and, with RA's term (`ra`), the same rows of the other side (xo,
/// yo: `otherRows`; X rows): Q_I, dY_I and K_I, V_I for a query tile, K_J,
/// V_J and Q_J, dY_J for a key tile. Head-mean attention passes no dY or V
/// (null): its dP comes from dpbar.
template <int T, int X, int EP, int DP, typename TX, typename TY, typename TXO, typename TYO>
__device__ void tcStageTile(const AttentionShape &s, i64 row0, const float *x, const float *y,
                            i64 rows, const float *xo, const float *yo, i64 otherRows, TX &xs,
                            TY &ys, TXO &xos, TYO &yos, bool ra) {
  stageBf16<T, EP>(xs, x, row0, rows, s.e);
  if (y)
    stageBf16<T, DP>(ys, y, row0, rows, s.dv);
  if (ra) {
    stageBf16<X, EP>(xos, xo, row0, otherRows, s.e);
    if (yo)
      stageBf16<X, DP>(yos, yo, row0, otherRows, s.dv);
  }
}

/// S = Q_I K_J^T from the staged tiles, and in RA's band S^T = K_I Q_J^T;
/// each warp its 16 rows.
template <int EP, int T, typename TF, typename TQ, typename TK, typename TKI, typename TQJ>
__device__ void tcGradScores(TF &sc, TF &scT, TQ &qs, TK &ks, TKI &kI, TQJ &qJ, bool band,
                             int warp) {
  tcRowsTimesRowsT<EP, T>(sc, qs, ks, warp);
  if (band)
    tcRowsTimesRowsT<EP, T>(scT, kI, qJ, warp);
}

/// dP = dY_I V_J^T, and in RA's band dP^T = V_I dY_J^T; or, for head-mean
/// attention (`dpbarB`: the batch entry's dP of the mean, [Tq, Tk]), every
/// head's dP = dpbar / H read into the tiles.
template <int DP, int T, typename TF, typename TY, typename TV, typename TVI, typename TYJ>
__device__ void tcGradDp(const AttentionShape &s, const float *dpbarB, i64 i0, i64 j0, TF &dp,
                         TF &dpT, TY &dys, TV &vs, TVI &vI, TYJ &dyJ, bool band, int warp) {
  if (!dpbarB) {
    tcRowsTimesRowsT<DP, T>(dp, dys, vs, warp);
    if (band)
      tcRowsTimesRowsT<DP, T>(dpT, vI, dyJ, warp);
    return;
  }
  const float invH = 1.f / float(s.h);
  for (int idx = threadIdx.x; idx < T * T; idx += blockDim.x) {
    i64 i = i0 + idx / T, j = j0 + idx % T;
    dp[idx] = i < s.tq && j < s.tk ? dpbarB[i * s.tk + j] * invH : 0.f;
    if (band)
      dpT[idx] = j < s.tq && i < s.tk ? dpbarB[j * s.tk + i] * invH : 0.f;
  }
}

/// Writes a warp's 16 x W accumulator fragments, times `scale`, to rows
/// row0.. (of `rows`) of a [., width] matrix, through a float tile.
template <int W, int T, typename Frag, typename TF>
__device__ void tcStoreRows(Frag (&acc)[W / kMmaSide], TF &tile, int warp, float *out, i64 row0,
                            i64 rows, i64 width, float scale) {
  for (int f = 0; f < W / kMmaSide; ++f) {
    wmma::store_matrix_sync(RA_SHARED_AT(tile, warp * 16 * T), acc[f], T, wmma::mem_row_major);
    __syncthreads();
    for (int idx = threadIdx.x % 32; idx < 16 * 16; idx += 32) {
      i64 r = row0 + warp * 16 + idx / 16, c = f * kMmaSide + idx % 16;
      if (r < rows && c < width)
        out[r * width + c] = scale * tile[warp * 16 * T + (idx / 16) * T + idx % 16];
    }
    __syncthreads();
  }
}

/// A block per query tile of one head: dQ = scale sum_J dS K_J, and with
/// RA each row's share of d alpha in `alphaParts`.
template <int EP, int DP, bool RA>
__global__ void tcAttentionGradQueryKernel(AttentionShape s, const float *q, const float *k,
                                           const float *v, const float *alpha, const float *dy,
                                           const float *lse, const float *delta, float *dq,
                                           float *alphaParts, const float *dpbar) {
  constexpr int T = kTcGradTile<RA>, X = RA ? T : 1; // X: RA's extra tiles
  using Acc = wmma::fragment<wmma::accumulator, kMmaSide, kMmaSide, kMmaSide, float>;
  RA_TC_GRAD_TILES(EP, DP, T, X);
  (void)ps; // P is the key kernel's
  const float a = alpha ? *alpha : 0.f;
  const int warp = threadIdx.x / 32;
  const i64 tiles = (s.tq + T - 1) / T;
  for (i64 blk = blockIdx.x; blk < s.b * s.h * tiles; blk += gridDim.x) {
    i64 i0 = (blk % tiles) * T, bh = blk / tiles, bb = bh / s.h, hh = bh % s.h;
    // Head-mean attention (dpbar) reads dP from dpbar: no dy, no v.
    const float *qh = q + s.qAt(bb, hh), *kh = k + s.kAt(bb, hh),
                *vh = dpbar ? nullptr : v + s.vAt(bb, hh),
                *dyh = dpbar ? nullptr : dy + bh * s.tq * s.dv,
                *dpbarB = dpbar ? dpbar + bb * s.tq * s.tk : nullptr;
    tcStageTile<T, X, EP, DP>(s, i0, qh, dyh, s.tq, kh, vh, s.tk, qs, dys, kI, vI, RA);
    Acc acc[EP / kMmaSide];
    for (Acc &f : acc)
      wmma::fill_fragment(f, 0.f);
    float da = 0.f;
    i64 lastRow = (i0 + T < s.tq ? i0 + T : s.tq) - 1, end = s.lastKey(lastRow) + 1;
    if (RA) // row j's term reaches back to key i: j up to i + band
      end = s.band < 0 || lastRow + s.band + 1 > s.tk
                ? s.tk
                : (lastRow + s.band + 1 > end ? lastRow + s.band + 1 : end);
    for (i64 j0 = 0; j0 < end; j0 += T) {
      const bool band = RA && tileBand(s, i0, j0, T);
      tcStageTile<T, X, EP, DP>(s, j0, kh, vh, s.tk, qh, dyh, s.tq, ks, vs, qJ, dyJ, band);
      __syncthreads();
      tcGradScores<EP, T>(sc, scT, qs, ks, kI, qJ, band, warp);
      tcGradDp<DP, T>(s, dpbarB, i0, j0, dp, dpT, dys, vs, vI, dyJ, band, warp);
      __syncthreads();
      tcGradTile<RA, T>(s, a, lse, delta, bh, i0, j0, band, sc, dp, scT, dpT,
                        (std::remove_reference_t<decltype(dss)> *)nullptr, &dss, da);
      __syncthreads();
      for (int f = 0; f < EP / kMmaSide; ++f) // dQ += dS K_J
        for (int k0 = 0; k0 < T; k0 += kMmaSide) {
          wmma::fragment<wmma::matrix_a, kMmaSide, kMmaSide, kMmaSide, bf16, wmma::row_major> fa;
          wmma::fragment<wmma::matrix_b, kMmaSide, kMmaSide, kMmaSide, bf16, wmma::row_major> fb;
          wmma::load_matrix_sync(fa, RA_SHARED_AT(dss, warp * 16 * T + k0), T);
          wmma::load_matrix_sync(fb, RA_SHARED_AT(ks, k0 * EP + f * kMmaSide), EP);
          wmma::mma_sync(acc[f], fa, fb, acc[f]);
        }
      __syncthreads();
    }
    if (RA && alphaParts && threadIdx.x < T && i0 + threadIdx.x < s.tq)
      alphaParts[bh * s.tq + i0 + threadIdx.x] = da;
    tcStoreRows<EP, T>(acc, sc, warp, dq + bh * s.tq * s.e, i0, s.tq, s.e, s.scale);
  }
}

/// A block per key tile of k (dK = scale sum dS^T Q_I) and/or of v (dV =
/// sum P^T dY_I), over every head that reads it in head order; `groups`
/// is 1 when the rows are shared by every head, else H.
template <int EP, int DP, bool RA>
__global__ void tcAttentionGradKeyKernel(AttentionShape s, const float *q, const float *k,
                                         const float *v, const float *alpha, const float *dy,
                                         const float *lse, const float *delta, float *dk, float *dv,
                                         i64 groups, const float *dpbar) {
  constexpr int T = kTcGradTile<RA>, X = RA ? T : 1;
  using Acc = wmma::fragment<wmma::accumulator, kMmaSide, kMmaSide, kMmaSide, float>;
  RA_TC_GRAD_TILES(EP, DP, T, X);
  const float a = alpha ? *alpha : 0.f;
  const int warp = threadIdx.x / 32;
  const i64 tiles = (s.tk + T - 1) / T;
  for (i64 blk = blockIdx.x; blk < s.b * groups * tiles; blk += gridDim.x) {
    i64 j0 = (blk % tiles) * T, bg = blk / tiles, bb = bg / groups;
    i64 h0 = groups == 1 ? 0 : bg % groups, h1 = groups == 1 ? s.h : h0 + 1;
    // The first query tile with a share: causal rows start at the key, RA's
    // rows reach back `band` keys.
    i64 first = s.causal ? j0 : 0;
    if (RA)
      first = s.band < 0 || j0 - s.band <= 0 ? 0 : (j0 - s.band) / T * T;
    Acc accK[EP / kMmaSide], accV[DP / kMmaSide];
    for (Acc &f : accK)
      wmma::fill_fragment(f, 0.f);
    for (Acc &f : accV)
      wmma::fill_fragment(f, 0.f);
    float unusedDa = 0.f;
    for (i64 hh = h0; hh < h1; ++hh) {
      i64 bh = bb * s.h + hh;
      const float *qh = q + s.qAt(bb, hh), *kh = k + s.kAt(bb, hh),
                  *vh = dpbar ? nullptr : v + s.vAt(bb, hh),
                  *dyh = dpbar ? nullptr : dy + bh * s.tq * s.dv,
                  *dpbarB = dpbar ? dpbar + bb * s.tq * s.tk : nullptr;
      tcStageTile<T, X, EP, DP>(s, j0, kh, vh, s.tk, qh, dyh, s.tq, ks, vs, qJ, dyJ, RA);
      for (i64 i0 = first; i0 < s.tq; i0 += T) {
        const bool band = RA && tileBand(s, i0, j0, T);
        tcStageTile<T, X, EP, DP>(s, i0, qh, dyh, s.tq, kh, vh, s.tk, qs, dys, kI, vI, band);
        __syncthreads();
        tcGradScores<EP, T>(sc, scT, qs, ks, kI, qJ, band, warp);
        tcGradDp<DP, T>(s, dpbarB, i0, j0, dp, dpT, dys, vs, vI, dyJ, band, warp);
        __syncthreads();
        tcGradTile<RA, T>(s, a, lse, delta, bh, i0, j0, band, sc, dp, scT, dpT, dv ? &ps : nullptr,
                          dk ? &dss : nullptr, unusedDa);
        __syncthreads();
        // Each warp's 16 keys: P^T and dS^T are column-major views of P, dS.
        using ColA =
            wmma::fragment<wmma::matrix_a, kMmaSide, kMmaSide, kMmaSide, bf16, wmma::col_major>;
        using RowB =
            wmma::fragment<wmma::matrix_b, kMmaSide, kMmaSide, kMmaSide, bf16, wmma::row_major>;
        for (int k0 = 0; k0 < T; k0 += kMmaSide) {
          ColA fa;
          if (dk) {
            wmma::load_matrix_sync(fa, RA_SHARED_AT(dss, k0 * T + warp * 16), T);
            for (int f = 0; f < EP / kMmaSide; ++f) {
              RowB fb;
              wmma::load_matrix_sync(fb, RA_SHARED_AT(qs, k0 * EP + f * kMmaSide), EP);
              wmma::mma_sync(accK[f], fa, fb, accK[f]);
            }
          }
          if (dv) {
            wmma::load_matrix_sync(fa, RA_SHARED_AT(ps, k0 * T + warp * 16), T);
            for (int f = 0; f < DP / kMmaSide; ++f) {
              RowB fb;
              wmma::load_matrix_sync(fb, RA_SHARED_AT(dys, k0 * DP + f * kMmaSide), DP);
              wmma::mma_sync(accV[f], fa, fb, accV[f]);
            }
          }
        }
        __syncthreads();
      }
    }
    if (dk)
      tcStoreRows<EP, T>(accK, sc, warp, dk + bg * s.tk * s.e, j0, s.tk, s.e, s.scale);
    if (dv)
      tcStoreRows<DP, T>(accV, sc, warp, dv + bg * s.tk * s.dv, j0, s.tk, s.dv, 1.f);
  }
}

/// Whether a backward runs on tensor cores: the forward's conditions and
/// tiles within 48 KiB.
inline bool tcAttentionGradApplies(const AttentionShape &s) {
  return tcAttentionApplies(s) &&
         tcBackwardBytes(AttentionShape::tensorCoreWidth(s.e),
                         AttentionShape::tensorCoreWidth(s.dv), s.reciprocal) <= 48 * 1024;
}

template <int EP, int DP, bool RA> struct TcBackward {
  static void run(const AttentionShape &s, const float *q, const float *k, const float *v,
                  const float *alpha, const float *dy, const float *lse, const float *delta,
                  float *dq, float *dk, float *dv, float *alphaParts, const float *dpbar) {
    if constexpr (tcBackwardBytes(EP, DP, RA) <= 48 * 1024) {
      constexpr int T = kTcGradTile<RA>, threads = 2 * T; // a warp per 16 rows
      auto *tcGradQueryKernelFor = &tcAttentionGradQueryKernel<EP, DP, RA>;
      auto *tcGradKeyKernelFor = &tcAttentionGradKeyKernel<EP, DP, RA>;
      i64 queryTiles = (s.tq + T - 1) / T, keyTiles = (s.tk + T - 1) / T;
      RA_LAUNCH(tcGradQueryKernelFor, dim3(rowsGrid(s.b * s.h * queryTiles)), dim3(threads), 0, s,
                q, k, v, alpha, dy, lse, delta, dq, alphaParts, dpbar);
      // One launch when k and v are shared alike, else one each.
      i64 kGroups = s.kShared ? 1 : s.h, vGroups = s.vShared ? 1 : s.h;
      float *dvTogether = kGroups == vGroups ? dv : nullptr;
      RA_LAUNCH(tcGradKeyKernelFor, dim3(rowsGrid(s.b * kGroups * keyTiles)), dim3(threads), 0, s,
                q, k, v, alpha, dy, lse, delta, dk, dvTogether, kGroups, dpbar);
      if (dv && !dvTogether)
        RA_LAUNCH(tcGradKeyKernelFor, dim3(rowsGrid(s.b * vGroups * keyTiles)), dim3(threads), 0, s,
                  q, k, v, alpha, dy, lse, delta, (float *)nullptr, dv, vGroups, dpbar);
    }
  }
};

/// flash_attention_grad's dq, dk, dv on tensor cores from D = `delta`, and
/// with RA each row's share of d alpha in `alphaParts`.
inline void tcAttentionGrad(const AttentionShape &s, const float *q, const float *k, const float *v,
                            const float *alpha, const float *dy, const float *lse,
                            const float *delta, float *dq, float *dk, float *dv,
                            float *alphaParts) {
  (void)tcDispatch<TcBackward>(s, q, k, v, alpha, dy, lse, delta, dq, dk, dv, alphaParts,
                               (const float *)nullptr);
}

//===----------------------------------------------------------------------===//
// Head-mean attention (mechanism 2) on tensor cores: the probabilities
// averaged over heads, pbar = mean_h exp(S_h - lse_h), a tile of
// [Tq, Tk] at a time summed over the heads in order; its backward is the
// flash backward above with every head's dP = dpbar / H read from memory
// instead of multiplied, and D = rowsum(P dP) from the same tiles. The
// products with the shared MLP activations are cuBLAS bf16 GEMMs
// (ra_cuda_flash_attention.cuh's headMeanGemm).
//===----------------------------------------------------------------------===//

/// A block per (batch entry, query tile, key tile): pbar summed over heads.
template <int EP, bool RA>
__global__ void tcHeadMeanProbsKernel(AttentionShape s, const float *q, const float *k,
                                      const float *alpha, const float *lse, float *pbar) {
  constexpr int T = kTcGradTile<RA>, X = RA ? T : 1, kPerThread = T / 2; // 2T threads
  RA_TC_SCORE_TILES(EP, T, X);
  const float a = alpha ? *alpha : 0.f, invH = 1.f / float(s.h);
  const int warp = threadIdx.x / 32;
  const i64 queryTiles = (s.tq + T - 1) / T, keyTiles = (s.tk + T - 1) / T;
  for (i64 blk = blockIdx.x; blk < s.b * queryTiles * keyTiles; blk += gridDim.x) {
    i64 j0 = (blk % keyTiles) * T, i0 = (blk / keyTiles % queryTiles) * T,
        bb = blk / (keyTiles * queryTiles);
    i64 lastRow = (i0 + T < s.tq ? i0 + T : s.tq) - 1;
    const bool visible = j0 <= s.lastKey(lastRow), band = RA && tileBand(s, i0, j0, T);
    float acc[kPerThread] = {};
    for (i64 hh = 0; visible && hh < s.h; ++hh) {
      const float *qh = q + s.qAt(bb, hh), *kh = k + s.kAt(bb, hh);
      stageBf16<T, EP>(qs, qh, i0, s.tq, s.e);
      stageBf16<T, EP>(ks, kh, j0, s.tk, s.e);
      if (band) {
        stageBf16<X, EP>(kI, kh, i0, s.tk, s.e);
        stageBf16<X, EP>(qJ, qh, j0, s.tq, s.e);
      }
      __syncthreads();
      tcGradScores<EP, T>(sc, scT, qs, ks, kI, qJ, band, warp);
      __syncthreads();
      for (int n = 0; n < kPerThread; ++n) {
        int idx = threadIdx.x + n * blockDim.x;
        i64 i = i0 + idx / T, j = j0 + idx % T;
        if (i < s.tq && j <= s.lastKey(i))
          acc[n] +=
              expf(tcRaScore(s, a, sc, scT, idx, i, j, band) - lse[(bb * s.h + hh) * s.tq + i]);
      }
      __syncthreads(); // every thread is done with the tiles before the next head's
    }
    for (int n = 0; n < kPerThread; ++n) {
      int idx = threadIdx.x + n * blockDim.x;
      i64 i = i0 + idx / T, j = j0 + idx % T;
      if (i < s.tq && j < s.tk)
        pbar[(bb * s.tq + i) * s.tk + j] = acc[n] * invH;
    }
  }
}

/// A block per query tile of one head: D = rowsum(P dP) with dP = dpbar / H.
template <int EP, bool RA>
__global__ void tcHeadMeanDeltaKernel(AttentionShape s, const float *q, const float *k,
                                      const float *alpha, const float *lse, const float *dpbar,
                                      float *delta) {
  constexpr int T = kTcGradTile<RA>, X = RA ? T : 1;
  RA_TC_SCORE_TILES(EP, T, X);
  const float a = alpha ? *alpha : 0.f, invH = 1.f / float(s.h);
  const int warp = threadIdx.x / 32;
  const i64 tiles = (s.tq + T - 1) / T;
  for (i64 blk = blockIdx.x; blk < s.b * s.h * tiles; blk += gridDim.x) {
    i64 i0 = (blk % tiles) * T, bh = blk / tiles, bb = bh / s.h, hh = bh % s.h;
    const float *qh = q + s.qAt(bb, hh), *kh = k + s.kAt(bb, hh);
    stageBf16<T, EP>(qs, qh, i0, s.tq, s.e);
    if (RA)
      stageBf16<X, EP>(kI, kh, i0, s.tk, s.e);
    float d = 0.f; // a thread per row
    i64 lastRow = (i0 + T < s.tq ? i0 + T : s.tq) - 1, end = s.lastKey(lastRow) + 1;
    for (i64 j0 = 0; j0 < end; j0 += T) {
      const bool band = RA && tileBand(s, i0, j0, T);
      stageBf16<T, EP>(ks, kh, j0, s.tk, s.e);
      if (band)
        stageBf16<X, EP>(qJ, qh, j0, s.tq, s.e);
      __syncthreads();
      tcGradScores<EP, T>(sc, scT, qs, ks, kI, qJ, band, warp);
      __syncthreads();
      const i64 i = i0 + threadIdx.x;
      for (int c = 0; threadIdx.x < T && i < s.tq && c < T; ++c) {
        i64 j = j0 + c;
        if (j > s.lastKey(i))
          break;
        float score = tcRaScore(s, a, sc, scT, int(threadIdx.x) * T + c, i, j, band);
        d += expf(score - lse[bh * s.tq + i]) * dpbar[(bb * s.tq + i) * s.tk + j] * invH;
      }
      __syncthreads();
    }
    if (threadIdx.x < T && i0 + threadIdx.x < s.tq)
      delta[bh * s.tq + i0 + threadIdx.x] = d;
  }
}

template <int EP, int DP, bool RA> struct TcHeadMeanProbs {
  static void run(const AttentionShape &s, const float *q, const float *k, const float *alpha,
                  const float *lse, float *pbar) {
    constexpr int T = kTcGradTile<RA>;
    auto *tcHeadMeanProbsKernelFor = &tcHeadMeanProbsKernel<EP, RA>;
    i64 tiles = s.b * ((s.tq + T - 1) / T) * ((s.tk + T - 1) / T);
    RA_LAUNCH(tcHeadMeanProbsKernelFor, dim3(rowsGrid(tiles)), dim3(2 * T), 0, s, q, k, alpha, lse,
              pbar);
  }
};

template <int EP, int DP, bool RA> struct TcHeadMeanGrad {
  static void run(const AttentionShape &s, const float *q, const float *k, const float *alpha,
                  const float *lse, const float *dpbar, float *delta, float *dq, float *dk,
                  float *alphaParts) {
    constexpr int T = kTcGradTile<RA>;
    auto *tcHeadMeanDeltaKernelFor = &tcHeadMeanDeltaKernel<EP, RA>;
    RA_LAUNCH(tcHeadMeanDeltaKernelFor, dim3(rowsGrid(s.b * s.h * ((s.tq + T - 1) / T))),
              dim3(2 * T), 0, s, q, k, alpha, lse, dpbar, delta);
    TcBackward<EP, DP, RA>::run(s, q, k, nullptr, alpha, nullptr, lse, delta, dq, dk, nullptr,
                                alphaParts, dpbar);
  }
};

/// Head-mean attention's shape as the tensor-core kernels take it: its
/// value (the MLP's activations) never enters them, so dv is the smallest.
inline AttentionShape tcHeadMeanShape(const AttentionShape &s) {
  AttentionShape t = s;
  t.dv = 32;
  return t;
}

/// Whether head-mean attention runs on tensor cores: as tcAttentionGradApplies,
/// for its query-key width alone.
inline bool tcHeadMeanApplies(const AttentionShape &s) {
  AttentionShape t = tcHeadMeanShape(s);
  return tcAttentionApplies(t) &&
         tcBackwardBytes(AttentionShape::tensorCoreWidth(t.e), 32, t.reciprocal) <= 48 * 1024;
}

/// pbar = mean_h P_h into `pbar` ([B, Tq, Tk]) on tensor cores.
inline void tcHeadMeanProbs(const AttentionShape &s, const float *q, const float *k,
                            const float *alpha, const float *lse, float *pbar) {
  (void)tcDispatch<TcHeadMeanProbs>(tcHeadMeanShape(s), q, k, alpha, lse, pbar);
}

/// head_mean_attention_grad's D, dq, dk (and d alpha's per-row parts) from
/// dpbar on tensor cores.
inline void tcHeadMeanGrad(const AttentionShape &s, const float *q, const float *k,
                           const float *alpha, const float *lse, const float *dpbar, float *delta,
                           float *dq, float *dk, float *alphaParts) {
  (void)tcDispatch<TcHeadMeanGrad>(tcHeadMeanShape(s), q, k, alpha, lse, dpbar, delta, dq, dk,
                                   alphaParts);
}

} // namespace ra_cuda

#endif // RA_CUDA_TC_ATTENTION_CUH
