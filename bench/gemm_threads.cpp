// How fast OpenBLAS's sgemm runs at a training step's shapes, alone and
// right after an OpenMP region (as in a step, where every row kernel is an
// OpenMP loop and its workers may still be spinning when the GEMM starts).
// Decides how the kernels' OpenMP threads and OpenBLAS's share the cores;
// the third column, with the caches flushed first (operands fetched from
// memory, as in a step whose arena is far larger than the caches), is the
// rate a step can expect.
//
//   bench/gemm_threads [--config A|B] [--reps N]
//   OMP_WAIT_POLICY=active|passive, GOMP_SPINCOUNT, OMP_NUM_THREADS and
//   OPENBLAS_NUM_THREADS are read by the libraries as usual.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Shape {
  const char *what;
  int m, n, k;
  bool ta, tb;
};

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// A row kernel's worth of OpenMP work: its workers then spin or sleep,
/// as OMP_WAIT_POLICY says, while the GEMM that follows runs.
void ompRegion(std::vector<float> &x) {
  const int64_t n = int64_t(x.size());
  float *p = x.data();
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i)
    p[i] = p[i] * 0.999f + 0.001f;
}

/// Writes a buffer larger than the last-level cache, so the GEMM's operands
/// come from memory.
void flushCaches(std::vector<float> &big) {
  float *p = big.data();
  const int64_t n = int64_t(big.size());
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i)
    p[i] += 1.0f;
}

/// Best-of-reps GFLOP/s of C = op(A) op(B), each call after `before`.
template <class F> double rate(const Shape &s, int reps, F before) {
  std::vector<float> a(size_t(s.m) * s.k, 0.5f), b(size_t(s.k) * s.n, 0.25f), c(size_t(s.m) * s.n);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    before();
    double t0 = seconds();
    cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans,
                s.m, s.n, s.k, 1.0f, a.data(), s.ta ? s.m : s.k, b.data(), s.tb ? s.k : s.n, 0.0f,
                c.data(), s.n);
    best = std::min(best, seconds() - t0);
  }
  return 2.0 * s.m * s.n * s.k / best / 1e9;
}

} // namespace

int main(int argc, char **argv) {
  std::string config = "A";
  int reps = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--config"))
      config = argv[i + 1];
    else if (!std::strcmp(argv[i], "--reps"))
      reps = std::atoi(argv[i + 1]);
  }
  const int rows = 1024; // batch 4 x 256 positions
  const int d = config == "B" ? 768 : 256, v = config == "B" ? 50257 : 256;
  std::vector<Shape> shapes = {
      {"x @ w_qkv", rows, 3 * d, d, false, false},
      {"x @ w_fc", rows, 4 * d, d, false, false},
      {"h @ w_proj", rows, d, 4 * d, false, false},
      {"x @ wte^T", rows, v, d, false, true},
      {"dy @ w_fc^T", rows, d, 4 * d, false, true},
      {"x^T @ dy (w_fc)", d, 4 * d, rows, true, false},
      {"x^T @ dy (w_qkv)", d, 3 * d, rows, true, false},
      {"square 2048", 2048, 2048, 2048, false, false},
  };
  std::vector<float> work(size_t(rows) * d), big(size_t(64) << 20 >> 2);
  const char *policy = std::getenv("OMP_WAIT_POLICY");
  std::printf("OpenMP threads %d, OpenBLAS threads %d, OMP_WAIT_POLICY %s\n", omp_get_max_threads(),
              openblas_get_num_threads(), policy ? policy : "(default)");
  std::printf("%-18s %6s %6s %6s %12s %12s %12s\n", "GEMM", "m", "n", "k", "alone", "after OpenMP",
              "cold caches");
  for (const Shape &s : shapes) {
    double alone = rate(s, reps, [] {});
    double after = rate(s, reps, [&] { ompRegion(work); });
    double cold = rate(s, reps, [&] { flushCaches(big); });
    std::printf("%-18s %6d %6d %6d %8.1f GF/s %8.1f GF/s %8.1f GF/s\n", s.what, s.m, s.n, s.k,
                alone, after, cold);
  }
}
