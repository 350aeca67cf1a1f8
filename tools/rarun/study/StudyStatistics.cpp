//===- StudyStatistics.cpp - Student's t and Welch's interval -------------===//
#include "StudyStatistics.h"

#include <cmath>
#include <limits>

namespace ra::study {

namespace {

/// The continued fraction of the regularized incomplete beta function
/// (Lentz's method, as in Numerical Recipes' betacf).
double betaContinuedFraction(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-15;
  double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < tiny)
    d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 300; ++m) {
    int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    c = 1 + aa / c;
    d = 1 / (std::fabs(d) < tiny ? tiny : d);
    c = std::fabs(c) < tiny ? tiny : c;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    c = 1 + aa / c;
    d = 1 / (std::fabs(d) < tiny ? tiny : d);
    c = std::fabs(c) < tiny ? tiny : c;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < eps)
      break;
  }
  return h;
}

/// I_x(a, b).
double regularizedBeta(double a, double b, double x) {
  if (x <= 0)
    return 0;
  if (x >= 1)
    return 1;
  double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                          b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2))
    return front * betaContinuedFraction(a, b, x) / a;
  return 1 - front * betaContinuedFraction(b, a, 1 - x) / b;
}

} // namespace

Summary summarize(const std::vector<double> &xs) {
  Summary s;
  s.n = int(xs.size());
  if (xs.empty())
    return s;
  for (double x : xs)
    s.mean += x;
  s.mean /= s.n;
  if (s.n > 1) {
    double sq = 0;
    for (double x : xs)
      sq += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(sq / (s.n - 1));
  }
  return s;
}

double studentTCdf(double t, double df) {
  double tail = 0.5 * regularizedBeta(df / 2, 0.5, df / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

double studentTQuantile(double p, double df) {
  if (p == 0.5)
    return 0;
  if (p < 0.5)
    return -studentTQuantile(1 - p, df);
  // The CDF is increasing: bisect on [0, hi] after growing hi past p.
  double lo = 0, hi = 1;
  while (studentTCdf(hi, df) < p && hi < 1e12)
    hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
    double mid = 0.5 * (lo + hi);
    (studentTCdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

std::optional<Difference> pairedDifference(const std::vector<double> &a,
                                           const std::vector<double> &b, double confidence) {
  if (a.size() != b.size() || a.size() < 2)
    return std::nullopt;
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    d[i] = a[i] - b[i];
  Summary s = summarize(d);
  Difference out;
  out.estimate = s.mean;
  out.df = s.n - 1;
  double half = studentTQuantile(0.5 + confidence / 2, out.df) * s.std / std::sqrt(double(s.n));
  out.low = s.mean - half;
  out.high = s.mean + half;
  return out;
}

std::optional<Difference> welchDifference(const std::vector<double> &a,
                                          const std::vector<double> &b, double confidence) {
  if (a.size() < 2 || b.size() < 2)
    return std::nullopt;
  Summary sa = summarize(a), sb = summarize(b);
  double va = sa.std * sa.std / sa.n, vb = sb.std * sb.std / sb.n;
  Difference d;
  d.estimate = sa.mean - sb.mean;
  double se = std::sqrt(va + vb);
  if (se == 0) { // identical runs: no spread, the interval is the point
    d.low = d.high = d.estimate;
    d.df = std::numeric_limits<double>::infinity();
    return d;
  }
  d.df = (va + vb) * (va + vb) / (va * va / (sa.n - 1) + vb * vb / (sb.n - 1));
  double t = studentTQuantile(0.5 + confidence / 2, d.df);
  d.low = d.estimate - t * se;
  d.high = d.estimate + t * se;
  return d;
}

} // namespace ra::study
