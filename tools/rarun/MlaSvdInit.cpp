//===- MlaSvdInit.cpp - MLA's latent projections from GPT-2's keys and values ===//
#include "MlaSvdInit.h"

#include <cmath>
#include <fmt/format.h>

// LAPACK's divide-and-conquer SVD (from OpenBLAS, or the reference LAPACK).
extern "C" void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda,
                        double *s, double *u, const int *ldu, double *vt, const int *ldvt,
                        double *work, const int *lwork, int *iwork, int *info);

namespace rarun {

namespace {

/// W = U S V^T of a square [D, D] row-major matrix: U and V row-major [D, D]
/// (columns the singular vectors), S descending.
std::string svd(const std::vector<float> &w, int d, std::vector<double> &u, std::vector<double> &s,
                std::vector<double> &v) {
  // LAPACK is column-major: a row-major W is the column-major W^T, whose SVD
  // is V S U^T. So LAPACK's U is our V and its V^T our U^T.
  std::vector<double> a(w.begin(), w.end()), lu(size_t(d) * d), lvt(size_t(d) * d);
  s.assign(d, 0);
  std::vector<int> iwork(8 * size_t(d));
  int info = 0, lwork = -1;
  double query = 0;
  dgesdd_("A", &d, &d, a.data(), &d, s.data(), lu.data(), &d, lvt.data(), &d, &query, &lwork,
          iwork.data(), &info);
  lwork = int(query);
  std::vector<double> work(std::max(lwork, 1));
  dgesdd_("A", &d, &d, a.data(), &d, s.data(), lu.data(), &d, lvt.data(), &d, work.data(), &lwork,
          iwork.data(), &info);
  if (info != 0)
    return fmt::format("LAPACK's dgesdd failed (info {})", info);
  // W^T = LU S LVT (column-major), so W = LVT^T S LU^T: U[i][k] = LVT(k, i)
  // = lvt[i * d + k] (column-major (k, i)), V[j][k] = LU(j, k) = lu[k * d + j].
  u.resize(size_t(d) * d);
  v.resize(size_t(d) * d);
  for (int i = 0; i < d; ++i)
    for (int k = 0; k < d; ++k) {
      u[size_t(i) * d + k] = lvt[size_t(i) * d + k];
      v[size_t(i) * d + k] = lu[size_t(k) * d + i];
    }
  return "";
}

double energyKept(const std::vector<double> &s, int64_t r) {
  double kept = 0, all = 0;
  for (size_t k = 0; k < s.size(); ++k)
    (k < size_t(r) ? kept : all) += s[k] * s[k];
  return kept / std::max(kept + all, 1e-300);
}

} // namespace

std::string mlaLatentsFromSvd(const std::vector<float> &wK, const std::vector<float> &wV,
                              int64_t dModel, int64_t nHead, int64_t latent, MlaLatents &out) {
  int d = int(dModel);
  int64_t r = latent, hd = dModel / nHead;
  std::vector<double> u, s, v;
  // Keys: S = q W_ql[h] (h W_kd)^T / sqrt(R) should be q_h (h W_k,h)^T / sqrt(hd),
  // i.e. W_ql W_kd^T = sqrt(R / hd) W_k^T. With W_k ~ U_R S_R V_R^T:
  // W_kd = U_R sqrt(S_R), W_ql (stacked [D, R]) = sqrt(R / hd) V_R sqrt(S_R).
  if (std::string err = svd(wK, d, u, s, v); !err.empty())
    return err;
  out.wKd.assign(size_t(d) * r, 0);
  out.wQl.assign(size_t(d) * r, 0);
  double c = std::sqrt(double(r) / double(hd));
  for (int i = 0; i < d; ++i)
    for (int64_t k = 0; k < r && k < d; ++k) {
      double root = std::sqrt(s[k]);
      out.wKd[i * r + k] = float(u[size_t(i) * d + k] * root);
      out.wQl[i * r + k] = float(c * v[size_t(i) * d + k] * root); // row i: head i / hd, dim i % hd
    }
  out.keyEnergy = energyKept(s, r);
  // Values: h W_vd W_vu should be h W_v: W_vd = U_R sqrt(S_R), W_vu = sqrt(S_R) V_R^T.
  if (std::string err = svd(wV, d, u, s, v); !err.empty())
    return err;
  out.wVd.assign(size_t(d) * r, 0);
  out.wVu.assign(size_t(r) * d, 0);
  for (int i = 0; i < d; ++i)
    for (int64_t k = 0; k < r && k < d; ++k) {
      double root = std::sqrt(s[k]);
      out.wVd[i * r + k] = float(u[size_t(i) * d + k] * root);
      out.wVu[k * d + i] = float(root * v[size_t(i) * d + k]);
    }
  out.valueEnergy = energyKept(s, r);
  return "";
}

} // namespace rarun
