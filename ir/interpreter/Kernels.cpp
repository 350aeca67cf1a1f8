//===- Kernels.cpp - reference math of each ra op -------------------------===//
#include "ir/interpreter/Kernels.h"

#include "abi/ra_dtype.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ra::interp {

std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = (int64_t)shape.size() - 2; i >= 0; --i)
    s[i] = s[i + 1] * shape[i + 1];
  return s;
}

int64_t product(const std::vector<int64_t> &shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i)
    n *= shape[i];
  return n;
}

namespace {

/// Offset into `from` (right-aligned against `to`, size-1 dims broadcast) of
/// each flat index of `to`.
std::vector<int64_t> broadcastOffsets(const std::vector<int64_t> &from,
                                      const std::vector<int64_t> &to) {
  std::vector<int64_t> fromStrides = stridesOf(from);
  size_t lead = to.size() - from.size();
  std::vector<int64_t> offsets(product(to, 0, to.size()));
  std::vector<int64_t> coord(to.size(), 0);
  for (size_t flat = 0; flat < offsets.size(); ++flat) {
    int64_t off = 0;
    for (size_t i = lead; i < to.size(); ++i)
      if (from[i - lead] != 1)
        off += coord[i] * fromStrides[i - lead];
    offsets[flat] = off;
    for (int64_t i = (int64_t)to.size() - 1; i >= 0; --i) {
      if (++coord[i] < to[i])
        break;
      coord[i] = 0;
    }
  }
  return offsets;
}
} // namespace

Tensor matmul(const Tensor &a, const Tensor &b, bool ta, bool tb,
              const std::vector<int64_t> &resultShape) {
  Tensor c(resultShape);
  size_t r = resultShape.size();
  int64_t m = resultShape[r - 2], n = resultShape[r - 1];
  int64_t k = ta ? a.shape[a.rank() - 2] : a.shape[a.rank() - 1];
  std::vector<int64_t> batch(resultShape.begin(), resultShape.end() - 2);
  std::vector<int64_t> aBatch(a.shape.begin(), a.shape.end() - 2);
  std::vector<int64_t> bBatch(b.shape.begin(), b.shape.end() - 2);
  auto aOff = broadcastOffsets(aBatch, batch), bOff = broadcastOffsets(bBatch, batch);
  int64_t aMat = m * k, bMat = k * n;
  for (size_t bi = 0; bi < aOff.size(); ++bi) {
    const Real *A = a.data.data() + aOff[bi] * aMat;
    const Real *B = b.data.data() + bOff[bi] * bMat;
    Real *C = c.data.data() + bi * m * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t p = 0; p < k; ++p) {
        Real av = ta ? A[p * m + i] : A[i * k + p];
        if (av == 0)
          continue;
        for (int64_t j = 0; j < n; ++j)
          C[i * n + j] += av * (tb ? B[j * k + p] : B[p * n + j]);
      }
  }
  return c;
}

Tensor roundedToBf16(const Tensor &x) {
  Tensor r = x;
  for (Real &v : r.data)
    v = ra_dtype::roundTo(float(v), ra_dtype::Dtype::BF16);
  return r;
}

Tensor reduce(const Tensor &x, int64_t axis, bool keepdim, char kind) {
  int64_t outer = product(x.shape, 0, axis), n = x.shape[axis];
  int64_t inner = product(x.shape, axis + 1, x.shape.size());
  std::vector<int64_t> shape = x.shape;
  if (keepdim)
    shape[axis] = 1;
  else
    shape.erase(shape.begin() + axis);
  Tensor y(shape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      Real acc = kind == 'x' ? -std::numeric_limits<Real>::infinity() : 0.0;
      for (int64_t t = 0; t < n; ++t) {
        Real v = x.data[(o * n + t) * inner + i];
        acc = kind == 'x' ? std::max(acc, v) : acc + v;
      }
      y.data[o * inner + i] = kind == 'm' ? acc / n : acc;
    }
  return y;
}

Tensor causalMean(const Tensor &x, int64_t axis) {
  int64_t outer = product(x.shape, 0, axis), n = x.shape[axis];
  int64_t inner = product(x.shape, axis + 1, x.shape.size());
  Tensor y(x.shape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      Real sum = 0;
      for (int64_t t = 0; t < n; ++t) {
        sum += x.data[(o * n + t) * inner + i];
        y.data[(o * n + t) * inner + i] = sum / (t + 1);
      }
    }
  return y;
}

Tensor causalMeanGrad(const Tensor &dy, int64_t axis) {
  int64_t outer = product(dy.shape, 0, axis), n = dy.shape[axis];
  int64_t inner = product(dy.shape, axis + 1, dy.shape.size());
  Tensor dx(dy.shape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      Real sum = 0; // sum over t >= s of dy[t] / (t + 1)
      for (int64_t t = n - 1; t >= 0; --t) {
        sum += dy.data[(o * n + t) * inner + i] / (t + 1);
        dx.data[(o * n + t) * inner + i] = sum;
      }
    }
  return dx;
}

Tensor layerNorm(const Tensor &x, const Tensor &w, const Tensor &b, Real eps) {
  int64_t d = x.shape.back(), rows = x.numElements() / d;
  Tensor y(x.shape);
  for (int64_t r = 0; r < rows; ++r) {
    const Real *xr = &x.data[r * d];
    Real mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i)
      mean += xr[i];
    mean /= d;
    for (int64_t i = 0; i < d; ++i)
      var += (xr[i] - mean) * (xr[i] - mean);
    Real rstd = 1 / std::sqrt(var / d + eps);
    for (int64_t i = 0; i < d; ++i)
      y.data[r * d + i] = (xr[i] - mean) * rstd * w.data[i] + b.data[i];
  }
  return y;
}

std::vector<Tensor> layerNormGrad(const Tensor &x, const Tensor &w, const Tensor &dy, Real eps) {
  int64_t d = x.shape.back(), rows = x.numElements() / d;
  Tensor dx(x.shape), dw(w.shape), db(w.shape);
  std::vector<Real> xhat(d), dxhat(d);
  for (int64_t r = 0; r < rows; ++r) {
    const Real *xr = &x.data[r * d], *g = &dy.data[r * d];
    Real mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i)
      mean += xr[i];
    mean /= d;
    for (int64_t i = 0; i < d; ++i)
      var += (xr[i] - mean) * (xr[i] - mean);
    Real rstd = 1 / std::sqrt(var / d + eps);
    Real meanDxhat = 0, meanDxhatXhat = 0;
    for (int64_t i = 0; i < d; ++i) {
      xhat[i] = (xr[i] - mean) * rstd;
      dxhat[i] = g[i] * w.data[i];
      dw.data[i] += g[i] * xhat[i];
      db.data[i] += g[i];
      meanDxhat += dxhat[i];
      meanDxhatXhat += dxhat[i] * xhat[i];
    }
    meanDxhat /= d;
    meanDxhatXhat /= d;
    for (int64_t i = 0; i < d; ++i)
      dx.data[r * d + i] = rstd * (dxhat[i] - meanDxhat - xhat[i] * meanDxhatXhat);
  }
  return {dx, dw, db};
}

Tensor softmax(const Tensor &x) {
  int64_t d = x.shape.back(), rows = x.numElements() / d;
  Tensor y(x.shape);
  for (int64_t r = 0; r < rows; ++r) {
    const Real *xr = &x.data[r * d];
    Real mx = *std::max_element(xr, xr + d), sum = 0;
    for (int64_t i = 0; i < d; ++i)
      sum += (y.data[r * d + i] = std::exp(xr[i] - mx));
    for (int64_t i = 0; i < d; ++i)
      y.data[r * d + i] /= sum;
  }
  return y;
}

static std::string checkId(Real id, int64_t vocab, int64_t position) {
  if (id < 0 || id >= vocab)
    return "token id " + std::to_string((int64_t)id) + " at position " + std::to_string(position) +
           " is outside the vocabulary [0, " + std::to_string(vocab) + ")";
  return "";
}

std::string embedding(const Tensor &table, const Tensor &ids, Tensor &out) {
  int64_t v = table.shape[0], d = table.shape[1];
  std::vector<int64_t> shape = ids.shape;
  shape.push_back(d);
  out = Tensor(shape);
  for (int64_t n = 0; n < ids.numElements(); ++n) {
    if (auto err = checkId(ids.data[n], v, n); !err.empty())
      return err;
    std::copy_n(&table.data[(int64_t)ids.data[n] * d], d, &out.data[n * d]);
  }
  return "";
}

std::string embeddingGrad(const Tensor &ids, const Tensor &dy, Tensor &table) {
  int64_t v = table.shape[0], d = table.shape[1];
  std::fill(table.data.begin(), table.data.end(), 0.0);
  for (int64_t n = 0; n < ids.numElements(); ++n) {
    if (auto err = checkId(ids.data[n], v, n); !err.empty())
      return err;
    for (int64_t i = 0; i < d; ++i)
      table.data[(int64_t)ids.data[n] * d + i] += dy.data[n * d + i];
  }
  return "";
}

std::string crossEntropy(const Tensor &logits, const Tensor &targets, Tensor &loss) {
  int64_t v = logits.shape.back(), rows = logits.numElements() / v;
  Real total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (auto err = checkId(targets.data[r], v, r); !err.empty())
      return err;
    const Real *l = &logits.data[r * v];
    Real mx = *std::max_element(l, l + v), sum = 0;
    for (int64_t i = 0; i < v; ++i)
      sum += std::exp(l[i] - mx);
    total += mx + std::log(sum) - l[(int64_t)targets.data[r]];
  }
  loss = Tensor::scalar(total / rows);
  return "";
}

std::string crossEntropyGrad(const Tensor &logits, const Tensor &targets, Real dloss,
                             Tensor &dlogits) {
  int64_t v = logits.shape.back(), rows = logits.numElements() / v;
  dlogits = softmax(logits);
  for (int64_t r = 0; r < rows; ++r) {
    if (auto err = checkId(targets.data[r], v, r); !err.empty())
      return err;
    dlogits.data[r * v + (int64_t)targets.data[r]] -= 1;
  }
  for (Real &x : dlogits.data)
    x *= dloss / rows;
  return "";
}

namespace {
/// Views of one (batch, head) slice of q, k, v (k and v may be shared by
/// all heads) and the scores of models.md for it.
struct HeadView {
  int64_t tq, tk, e, dv;
  const Real *q, *k, *v;
};

HeadView headView(const Tensor &q, const Tensor &k, const Tensor &v, int64_t b, int64_t h) {
  HeadView hv;
  int64_t heads = q.shape[1];
  hv.tq = q.shape[2];
  hv.e = q.shape[3];
  hv.tk = k.shape[k.rank() - 2];
  hv.dv = v.shape.back();
  hv.q = &q.data[(b * heads + h) * hv.tq * hv.e];
  hv.k = &k.data[(k.rank() == 4 ? b * heads + h : b) * hv.tk * hv.e];
  hv.v = &v.data[(v.rank() == 4 ? b * heads + h : b) * hv.tk * hv.dv];
  return hv;
}

bool reciprocalApplies(const AttentionSpec &spec, int64_t i, int64_t j) {
  return spec.alpha && j <= i && (!spec.band || i - j <= *spec.band);
}

/// S = scale q k^T over the whole [tq, tk] matrix (the reciprocal term reads
/// S[j, i] above the diagonal), then P = softmax of the masked S_ra.
/// With `lseIn`, the probabilities are exp(S - lseIn) (a sibling's row
/// log-sum-exps) instead of the rows' own softmax.
void scoresAndProbs(const HeadView &hv, const AttentionSpec &spec, std::vector<Real> &s,
                    std::vector<Real> &p, Real *lse = nullptr, const Real *lseIn = nullptr) {
  s.assign(hv.tq * hv.tk, 0);
  p.assign(hv.tq * hv.tk, 0);
  for (int64_t i = 0; i < hv.tq; ++i)
    for (int64_t j = 0; j < hv.tk; ++j) {
      Real dot = 0;
      for (int64_t c = 0; c < hv.e; ++c)
        dot += hv.q[i * hv.e + c] * hv.k[j * hv.e + c];
      s[i * hv.tk + j] = spec.scale * dot;
    }
  for (int64_t i = 0; i < hv.tq; ++i) {
    Real mx = -std::numeric_limits<Real>::infinity();
    std::vector<Real> row(hv.tk);
    for (int64_t j = 0; j < hv.tk; ++j) {
      row[j] = s[i * hv.tk + j];
      if (reciprocalApplies(spec, i, j))
        row[j] += *spec.alpha * s[j * hv.tk + i];
      if (!spec.causal || j <= i)
        mx = std::max(mx, row[j]);
    }
    if (lseIn) {
      for (int64_t j = 0; j < hv.tk; ++j)
        if (!spec.causal || j <= i)
          p[i * hv.tk + j] = std::exp(row[j] - lseIn[i]);
      continue;
    }
    Real sum = 0;
    for (int64_t j = 0; j < hv.tk; ++j)
      if (!spec.causal || j <= i)
        sum += (p[i * hv.tk + j] = std::exp(row[j] - mx));
    for (int64_t j = 0; j < hv.tk; ++j)
      p[i * hv.tk + j] /= sum;
    if (lse)
      lse[i] = mx + std::log(sum);
  }
}
} // namespace

Tensor attention(const Tensor &q, const Tensor &k, const Tensor &v, const AttentionSpec &spec,
                 Tensor *lse, const Tensor *lseIn) {
  int64_t batch = q.shape[0], heads = q.shape[1];
  Tensor y({batch, heads, q.shape[2], v.shape.back()});
  if (lse)
    *lse = Tensor({batch, heads, q.shape[2]});
  std::vector<Real> s, p;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      HeadView hv = headView(q, k, v, b, h);
      scoresAndProbs(hv, spec, s, p, lse ? &lse->data[(b * heads + h) * hv.tq] : nullptr,
                     lseIn ? &lseIn->data[(b * heads + h) * hv.tq] : nullptr);
      Real *out = &y.data[(b * heads + h) * hv.tq * hv.dv];
      for (int64_t i = 0; i < hv.tq; ++i)
        for (int64_t j = 0; j < hv.tk; ++j)
          for (int64_t c = 0; c < hv.dv; ++c)
            out[i * hv.dv + c] += p[i * hv.tk + j] * hv.v[j * hv.dv + c];
    }
  return y;
}

std::vector<Tensor> attentionGrad(const Tensor &q, const Tensor &k, const Tensor &v,
                                  const Tensor &dy, const AttentionSpec &spec,
                                  const Tensor *lseIn) {
  int64_t batch = q.shape[0], heads = q.shape[1];
  Tensor dq(q.shape), dk(k.shape), dv(v.shape), dalpha = Tensor::scalar(0);
  std::vector<Real> s, p;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      HeadView hv = headView(q, k, v, b, h);
      scoresAndProbs(hv, spec, s, p, nullptr,
                     lseIn ? &lseIn->data[(b * heads + h) * hv.tq] : nullptr);
      int64_t tq = hv.tq, tk = hv.tk;
      const Real *g = &dy.data[(b * heads + h) * tq * hv.dv];
      Real *dqh = &dq.data[(b * heads + h) * tq * hv.e];
      Real *dkh = &dk.data[(k.rank() == 4 ? b * heads + h : b) * tk * hv.e];
      Real *dvh = &dv.data[(v.rank() == 4 ? b * heads + h : b) * tk * hv.dv];
      // dP = g v^T;  dv += P^T g
      std::vector<Real> dp(tq * tk, 0), dsra(tq * tk, 0), ds(tq * tk, 0);
      for (int64_t i = 0; i < tq; ++i)
        for (int64_t j = 0; j < tk; ++j)
          for (int64_t c = 0; c < hv.dv; ++c) {
            dp[i * tk + j] += g[i * hv.dv + c] * hv.v[j * hv.dv + c];
            dvh[j * hv.dv + c] += p[i * tk + j] * g[i * hv.dv + c];
          }
      // softmax backward: dS_ra = P (dP - sum_j P dP)
      for (int64_t i = 0; i < tq; ++i) {
        Real dot = 0;
        for (int64_t j = 0; j < tk; ++j)
          dot += p[i * tk + j] * dp[i * tk + j];
        for (int64_t j = 0; j < tk; ++j)
          dsra[i * tk + j] = p[i * tk + j] * (dp[i * tk + j] - dot);
      }
      // S_ra[i, j] = S[i, j] + alpha S[j, i] (where the term applies)
      for (int64_t i = 0; i < tq; ++i)
        for (int64_t j = 0; j < tk; ++j) {
          ds[i * tk + j] += dsra[i * tk + j];
          if (reciprocalApplies(spec, i, j)) {
            ds[j * tk + i] += *spec.alpha * dsra[i * tk + j];
            dalpha.data[0] += dsra[i * tk + j] * s[j * tk + i];
          }
        }
      // S = scale q k^T
      for (int64_t i = 0; i < tq; ++i)
        for (int64_t j = 0; j < tk; ++j) {
          Real d = spec.scale * ds[i * tk + j];
          if (d == 0)
            continue;
          for (int64_t c = 0; c < hv.e; ++c) {
            dqh[i * hv.e + c] += d * hv.k[j * hv.e + c];
            dkh[j * hv.e + c] += d * hv.q[i * hv.e + c];
          }
        }
    }
  std::vector<Tensor> grads{dq, dk, dv};
  if (spec.alpha)
    grads.push_back(dalpha);
  return grads;
}

/// Position lengths[b], which must leave the new row a place in `cached` rows.
static std::string positionOf(const Tensor &lengths, int64_t b, int64_t cached, int64_t &p) {
  Real v = lengths.data[b];
  if (!(v >= 0 && v < cached) || v != std::floor(v))
    return "position " + std::to_string((long long)v) + " of sequence " + std::to_string(b) +
           " is outside the cache's " + std::to_string(cached) + " positions";
  p = int64_t(v);
  return "";
}

std::string cachedAttention(const Tensor &q, const Tensor &kPast, const Tensor &kNew,
                            const Tensor &vPast, const Tensor &vNew, const Tensor &lengths,
                            const Tensor *qPast, const Tensor *kRecip, const Tensor *table,
                            bool pagedQueries, const AttentionSpec &spec, Tensor &out) {
  int64_t batch = q.shape[0], heads = q.shape[1], e = q.shape[3], dv = vPast.shape.back();
  // Paged: pools of `block` positions, `perSequence` blocks in a table row.
  int64_t rows = kPast.shape[kPast.rank() - 2];
  int64_t block = table ? rows : 0, perSequence = table ? table->shape[1] : 1;
  int64_t cached = rows * perSequence, pool = kPast.shape[0];
  int64_t ring = qPast ? qPast->shape[2] : 0, er = qPast ? qPast->shape[3] : 0;
  bool kShared = kPast.rank() == 3, vShared = vPast.rank() == 3;
  out = Tensor({batch, heads, 1, dv});
  for (int64_t b = 0; b < batch; ++b) {
    int64_t p = 0;
    if (std::string err = positionOf(lengths, b, cached, p); !err.empty())
      return err;
    // Past position j of sequence b, head h, in a cache of `width` values
    // per position, per head or shared: its index in the cache or pool.
    std::string bad;
    auto past = [&](int64_t h, int64_t j, bool shared, int64_t width) -> int64_t {
      int64_t headCount = shared ? 1 : heads, head = shared ? 0 : h;
      if (!table)
        return (((b * headCount + head) * cached) + j) * width;
      Real at = table->data[b * perSequence + j / block];
      if (!(at >= 0 && at < pool) && bad.empty())
        bad = "block table entry " + std::to_string((long long)at) + " of sequence " +
              std::to_string(b) + " is outside the pool's " + std::to_string(pool) + " blocks";
      int64_t blk = std::clamp<int64_t>(int64_t(at), 0, pool - 1);
      return ((blk * headCount + head) * block + j % block) * width;
    };
    for (int64_t h = 0; h < heads; ++h) {
      const Real *qi = &q.data[(b * heads + h) * e];
      auto key = [&](int64_t j) {
        return j < p ? &kPast.data[past(h, j, kShared, e)]
                     : &kNew.data[(kShared ? b : b * heads + h) * e];
      };
      auto value = [&](int64_t j) {
        return j < p ? &vPast.data[past(h, j, vShared, dv)]
                     : &vNew.data[(vShared ? b : b * heads + h) * dv];
      };
      auto keptQuery = [&](int64_t j) {
        return pagedQueries ? &qPast->data[past(h, j, false, er)]
                            : &qPast->data[((b * heads + h) * ring + j % ring) * er];
      };
      auto dot = [](const Real *x, const Real *y, int64_t n) {
        Real s = 0;
        for (int64_t c = 0; c < n; ++c)
          s += x[c] * y[c];
        return s;
      };
      std::vector<Real> s(p + 1);
      Real mx = -std::numeric_limits<Real>::infinity();
      for (int64_t j = 0; j <= p; ++j) {
        s[j] = spec.scale * dot(qi, key(j), e);
        if (spec.alpha && (!spec.band || p - j <= *spec.band)) {
          // S[j, p]: query j against the new key.
          Real back = j == p ? dot(qi, key(p), e)
                             : dot(keptQuery(j), &kRecip->data[(b * heads + h) * er], er);
          s[j] += *spec.alpha * spec.scale * back;
        }
        mx = std::max(mx, s[j]);
      }
      Real sum = 0;
      for (Real &x : s)
        sum += (x = std::exp(x - mx));
      Real *y = &out.data[(b * heads + h) * dv];
      for (int64_t j = 0; j <= p; ++j)
        for (int64_t c = 0; c < dv; ++c)
          y[c] += s[j] / sum * value(j)[c];
    }
    if (!bad.empty())
      return bad;
  }
  return "";
}

std::string runningMean(const Tensor &sum, const Tensor &x, const Tensor &lengths, Tensor &out) {
  out = Tensor(x.shape);
  int64_t batch = x.shape[0], per = x.numElements() / batch;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t p = 0;
    if (std::string err = positionOf(lengths, b, INT64_MAX, p); !err.empty())
      return err;
    for (int64_t i = b * per; i < (b + 1) * per; ++i)
      out.data[i] = (sum.data[i] + x.data[i]) / Real(p + 1);
  }
  return "";
}

Tensor slice(const Tensor &x, int64_t axis, int64_t start, int64_t end) {
  int64_t outer = product(x.shape, 0, axis), n = x.shape[axis];
  int64_t inner = product(x.shape, axis + 1, x.shape.size());
  std::vector<int64_t> shape = x.shape;
  shape[axis] = end - start;
  Tensor y(shape, 0.0, x.isInteger);
  for (int64_t o = 0; o < outer; ++o)
    std::copy_n(&x.data[(o * n + start) * inner], (end - start) * inner,
                &y.data[o * (end - start) * inner]);
  return y;
}

Tensor concat(const std::vector<const Tensor *> &inputs, int64_t axis) {
  std::vector<int64_t> shape = inputs[0]->shape;
  shape[axis] = 0;
  for (const Tensor *t : inputs)
    shape[axis] += t->shape[axis];
  Tensor y(shape, 0.0, inputs[0]->isInteger);
  int64_t outer = product(shape, 0, axis), inner = product(shape, axis + 1, shape.size());
  int64_t offset = 0;
  for (const Tensor *t : inputs) {
    int64_t n = t->shape[axis];
    for (int64_t o = 0; o < outer; ++o)
      std::copy_n(&t->data[o * n * inner], n * inner, &y.data[(o * shape[axis] + offset) * inner]);
    offset += n;
  }
  return y;
}

Tensor transpose(const Tensor &x, const std::vector<int64_t> &perm) {
  std::vector<int64_t> shape(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    shape[i] = x.shape[perm[i]];
  Tensor y(shape, 0.0, x.isInteger);
  std::vector<int64_t> xs = stridesOf(x.shape), coord(shape.size(), 0);
  for (int64_t flat = 0; flat < y.numElements(); ++flat) {
    int64_t off = 0;
    for (size_t i = 0; i < shape.size(); ++i)
      off += coord[i] * xs[perm[i]];
    y.data[flat] = x.data[off];
    for (int64_t i = (int64_t)shape.size() - 1; i >= 0; --i) {
      if (++coord[i] < shape[i])
        break;
      coord[i] = 0;
    }
  }
  return y;
}

Tensor broadcast(const Tensor &x, const std::vector<int64_t> &shape) {
  Tensor y(shape, 0.0, x.isInteger);
  auto offsets = broadcastOffsets(x.shape, shape);
  for (size_t i = 0; i < offsets.size(); ++i)
    y.data[i] = x.data[offsets[i]];
  return y;
}

Tensor iota(const std::vector<int64_t> &shape, int64_t axis) {
  Tensor y(shape);
  int64_t n = shape[axis], inner = product(shape, axis + 1, shape.size());
  for (int64_t flat = 0; flat < y.numElements(); ++flat)
    y.data[flat] = (flat / inner) % n;
  return y;
}

} // namespace ra::interp
