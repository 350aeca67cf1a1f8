//===- ra_cpu_kernels.h - the CPU kernels generated code calls ---*- C++ -*-===//
//
// One function per kernel family, float32, OpenMP across the outer loops,
// OpenBLAS for GEMMs. Generated code (codegen/cpu/CpuEmitter.cpp) calls these
// with the static shapes of each op; the artifact ships this header next to
// its model.cpp. No MLIR, no allocation except attention's per-thread scratch.
// Semantics match ir/interpreter/Kernels.cpp, the oracle they are tested
// against.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_KERNELS_H
#define RA_CPU_KERNELS_H

#include "ra_attention_shape.h"
#include "ra_elementwise.h"
#include "ra_profile.h"

#include <algorithm>
#include <cblas.h>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

namespace ra_cpu {

using i64 = int64_t;

// Loops shorter than this run on one thread: forking costs more.
constexpr i64 kParallelMin = 1 << 15;

using ra_math::apply;
using ra_math::Binary;
using ra_math::gelu;
using ra_math::geluGrad;
using ra_math::Unary;

template <Binary op>
// Elementwise kernels may run in place (ra-plan-memory reuses an operand that
// dies at the op): no __restrict.
void binary(const float *a, const float *b, float *out, i64 n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (i64 i = 0; i < n; ++i)
    out[i] = apply<op>(a[i], b[i]);
}

template <Unary op> void unary(const float *x, float *out, i64 n) {
#pragma omp parallel for simd if (n > kParallelMin)
  for (i64 i = 0; i < n; ++i)
    out[i] = apply<op>(x[i]);
}

inline void fill(float *out, float value, i64 n) { std::fill(out, out + n, value); }

inline void iota(float *out, i64 n, i64 axisSize, i64 inner) {
  for (i64 i = 0; i < n; ++i)
    out[i] = float((i / inner) % axisSize);
}

//===----------------------------------------------------------------------===//
// Layout: broadcast and transpose through strides, slice and concat as copies
//===----------------------------------------------------------------------===//

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

//===----------------------------------------------------------------------===//
// GEMM
//===----------------------------------------------------------------------===//

/// TFLOP/s of an n x n x n sgemm, the median of 5 after a warm-up: the
/// ceiling rarun bench measures MFU against, with the BLAS this library uses.
inline double gemmTflops(int n) {
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  double times[6];
  for (double &t : times) {
    auto start = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a.data(), n, b.data(), n,
                0.f, c.data(), n);
    t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::sort(times + 1, times + 6);
  return 2.0 * n * n * n / times[3] / 1e12;
}

/// C[b] = op(A[b]) op(B[b]) for each of `batch` products; aOff/bOff give the
/// matrix index of each operand per batch entry (broadcast batch dims repeat).
inline void gemm(const float *a, const float *b, float *c, i64 batch, const i64 *aOff,
                 const i64 *bOff, i64 m, i64 n, i64 k, bool ta, bool tb) {
  for (i64 i = 0; i < batch; ++i)
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, 1.f, a + aOff[i] * m * k, ta ? m : k, b + bOff[i] * k * n, tb ? k : n, 0.f,
                c + i * m * n, n);
}

//===----------------------------------------------------------------------===//
// Reductions, causal mean, softmax
//===----------------------------------------------------------------------===//

enum class Reduce { Sum, Mean, Max };

template <Reduce kind>
void reduce(const float *__restrict x, float *__restrict out, i64 outer, i64 n, i64 inner) {
#pragma omp parallel for if (outer * n * inner > kParallelMin)
  for (i64 o = 0; o < outer; ++o)
    for (i64 i = 0; i < inner; ++i) {
      double acc = kind == Reduce::Max ? -std::numeric_limits<double>::infinity() : 0.0;
      for (i64 t = 0; t < n; ++t) {
        float v = x[(o * n + t) * inner + i];
        acc = kind == Reduce::Max ? std::max(acc, (double)v) : acc + v;
      }
      out[o * inner + i] = float(kind == Reduce::Mean ? acc / n : acc);
    }
}

inline void causalMean(const float *__restrict x, float *__restrict out, i64 outer, i64 n,
                       i64 inner, bool grad) {
#pragma omp parallel for if (outer * n * inner > kParallelMin)
  for (i64 o = 0; o < outer; ++o)
    for (i64 i = 0; i < inner; ++i) {
      double sum = 0;
      if (!grad) {
        for (i64 t = 0; t < n; ++t) {
          sum += x[(o * n + t) * inner + i];
          out[(o * n + t) * inner + i] = float(sum / (t + 1));
        }
      } else { // dx[s] = sum over t >= s of dy[t] / (t + 1)
        for (i64 t = n - 1; t >= 0; --t) {
          sum += x[(o * n + t) * inner + i] / double(t + 1);
          out[(o * n + t) * inner + i] = float(sum);
        }
      }
    }
}

/// Per-row or per-task partial sums added in index order: the same result
/// whatever the number of threads that made them.
inline double orderedSum(const std::vector<double> &parts) {
  double sum = 0;
  for (double part : parts)
    sum += part;
  return sum;
}

/// y = softmax(x) * scale over one row of d; returns the row's log-sum-exp.
inline double softmaxRow(const float *x, float *y, i64 d, float scale) {
  float mx = *std::max_element(x, x + d);
  double sum = 0;
  for (i64 i = 0; i < d; ++i)
    sum += (y[i] = std::exp(x[i] - mx));
  float inv = float(1.0 / sum);
  for (i64 i = 0; i < d; ++i)
    y[i] *= inv * scale;
  return mx + std::log(sum);
}

inline void softmax(const float *__restrict x, float *__restrict out, i64 rows, i64 d) {
#pragma omp parallel for if (rows * d > kParallelMin)
  for (i64 r = 0; r < rows; ++r)
    softmaxRow(x + r * d, out + r * d, d, 1.f);
}

//===----------------------------------------------------------------------===//
// LayerNorm
//===----------------------------------------------------------------------===//

/// A row's mean and 1 / sqrt(variance + eps), in double.
struct MeanRstd {
  float mean, rstd;
};

inline MeanRstd meanRstd(const float *xr, i64 d, float eps) {
  double mean = 0, var = 0;
  for (i64 i = 0; i < d; ++i)
    mean += xr[i];
  mean /= d;
  for (i64 i = 0; i < d; ++i)
    var += (xr[i] - mean) * (xr[i] - mean);
  return {float(mean), float(1.0 / std::sqrt(var / d + eps))};
}

inline void layerNorm(const float *__restrict x, const float *__restrict w,
                      const float *__restrict b, float *__restrict out, i64 rows, i64 d,
                      float eps) {
#pragma omp parallel for if (rows * d > kParallelMin)
  for (i64 r = 0; r < rows; ++r) {
    const float *xr = x + r * d;
    MeanRstd st = meanRstd(xr, d, eps);
    for (i64 i = 0; i < d; ++i)
      out[r * d + i] = (xr[i] - st.mean) * st.rstd * w[i] + b[i];
  }
}

/// dx per row; dw and db summed over rows, in parallel over features.
inline void layerNormGrad(const float *__restrict x, const float *__restrict w,
                          const float *__restrict dy, float *__restrict dx, float *__restrict dw,
                          float *__restrict db, i64 rows, i64 d, float eps) {
  std::vector<float> mean(rows), rstd(rows);
#pragma omp parallel for if (rows * d > kParallelMin)
  for (i64 r = 0; r < rows; ++r) {
    const float *xr = x + r * d, *g = dy + r * d;
    MeanRstd st = meanRstd(xr, d, eps);
    float m = st.mean, rs = st.rstd;
    mean[r] = m;
    rstd[r] = rs;
    double meanG = 0, meanGX = 0;
    for (i64 i = 0; i < d; ++i) {
      float xhat = (xr[i] - m) * rs, gh = g[i] * w[i];
      meanG += gh;
      meanGX += gh * xhat;
    }
    meanG /= d;
    meanGX /= d;
    for (i64 i = 0; i < d; ++i) {
      float xhat = (xr[i] - m) * rs;
      dx[r * d + i] = rs * (g[i] * w[i] - float(meanG) - xhat * float(meanGX));
    }
  }
#pragma omp parallel for if (rows * d > kParallelMin)
  for (i64 i = 0; i < d; ++i) {
    double sw = 0, sb = 0;
    for (i64 r = 0; r < rows; ++r) {
      float g = dy[r * d + i];
      sw += g * (x[r * d + i] - mean[r]) * rstd[r];
      sb += g;
    }
    dw[i] = float(sw);
    db[i] = float(sb);
  }
}

//===----------------------------------------------------------------------===//
// Embedding and cross-entropy: ids are checked; a bad one is an error
//===----------------------------------------------------------------------===//

/// Returns the index of the first id outside [0, vocab), or -1.
inline i64 badId(const int32_t *ids, i64 n, i64 vocab) {
  for (i64 i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      return i;
  return -1;
}

inline void embedding(const float *__restrict table, const int32_t *__restrict ids,
                      float *__restrict out, i64 n, i64 d) {
#pragma omp parallel for if (n * d > kParallelMin)
  for (i64 i = 0; i < n; ++i)
    std::memcpy(out + i * d, table + (i64)ids[i] * d, sizeof(float) * d);
}

inline void embeddingGrad(const int32_t *__restrict ids, const float *__restrict dy,
                          float *__restrict table, i64 n, i64 vocab, i64 d) {
  std::memset(table, 0, sizeof(float) * vocab * d);
#pragma omp parallel for if (n * d > kParallelMin)
  for (i64 j = 0; j < d; ++j)
    for (i64 i = 0; i < n; ++i)
      table[(i64)ids[i] * d + j] += dy[i * d + j];
}

/// Per-row terms summed in row order: the loss is bit-identical whatever the
/// thread count (an OpenMP reduction's order is not fixed).
inline void crossEntropy(const float *__restrict logits, const int32_t *__restrict targets,
                         float *__restrict loss, i64 rows, i64 v) {
  std::vector<double> terms(rows);
#pragma omp parallel for if (rows * v > kParallelMin)
  for (i64 r = 0; r < rows; ++r) {
    const float *l = logits + r * v;
    float mx = *std::max_element(l, l + v);
    double sum = 0;
    for (i64 i = 0; i < v; ++i)
      sum += std::exp(l[i] - mx);
    terms[r] = mx + std::log(sum) - l[targets[r]];
  }
  *loss = float(orderedSum(terms) / rows);
}

/// g = (softmax(l) - onehot(target)) * scale over one row of v logits;
/// returns the row's log-sum-exp.
inline double softmaxGradRow(const float *l, float *g, i64 v, int32_t target, float scale) {
  double lse = softmaxRow(l, g, v, scale);
  g[target] -= scale;
  return lse;
}

inline void crossEntropyGrad(const float *__restrict logits, const int32_t *__restrict targets,
                             const float *__restrict dloss, float *__restrict dlogits, i64 rows,
                             i64 v) {
  float scale = *dloss / float(rows);
#pragma omp parallel for if (rows * v > kParallelMin)
  for (i64 r = 0; r < rows; ++r)
    softmaxGradRow(logits + r * v, dlogits + r * v, v, targets[r], scale);
}

/// crossEntropy and crossEntropyGrad in one pass per row: the softmax is
/// written to dlogits once and the row's loss term taken on the way.
inline void crossEntropyWithGrad(const float *__restrict logits, const int32_t *__restrict targets,
                                 const float *__restrict dloss, float *__restrict loss,
                                 float *__restrict dlogits, i64 rows, i64 v) {
  std::vector<double> terms(rows);
  float scale = *dloss / float(rows);
#pragma omp parallel for if (rows * v > kParallelMin)
  for (i64 r = 0; r < rows; ++r)
    terms[r] = softmaxGradRow(logits + r * v, dlogits + r * v, v, targets[r], scale) -
               logits[r * v + targets[r]];
  *loss = float(orderedSum(terms) / rows);
}

//===----------------------------------------------------------------------===//
// Attention (materializes each head's [Tq, Tk] scores; flash is a fusion pass)
//===----------------------------------------------------------------------===//

using ra_attention::AttentionShape;

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

inline void attention(const AttentionShape &s, const float *q, const float *k, const float *v,
                      const float *alpha, float *out) {
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

/// *out = the parts summed in order, when out is given.
inline void storeSum(const std::vector<double> &parts, float *out) {
  if (out)
    *out = float(orderedSum(parts));
}

/// dq, dk, dv (zeroed here; shared k/v sum over heads) and dalpha.
inline void attentionGrad(const AttentionShape &s, const float *q, const float *k, const float *v,
                          const float *alpha, const float *dy, float *dq, float *dk, float *dv,
                          float *dalpha) {
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

#include "ra_cpu_flash_attention.h"

#endif // RA_CPU_KERNELS_H
