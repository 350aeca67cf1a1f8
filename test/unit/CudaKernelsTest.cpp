// The CUDA kernel families (codegen/cuda/ra_cuda_kernels.cuh) run under the
// SIMT emulator and compared with the CPU kernels (codegen/cpu/), which are
// themselves checked against the interpreter. Sizes are odd on purpose:
// partial warps, partial blocks, grid-stride tails.
#include "abi/Init.h"
#include "codegen/cpu/ra_cpu_kernels.h"
#include "codegen/cuda/ra_cuda_device.cuh" // the kernels and the device layer

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

namespace {

std::vector<float> randomVector(size_t n, uint64_t seed, float offset = 0) {
  ra::Rng rng(seed);
  std::vector<float> v(n);
  for (float &x : v)
    x = float(rng.normal()) + offset;
  return v;
}

double relError(const std::vector<float> &a, const std::vector<float> &b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return diff / std::max(scale, 1e-30);
}

constexpr double kTolerance = 1e-5;

/// An attention call's shape: MLA's shared keys or values, RA with a band.
struct Case {
  int64_t b, h, t, e, dv;
  bool kShared, vShared, causal, reciprocal;
  int64_t band;

  ra_cpu::AttentionShape shape(float scale) const {
    return {b, h, t, t, e, dv, kShared, vShared, scale, causal, reciprocal, band};
  }
};

} // namespace

TEST_CASE("cuda kernels: elementwise, fill, iota", "[cuda-kernels]") {
  for (int64_t n : {1, 33, 1000, 70000}) {
    auto a = randomVector(n, 1), b = randomVector(n, 2, 3.f);
    std::vector<float> gpu(n), cpu(n);
    ra_cuda::binary<ra_math::Binary::Div>(a.data(), b.data(), gpu.data(), n);
    ra_cpu::binary<ra_math::Binary::Div>(a.data(), b.data(), cpu.data(), n);
    CHECK(relError(gpu, cpu) <= kTolerance);
    ra_cuda::binary<ra_math::Binary::GeluGrad>(a.data(), b.data(), gpu.data(), n);
    ra_cpu::binary<ra_math::Binary::GeluGrad>(a.data(), b.data(), cpu.data(), n);
    CHECK(relError(gpu, cpu) <= kTolerance);
    ra_cuda::unary<ra_math::Unary::Gelu>(a.data(), gpu.data(), n);
    ra_cpu::unary<ra_math::Unary::Gelu>(a.data(), cpu.data(), n);
    CHECK(relError(gpu, cpu) <= kTolerance);
    ra_cuda::iota(gpu.data(), n, 7, 3);
    ra_cpu::iota(cpu.data(), n, 7, 3);
    CHECK(gpu == cpu);
    ra_cuda::fill(gpu.data(), 0.25f, n);
    CHECK(gpu == std::vector<float>(n, 0.25f));
  }
}

TEST_CASE("cuda kernels: gather (broadcast, transpose), slice, concat", "[cuda-kernels]") {
  // [3, 5, 7] transposed to [7, 3, 5]
  auto x = randomVector(3 * 5 * 7, 3);
  const int64_t dims[] = {7, 3, 5}, strides[] = {1, 35, 7};
  std::vector<float> gpu(105), cpu(105);
  ra_cuda::gather(x.data(), gpu.data(), 3, dims, strides);
  ra_cpu::gather(x.data(), cpu.data(), 3, dims, strides);
  CHECK(gpu == cpu);
  // [5] broadcast to [4, 5]
  const int64_t bdims[] = {4, 5}, bstrides[] = {0, 1};
  std::vector<float> g2(20), c2(20);
  ra_cuda::gather(x.data(), g2.data(), 2, bdims, bstrides);
  ra_cpu::gather(x.data(), c2.data(), 2, bdims, bstrides);
  CHECK(g2 == c2);
  // slice [3, 5, 7] along axis 1: [1, 4)
  std::vector<float> g3(3 * 3 * 7), c3(3 * 3 * 7);
  ra_cuda::slice(x.data(), g3.data(), 3, 5, 7, 1, 4);
  ra_cpu::slice(x.data(), c3.data(), 3, 5, 7, 1, 4);
  CHECK(g3 == c3);
  // concat part: [3, 5, 7] into [3, 9, 7] at offset 2
  std::vector<float> g4(3 * 9 * 7, 0.f), c4(3 * 9 * 7, 0.f);
  ra_cuda::concatPart(x.data(), g4.data(), 3, 5, 7, 2, 9);
  ra_cpu::concatPart(x.data(), c4.data(), 3, 5, 7, 2, 9);
  CHECK(g4 == c4);
}

TEST_CASE("cuda kernels: reductions and the causal mean", "[cuda-kernels]") {
  // The last two: past one block of the CPU's columns, and exactly one.
  for (auto [outer, n, inner] : {std::tuple<int64_t, int64_t, int64_t>{3, 300, 1},
                                 {5, 33, 1},
                                 {4, 17, 9},
                                 {1, 1000, 3},
                                 {2, 7, 600},
                                 {1, 64, 128}}) {
    auto x = randomVector(outer * n * inner, 4);
    std::vector<float> gpu(outer * inner), cpu(outer * inner), inOrder(outer * inner);
    ra_cuda::reduce<ra_cuda::Reduce::Sum>(x.data(), gpu.data(), outer, n, inner);
    ra_cpu::reduce<ra_cpu::Reduce::Sum>(x.data(), cpu.data(), outer, n, inner);
    CHECK(relError(gpu, cpu) <= kTolerance);
    // The CPU's sums are each element's values added in order, in double,
    // whichever layout the kernel walks.
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        double acc = 0;
        for (int64_t t = 0; t < n; ++t)
          acc += x[(o * n + t) * inner + i];
        inOrder[o * inner + i] = float(acc);
      }
    CHECK(cpu == inOrder);
    ra_cuda::reduce<ra_cuda::Reduce::Max>(x.data(), gpu.data(), outer, n, inner);
    ra_cpu::reduce<ra_cpu::Reduce::Max>(x.data(), cpu.data(), outer, n, inner);
    CHECK(gpu == cpu);
    ra_cuda::reduce<ra_cuda::Reduce::Mean>(x.data(), gpu.data(), outer, n, inner);
    ra_cpu::reduce<ra_cpu::Reduce::Mean>(x.data(), cpu.data(), outer, n, inner);
    CHECK(relError(gpu, cpu) <= kTolerance);
    std::vector<float> g2(x.size()), c2(x.size());
    for (bool grad : {false, true}) {
      ra_cuda::causalMean(x.data(), g2.data(), outer, n, inner, grad);
      ra_cpu::causalMean(x.data(), c2.data(), outer, n, inner, grad);
      CHECK(relError(g2, c2) <= kTolerance);
    }
  }
}

TEST_CASE("cuda kernels: softmax and layernorm, a block per row", "[cuda-kernels]") {
  for (auto [rows, d] : {std::pair<int64_t, int64_t>{1, 7}, {13, 33}, {4, 300}, {2, 1000}}) {
    auto x = randomVector(rows * d, 5, 0.5f);
    auto w = randomVector(d, 6, 1.f), b = randomVector(d, 7);
    std::vector<float> gpu(rows * d), cpu(rows * d);
    ra_cuda::softmax(x.data(), gpu.data(), rows, d);
    ra_cpu::softmax(x.data(), cpu.data(), rows, d);
    CHECK(relError(gpu, cpu) <= kTolerance);
    ra_cuda::layerNorm(x.data(), w.data(), b.data(), gpu.data(), rows, d, 1e-5f);
    ra_cpu::layerNorm(x.data(), w.data(), b.data(), cpu.data(), rows, d, 1e-5f);
    CHECK(relError(gpu, cpu) <= kTolerance);
  }
}

TEST_CASE("cuda kernels: layernorm backward, embedding, cross-entropy", "[cuda-kernels]") {
  for (auto [rows, d] : {std::pair<int64_t, int64_t>{1, 7}, {13, 33}, {6, 300}}) {
    auto x = randomVector(rows * d, 8), w = randomVector(d, 9, 1.f),
         dy = randomVector(rows * d, 10);
    std::vector<float> gdx(rows * d), gdw(d), gdb(d), cdx(rows * d), cdw(d), cdb(d),
        stats(2 * rows);
    ra_cuda::layerNormGrad(x.data(), w.data(), dy.data(), gdx.data(), gdw.data(), gdb.data(), rows,
                           d, 1e-5f, stats.data());
    ra_cpu::layerNormGrad(x.data(), w.data(), dy.data(), cdx.data(), cdw.data(), cdb.data(), rows,
                          d, 1e-5f);
    CHECK(relError(gdx, cdx) <= kTolerance);
    CHECK(relError(gdw, cdw) <= kTolerance);
    CHECK(relError(gdb, cdb) <= kTolerance);
  }
  int64_t n = 37, vocab = 11, d = 9;
  auto table = randomVector(vocab * d, 11), dy = randomVector(n * d, 12);
  std::vector<int32_t> ids(n);
  for (int64_t i = 0; i < n; ++i)
    ids[i] = int32_t((i * 7) % vocab);
  std::vector<float> gout(n * d), cout(n * d), gtab(vocab * d), ctab(vocab * d);
  ra_cuda::embedding(table.data(), ids.data(), gout.data(), n, d);
  ra_cpu::embedding(table.data(), ids.data(), cout.data(), n, d);
  CHECK(gout == cout);
  ra_cuda::embeddingGrad(ids.data(), dy.data(), gtab.data(), n, vocab, d);
  ra_cpu::embeddingGrad(ids.data(), dy.data(), ctab.data(), n, vocab, d);
  CHECK(relError(gtab, ctab) <= kTolerance);

  auto logits = randomVector(n * vocab, 13);
  std::vector<float> terms(n);
  float gloss = 0, closs = 0, dloss = 1.5f;
  ra_cuda::crossEntropy(logits.data(), ids.data(), &gloss, n, vocab, terms.data());
  ra_cpu::crossEntropy(logits.data(), ids.data(), &closs, n, vocab);
  CHECK(gloss == Approx(closs).epsilon(1e-6));
  std::vector<float> gg(n * vocab), cg(n * vocab);
  ra_cuda::crossEntropyGrad(logits.data(), ids.data(), &dloss, gg.data(), n, vocab);
  ra_cpu::crossEntropyGrad(logits.data(), ids.data(), &dloss, cg.data(), n, vocab);
  CHECK(relError(gg, cg) <= kTolerance);
}

TEST_CASE("cuda kernels: attention, standard, MLA and RA", "[cuda-kernels]") {
  for (const Case &c : {Case{2, 3, 9, 5, 4, false, false, true, false, -1},
                        Case{1, 2, 40, 8, 6, true, true, true, true, 7},
                        Case{2, 2, 33, 4, 4, true, false, true, true, -1},
                        Case{1, 2, 12, 4, 3, false, false, false, false, -1}}) {
    int64_t kh = c.kShared ? 1 : c.h, vh = c.vShared ? 1 : c.h;
    auto q = randomVector(c.b * c.h * c.t * c.e, 14), k = randomVector(c.b * kh * c.t * c.e, 15),
         v = randomVector(c.b * vh * c.t * c.dv, 16);
    float alpha = 0.3f, scale = 0.4f;
    std::vector<float> gout(c.b * c.h * c.t * c.dv), cout(gout.size());
    ra_cuda::attention(c.shape(scale), q.data(), k.data(), v.data(),
                       c.reciprocal ? &alpha : nullptr, gout.data());
    ra_cpu::attention(c.shape(scale), q.data(), k.data(), v.data(), c.reciprocal ? &alpha : nullptr,
                      cout.data());
    CHECK(relError(gout, cout) <= kTolerance);
  }
}

TEST_CASE("cuda kernels: attention backward and the GEMM launcher", "[cuda-kernels]") {
  for (const Case &c : {Case{2, 3, 9, 5, 4, false, false, true, false, -1},
                        Case{1, 2, 17, 8, 6, true, true, true, true, 5},
                        Case{2, 2, 11, 4, 4, true, false, true, true, -1},
                        Case{1, 2, 7, 4, 3, false, false, false, false, -1}}) {
    int64_t kh = c.kShared ? 1 : c.h, vh = c.vShared ? 1 : c.h;
    auto q = randomVector(c.b * c.h * c.t * c.e, 17), k = randomVector(c.b * kh * c.t * c.e, 18),
         v = randomVector(c.b * vh * c.t * c.dv, 19), dy = randomVector(c.b * c.h * c.t * c.dv, 20);
    float alpha = 0.3f;
    ra_cpu::AttentionShape gs = c.shape(0.4f), cs = gs;
    std::vector<float> gq(q.size()), gk(k.size()), gv(v.size()), cq(q.size()), ck(k.size()),
        cv(v.size()), scratch(gs.attentionGradScratch());
    float gda = 0, cda = 0;
    const float *a = c.reciprocal ? &alpha : nullptr;
    ra_cuda::attentionGrad(gs, q.data(), k.data(), v.data(), a, dy.data(), gq.data(), gk.data(),
                           gv.data(), c.reciprocal ? &gda : nullptr, scratch.data());
    ra_cpu::attentionGrad(cs, q.data(), k.data(), v.data(), a, dy.data(), cq.data(), ck.data(),
                          cv.data(), c.reciprocal ? &cda : nullptr);
    CHECK(relError(gq, cq) <= kTolerance);
    CHECK(relError(gk, ck) <= kTolerance);
    CHECK(relError(gv, cv) <= kTolerance);
    CHECK(gda == Approx(cda).epsilon(1e-5).margin(1e-6));
  }
  // Two batch entries sharing one weight, transposed right operand.
  auto a = randomVector(2 * 3 * 4, 21), w = randomVector(5 * 4, 22);
  const int64_t ao[] = {0, 1}, bo[] = {0, 0};
  std::vector<float> gc(2 * 3 * 5), cc(2 * 3 * 5);
  ra_cuda::gemm(a.data(), w.data(), gc.data(), 2, ao, bo, 3, 5, 4, false, true);
  ra_cpu::gemm(a.data(), w.data(), cc.data(), 2, ao, bo, 3, 5, 4, false, true);
  CHECK(relError(gc, cc) <= kTolerance);
}

TEST_CASE("cuda kernels: the backward's GEMM epilogues, the bias gradient and the GELU's, "
          "match the unfused calls",
          "[cuda-kernels][epilogue]") {
  // A weight gradient X^T dY (m = 7 inputs, n = 5 outputs, k = 37 rows) with
  // the bias gradient, the sums of dY's rows; then dC = gelu'(C) * dY W^T.
  const int64_t m = 7, n = 5, k = 37;
  const int64_t zero[] = {0};
  auto x = randomVector(k * m, 31), dy = randomVector(k * n, 32), w = randomVector(m * n, 33),
       pre = randomVector(k * m, 34);
  for (bool bf16 : {false, true}) {
    INFO("bf16 " << bf16);
    std::vector<float> scratch(ra_dtype::bf16StagingFloats(k * m + k * n, k * n + m * n));
    // Unfused: the product, then the reduce (rounding its values as the
    // bf16 GEMM reads them) or the GELU's backward.
    std::vector<float> dw(m * n), db(n), dc(k * m);
    if (bf16)
      ra_cpu::gemmBf16(x.data(), dy.data(), dw.data(), 1, zero, zero, m, n, k, true, false, k * m,
                       k * n);
    else
      ra_cpu::gemm(x.data(), dy.data(), dw.data(), 1, zero, zero, m, n, k, true, false);
    ra_cpu::reduce<ra_cpu::Reduce::Sum>(dy.data(), db.data(), 1, k, n, bf16);
    std::vector<float> product(k * m);
    if (bf16)
      ra_cpu::gemmBf16(dy.data(), w.data(), product.data(), 1, zero, zero, k, m, n, false, true,
                       k * n, m * n);
    else
      ra_cpu::gemm(dy.data(), w.data(), product.data(), 1, zero, zero, k, m, n, false, true);
    ra_cpu::binary<ra_math::Binary::GeluGrad>(pre.data(), product.data(), dc.data(), k * m);
    // The rounding is real: the bf16 sums differ from float32's.
    std::vector<float> db32(n);
    ra_cpu::reduce<ra_cpu::Reduce::Sum>(dy.data(), db32.data(), 1, k, n);
    CHECK((db32 == db) == !bf16);

    std::vector<float> cw(m * n), cb(n), cc(k * m), gw(m * n), gb(n), gc(k * m);
    ra_cpu::gemmBiasGrad(x.data(), dy.data(), cw.data(), cb.data(), m, n, k, true, false, bf16,
                         k * m, k * n);
    ra_cuda::gemmBiasGrad(x.data(), dy.data(), gw.data(), gb.data(), m, n, k, true, false, bf16,
                          k * m, k * n, scratch.data());
    ra_cpu::gemmGeluGrad(dy.data(), w.data(), pre.data(), cc.data(), k, m, n, false, true, bf16,
                         k * n, m * n);
    ra_cuda::gemmGeluGrad(dy.data(), w.data(), pre.data(), gc.data(), k, m, n, false, true, bf16,
                          k * n, m * n, scratch.data());
    CHECK(cw == dw);
    CHECK(cb == db); // the same sums, in the same order
    CHECK(cc == dc);
    CHECK(relError(gw, dw) <= kTolerance);
    CHECK(relError(gb, db) <= kTolerance);
    CHECK(relError(gc, dc) <= kTolerance);
    // The emulator's reduce kernels round as the CPU's do.
    ra_cuda::reduce<ra_cuda::Reduce::Sum>(dy.data(), gb.data(), 1, k, n, bf16);
    CHECK(relError(gb, db) <= kTolerance);
  }
}

TEST_CASE("cuda-emu: a captured bf16 GEMM replays after its caller's offset arrays are gone",
          "[cuda-kernels][bf16]") {
  // head-mean attention's products pass offsets from a vector of their own;
  // the emulator's bf16 GEMM runs on the stream when a graph replays, long
  // after the call that recorded it returned.
  const int64_t batch = 3, m = 4, n = 5, k = 6;
  auto a = randomVector(batch * m * k, 41), b = randomVector(batch * k * n, 42);
  std::vector<float> c(batch * m * n), want(batch * m * n),
      scratch(ra_dtype::bf16StagingFloats(a.size(), b.size()));
  cudaStream_t stream;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  ra_cuda_device::stream = stream;
  REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  {
    std::vector<int64_t> each = {0, 1, 2};
    ra_cuda::gemmBf16(a.data(), b.data(), c.data(), batch, each.data(), each.data(), m, n, k, false,
                      false, a.size(), b.size(), scratch.data());
    each.assign(3, -1000000); // what a freed array may hold
  }
  cudaGraph_t graph = nullptr;
  REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  cudaGraphDestroy(graph);
  REQUIRE(cudaGraphLaunch(exec, stream) == cudaSuccess);
  REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);
  const int64_t each[] = {0, 1, 2};
  ra_cpu::gemmBf16(a.data(), b.data(), want.data(), batch, each, each, m, n, k, false, false,
                   a.size(), b.size());
  CHECK(c == want);
  cudaGraphExecDestroy(exec);
  ra_cuda_device::stream = nullptr;
  cudaStreamDestroy(stream);
}

TEST_CASE("cuda kernels: flash attention, gated and head-mean, forward and backward, past a "
          "key chunk",
          "[cuda-kernels]") {
  // The last case is longer than one chunk of keys (kKeyChunk) in shared memory.
  for (const Case &c : {Case{2, 3, 9, 5, 4, false, false, true, false, -1},
                        Case{1, 2, 17, 8, 6, true, true, true, true, 5},
                        Case{2, 2, 11, 4, 4, true, false, true, true, -1},
                        Case{1, 2, 7, 4, 3, false, false, false, false, -1},
                        Case{1, 1, ra_cuda::kKeyChunk + 6, 2, 2, true, true, true, true, 3}}) {
    CAPTURE(c.t, c.kShared, c.vShared, c.causal, c.reciprocal, c.band);
    int64_t kh = c.kShared ? 1 : c.h, vh = c.vShared ? 1 : c.h, rows = c.b * c.h * c.t;
    ra_cpu::AttentionShape s = c.shape(0.4f);
    auto q = randomVector(rows * c.e, 23), k = randomVector(c.b * kh * c.t * c.e, 24),
         v = randomVector(c.b * vh * c.t * c.dv, 25), dy = randomVector(rows * c.dv, 26),
         gate = randomVector(rows, 27, 1.f);
    float alpha = 0.3f;
    const float *a = c.reciprocal ? &alpha : nullptr;
    // Forward, with the gate's epilogue.
    std::vector<float> gy(rows * c.dv), glse(rows), gg(rows * c.dv), cy(gy.size()), clse(rows),
        cg(gg.size());
    ra_cuda::flashAttention(s, q.data(), k.data(), v.data(), a, gy.data(), glse.data(), gate.data(),
                            gg.data());
    ra_cpu::flashAttention(s, q.data(), k.data(), v.data(), a, cy.data(), clse.data(), gate.data(),
                           cg.data());
    CHECK(relError(gy, cy) <= kTolerance);
    CHECK(relError(glse, clse) <= kTolerance);
    CHECK(relError(gg, cg) <= kTolerance);
    // Backward, plain and gated, from the CPU forward's y and lse.
    for (bool gated : {false, true}) {
      CAPTURE(gated);
      std::vector<float> gq(q.size()), gk(k.size()), gv(v.size()), cq(q.size()), ck(k.size()),
          cv(v.size()), gdg(rows), cdg(rows), scratch(s.flashAttentionGradScratch(gated));
      float gda = 0, cda = 0;
      ra_cuda::flashAttentionGrad(s, q.data(), k.data(), v.data(), a, cy.data(), clse.data(),
                                  dy.data(), gq.data(), gk.data(), gv.data(),
                                  c.reciprocal ? &gda : nullptr, scratch.data(),
                                  gated ? gate.data() : nullptr, gdg.data());
      ra_cpu::flashAttentionGrad(s, q.data(), k.data(), v.data(), a, cy.data(), clse.data(),
                                 dy.data(), cq.data(), ck.data(), cv.data(),
                                 c.reciprocal ? &cda : nullptr, gated ? gate.data() : nullptr,
                                 cdg.data());
      CHECK(relError(gq, cq) <= kTolerance);
      CHECK(relError(gk, ck) <= kTolerance);
      CHECK(relError(gv, cv) <= kTolerance);
      if (gated)
        CHECK(relError(gdg, cdg) <= kTolerance);
      CHECK(gda == Approx(cda).epsilon(1e-4).margin(1e-5));
    }
    // Head-mean attention over a value every head shares, on this softmax.
    if (!c.vShared)
      continue;
    int64_t f = 3;
    ra_cpu::AttentionShape m = s;
    m.dv = f;
    auto x = randomVector(c.b * c.t * f, 28), dm = randomVector(c.b * c.t * f, 29);
    std::vector<float> gm(x.size()), cm(x.size()), scratch(m.headMeanAttentionScratch());
    ra_cuda::headMeanAttention(m, q.data(), k.data(), x.data(), a, clse.data(), gm.data(),
                               scratch.data());
    ra_cpu::headMeanAttention(m, q.data(), k.data(), x.data(), a, clse.data(), cm.data());
    CHECK(relError(gm, cm) <= kTolerance);
    std::vector<float> gq(q.size()), gk(k.size()), gx(x.size()), cq(q.size()), ck(k.size()),
        cx(x.size()), gradScratch(m.headMeanAttentionGradScratch());
    float gda = 0, cda = 0;
    ra_cuda::headMeanAttentionGrad(m, q.data(), k.data(), x.data(), a, clse.data(), dm.data(),
                                   gq.data(), gk.data(), gx.data(), c.reciprocal ? &gda : nullptr,
                                   gradScratch.data());
    ra_cpu::headMeanAttentionGrad(m, q.data(), k.data(), x.data(), a, clse.data(), dm.data(),
                                  cq.data(), ck.data(), cx.data(), c.reciprocal ? &cda : nullptr);
    CHECK(relError(gq, cq) <= kTolerance);
    CHECK(relError(gk, ck) <= kTolerance);
    CHECK(relError(gx, cx) <= kTolerance);
    CHECK(gda == Approx(cda).epsilon(1e-4).margin(1e-5));
  }
}

namespace {
__global__ void writeIndexKernel(float *out) { out[threadIdx.x] = float(threadIdx.x); }
} // namespace

TEST_CASE("cuda-emu: a launch CUDA refuses is reported with the kernel's name and op", "[cuda]") {
  std::vector<float> out(2048, -1.f);
  float *p = out.data();
  // 2,048 threads per block: over the limit of 1,024, so the launch fails
  // and nothing runs, as on a GPU.
  RA_LAUNCH(writeIndexKernel, dim3(1), dim3(2048), 0, p);
  REQUIRE(ra_cuda::failed());
  char error[256];
  CHECK(ra_cuda::report(error, sizeof error, "model.graph:3:7 (ra.add)") == 1);
  CHECK(std::string(error) == "CUDA error in writeIndexKernel (for model.graph:3:7 (ra.add)): "
                              "invalid configuration argument");
  CHECK(out[0] == -1.f);
  CHECK_FALSE(ra_cuda::failed()); // reported once, then cleared
  RA_LAUNCH(writeIndexKernel, dim3(1), dim3(32), 0, p);
  CHECK_FALSE(ra_cuda::failed());
  CHECK(out[31] == 31.f);
}

TEST_CASE("cuda-emu: the device layer allocates, copies both ways and synchronizes", "[cuda]") {
  char name[256], error[256];
  REQUIRE(ra_device_open(name, sizeof name, error, sizeof error) == 0);
  CHECK(std::string(name).find("SIMT emulator") == 0);
  std::vector<float> host = {1, 2, 3, 4}, back(4, 0);
  void *device = ra_device_alloc(16, error, sizeof error);
  REQUIRE(device);
  CHECK(static_cast<float *>(device)[3] == 0.f); // allocations start zeroed
  REQUIRE(ra_device_copy(device, host.data(), 16, 1, error, sizeof error) == 0);
  ra_cuda::unary<ra_math::Unary::Neg>(static_cast<float *>(device), static_cast<float *>(device),
                                      4);
  REQUIRE(ra_device_sync(error, sizeof error) == 0);
  REQUIRE(ra_device_copy(back.data(), device, 16, 0, error, sizeof error) == 0);
  CHECK(back == std::vector<float>{-1, -2, -3, -4});
  ra_device_free(device);
}

namespace {
float roundedToBf16(float x) { return ra_dtype::bf16ToFloat(ra_dtype::floatToBf16(x)); }
std::vector<float> roundedToBf16(std::vector<float> v) {
  for (float &x : v)
    x = roundedToBf16(x);
  return v;
}
} // namespace

TEST_CASE("cuda kernels: tensor-core flash attention, every form, against float32 on its "
          "rounded operands",
          "[cuda-kernels][tensor-core]") {
  // The reference is the CPU kernel on q, k and v rounded to bf16, as the
  // tiles stage them: scores then differ by float32 sums alone, so the
  // log-sum-exps agree to 1e-5; the output's one other rounding is P's, to
  // bf16 before P V, at most u = 2^-8 of each term: |dy| <= u max |v|.
  const double u = std::ldexp(1.0, -8);
  for (const Case &c : {Case{2, 3, 45, 24, 20, false, false, true, false, -1},
                        Case{1, 2, 37, 128, 64, true, false, true, true, 7},
                        Case{2, 2, 70, 16, 8, true, true, true, true, -1},
                        Case{1, 2, 33, 40, 100, false, false, false, false, -1}}) {
    CAPTURE(c.t, c.e, c.dv, c.kShared, c.vShared, c.causal, c.reciprocal, c.band);
    int64_t kh = c.kShared ? 1 : c.h, vh = c.vShared ? 1 : c.h, rows = c.b * c.h * c.t;
    ra_cpu::AttentionShape s = c.shape(1.f / std::sqrt(float(c.e)));
    s.bf16 = true;
    REQUIRE(ra_cuda::tcAttentionApplies(s));
    auto q = randomVector(rows * c.e, 31), k = randomVector(c.b * kh * c.t * c.e, 32),
         v = randomVector(c.b * vh * c.t * c.dv, 33), gate = randomVector(rows, 34, 1.f);
    float alpha = 0.3f;
    const float *a = c.reciprocal ? &alpha : nullptr;
    std::vector<float> gy(rows * c.dv), glse(rows), gg(gy.size()), cy(gy.size()), clse(rows),
        cg(gy.size());
    ra_cuda::flashAttention(s, q.data(), k.data(), v.data(), a, gy.data(), glse.data(), gate.data(),
                            gg.data());
    auto rq = roundedToBf16(q), rk = roundedToBf16(k), rv = roundedToBf16(v);
    ra_cpu::flashAttention(s, rq.data(), rk.data(), rv.data(), a, cy.data(), clse.data(),
                           gate.data(), cg.data());
    CHECK(relError(glse, clse) <= kTolerance);
    double vMax = 0, worst = 0, worstGated = 0;
    for (float x : rv)
      vMax = std::max(vMax, double(std::abs(x)));
    for (size_t i = 0; i < gy.size(); ++i) {
      worst = std::max(worst, std::abs(double(gy[i]) - cy[i]));
      worstGated = std::max(worstGated, std::abs(double(gg[i]) - cg[i]) / std::abs(gate[i / c.dv]));
    }
    CHECK(worst <= u * vMax + 1e-5);
    CHECK(worstGated <= u * vMax + 1e-5);
    // The rounding is real: against the unrounded operands the scores move.
    std::vector<float> fy(gy.size()), flse(rows);
    ra_cpu::AttentionShape f32 = s;
    f32.bf16 = false;
    ra_cpu::flashAttention(f32, q.data(), k.data(), v.data(), a, fy.data(), flse.data(), nullptr,
                           nullptr);
    CHECK(relError(glse, flse) > 1e-4);
  }
  // Heads wider than 128 keep the row kernels.
  ra_cpu::AttentionShape wide = Case{1, 1, 8, 200, 8, false, false, true, false, -1}.shape(0.1f);
  wide.bf16 = true;
  CHECK_FALSE(ra_cuda::tcAttentionApplies(wide));
}

TEST_CASE("cuda kernels: tensor-core flash attention backward against float32 on its rounded "
          "operands",
          "[cuda-kernels][tensor-core]") {
  // Both sides take q, k, v and dy rounded to bf16 and the same y and lse;
  // the tensor-core kernels' remaining roundings are P's (for dV) and dS's
  // (for dQ and dK) to bf16 before their products, each at most u = 2^-8 of
  // its term. The bounds below are those sums, per element, from P and dS
  // computed here in double (with RA's term: dS = dS_ra + alpha dS_ra^T).
  const double u = std::ldexp(1.0, -8);
  for (const Case &c : {Case{2, 3, 45, 24, 20, false, false, true, false, -1},
                        Case{1, 2, 37, 128, 64, true, false, true, false, -1},
                        Case{2, 2, 70, 16, 8, true, true, true, false, -1},
                        Case{1, 2, 33, 40, 100, false, false, false, false, -1},
                        Case{1, 2, 37, 128, 64, true, false, true, true, 7},
                        Case{2, 2, 41, 24, 20, false, false, true, true, 20},
                        Case{1, 2, 35, 16, 8, true, true, true, true, -1}}) {
    CAPTURE(c.t, c.e, c.dv, c.kShared, c.vShared, c.causal, c.reciprocal, c.band);
    int64_t kh = c.kShared ? 1 : c.h, vh = c.vShared ? 1 : c.h, rows = c.b * c.h * c.t, t = c.t;
    ra_cpu::AttentionShape s = c.shape(1.f / std::sqrt(float(c.e)));
    s.bf16 = true;
    REQUIRE(ra_cuda::tcAttentionGradApplies(s));
    auto q = roundedToBf16(randomVector(rows * c.e, 41)),
         k = roundedToBf16(randomVector(c.b * kh * c.t * c.e, 42)),
         v = roundedToBf16(randomVector(c.b * vh * c.t * c.dv, 43)),
         dy = roundedToBf16(randomVector(rows * c.dv, 44));
    float alpha = 0.3f;
    const float *a = c.reciprocal ? &alpha : nullptr;
    std::vector<float> y(rows * c.dv), lse(rows);
    ra_cpu::flashAttention(s, q.data(), k.data(), v.data(), a, y.data(), lse.data(), nullptr,
                           nullptr);
    std::vector<float> gq(q.size()), gk(k.size()), gv(v.size()), cq(q.size()), ck(k.size()),
        cv(v.size()), scratch(s.flashAttentionGradScratch(false));
    float gda = 0, cda = 0;
    ra_cuda::flashAttentionGrad(s, q.data(), k.data(), v.data(), a, y.data(), lse.data(), dy.data(),
                                gq.data(), gk.data(), gv.data(), c.reciprocal ? &gda : nullptr,
                                scratch.data());
    ra_cpu::flashAttentionGrad(s, q.data(), k.data(), v.data(), a, y.data(), lse.data(), dy.data(),
                               cq.data(), ck.data(), cv.data(), c.reciprocal ? &cda : nullptr);
    // The bounds: sum over the products' terms of u |term|.
    std::vector<double> bq(q.size()), bk(k.size()), bv(v.size());
    auto dot = [](const float *x, const float *z, int64_t n) {
      double acc = 0;
      for (int64_t i = 0; i < n; ++i)
        acc += double(x[i]) * z[i];
      return acc;
    };
    for (int64_t bb = 0; bb < c.b; ++bb)
      for (int64_t hh = 0; hh < c.h; ++hh) {
        const float *qh = q.data() + s.qAt(bb, hh), *kp = k.data() + s.kAt(bb, hh),
                    *vp = v.data() + s.vAt(bb, hh);
        const int64_t bh = bb * c.h + hh;
        const float *dyh = dy.data() + bh * t * c.dv, *yh = y.data() + bh * t * c.dv;
        std::vector<double> p(t * t), dsRa(t * t);
        for (int64_t i = 0; i < t; ++i) {
          double d = dot(dyh + i * c.dv, yh + i * c.dv, c.dv);
          for (int64_t j = 0; j <= s.lastKey(i); ++j) {
            double score = s.scale * dot(qh + i * c.e, kp + j * c.e, c.e);
            if (s.reciprocalAt(i, j))
              score += alpha * s.scale * dot(qh + j * c.e, kp + i * c.e, c.e);
            p[i * t + j] = std::exp(score - lse[bh * t + i]);
            dsRa[i * t + j] = p[i * t + j] * (dot(dyh + i * c.dv, vp + j * c.dv, c.dv) - d);
          }
        }
        for (int64_t i = 0; i < t; ++i)
          for (int64_t j = 0; j < t; ++j) {
            double ds = dsRa[i * t + j] + (s.reciprocalAt(j, i) ? alpha * dsRa[j * t + i] : 0);
            for (int64_t x = 0; x < c.e; ++x) {
              bq[(bh * t + i) * c.e + x] += u * s.scale * std::abs(ds * kp[j * c.e + x]);
              bk[s.kAt(bb, hh) + j * c.e + x] += u * s.scale * std::abs(ds * qh[i * c.e + x]);
            }
            for (int64_t x = 0; x < c.dv; ++x)
              bv[s.vAt(bb, hh) + j * c.dv + x] += u * p[i * t + j] * std::abs(dyh[i * c.dv + x]);
          }
      }
    auto within = [](const std::vector<float> &got, const std::vector<float> &want,
                     const std::vector<double> &bound) {
      double worst = 0; // the largest excess over the bound, relative to the largest value
      double scale = 0;
      for (float w : want)
        scale = std::max(scale, double(std::abs(w)));
      for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(double(got[i]) - want[i]) - bound[i]);
      return worst / scale;
    };
    CHECK(within(gq, cq, bq) <= 1e-5);
    CHECK(within(gk, ck, bk) <= 1e-5);
    CHECK(within(gv, cv, bv) <= 1e-5);
    // d alpha sums float32 dS_ra S^T without a bf16 rounding: float32's accuracy.
    CHECK(gda == Approx(cda).epsilon(1e-4).margin(1e-5));
    // The rounding of P and dS is real (the bounds are not vacuous).
    CHECK(relError(gq, cq) > 1e-5);
  }
}

TEST_CASE("cuda kernels: tensor-core head-mean attention, forward and backward, against float32 "
          "on its rounded operands",
          "[cuda-kernels][tensor-core]") {
  // Mechanism 2: the probabilities averaged over heads meet a value every
  // head shares (f columns). With q, k, the values and dmean rounded to bf16
  // on both sides, each product rounds one operand more: pbar, in out = pbar
  // x and dx = pbar^T dmean, and dS in dq and dk. Each element is held to u
  // times the sum of |term| over its product, from pbar and dS computed here
  // in double (dS_h = P_h (dpbar / H - D_h), with RA's transposed share).
  // dpbar = dmean x^T has both operands rounded already: exact products.
  const double u = std::ldexp(1.0, -8);
  for (const Case &c : {Case{2, 3, 45, 24, 5, true, true, true, false, -1},
                        Case{1, 2, 37, 128, 7, true, true, true, true, 7},
                        Case{1, 2, 35, 16, 3, true, true, true, true, -1}}) {
    CAPTURE(c.t, c.e, c.reciprocal, c.band);
    int64_t rows = c.b * c.h * c.t, t = c.t, f = c.dv;
    ra_cpu::AttentionShape s = c.shape(1.f / std::sqrt(float(c.e)));
    s.bf16 = true;
    REQUIRE(ra_cuda::tcHeadMeanApplies(s));
    auto q = roundedToBf16(randomVector(rows * c.e, 51)),
         k = roundedToBf16(randomVector(c.b * t * c.e, 52)),
         x = roundedToBf16(randomVector(c.b * t * f, 53)),
         dm = roundedToBf16(randomVector(c.b * t * f, 54));
    float alpha = 0.3f;
    const float *a = c.reciprocal ? &alpha : nullptr;
    // The sibling attention's log-sum-exps.
    std::vector<float> y(rows * c.e), lse(rows);
    ra_cpu::AttentionShape sib = s;
    sib.dv = c.e;
    sib.vShared = true;
    ra_cpu::flashAttention(sib, q.data(), k.data(), k.data(), a, y.data(), lse.data(), nullptr,
                           nullptr);
    std::vector<float> gm(x.size()), cm(x.size()), scratch(s.headMeanAttentionScratch());
    ra_cuda::headMeanAttention(s, q.data(), k.data(), x.data(), a, lse.data(), gm.data(),
                               scratch.data());
    ra_cpu::headMeanAttention(s, q.data(), k.data(), x.data(), a, lse.data(), cm.data());
    std::vector<float> gq(q.size()), gk(k.size()), gx(x.size()), cq(q.size()), ck(k.size()),
        cx(x.size()), gradScratch(s.headMeanAttentionGradScratch());
    float gda = 0, cda = 0;
    ra_cuda::headMeanAttentionGrad(s, q.data(), k.data(), x.data(), a, lse.data(), dm.data(),
                                   gq.data(), gk.data(), gx.data(), c.reciprocal ? &gda : nullptr,
                                   gradScratch.data());
    ra_cpu::headMeanAttentionGrad(s, q.data(), k.data(), x.data(), a, lse.data(), dm.data(),
                                  cq.data(), ck.data(), cx.data(), c.reciprocal ? &cda : nullptr);
    CHECK(gda == Approx(cda).epsilon(1e-4).margin(1e-5));
    // The bounds for out, dx, dq and dk.
    auto dot = [](const float *p, const float *z, int64_t n) {
      double acc = 0;
      for (int64_t i = 0; i < n; ++i)
        acc += double(p[i]) * z[i];
      return acc;
    };
    std::vector<double> bq(q.size()), bk(k.size()), bm(x.size()), bx(x.size());
    for (int64_t bb = 0; bb < c.b; ++bb) {
      std::vector<double> pbar(t * t);
      std::vector<double> dpbar(t * t); // dmean x^T
      for (int64_t i = 0; i < t; ++i)
        for (int64_t j = 0; j < t; ++j)
          dpbar[i * t + j] = dot(dm.data() + (bb * t + i) * f, x.data() + (bb * t + j) * f, f);
      for (int64_t hh = 0; hh < c.h; ++hh) {
        const float *qh = q.data() + s.qAt(bb, hh), *kp = k.data() + s.kAt(bb, hh);
        const int64_t bh = bb * c.h + hh;
        std::vector<double> dsRa(t * t);
        for (int64_t i = 0; i < t; ++i) {
          std::vector<double> p(t);
          double d = 0;
          for (int64_t j = 0; j <= s.lastKey(i); ++j) {
            double score = s.scale * dot(qh + i * c.e, kp + j * c.e, c.e);
            if (s.reciprocalAt(i, j))
              score += alpha * s.scale * dot(qh + j * c.e, kp + i * c.e, c.e);
            p[j] = std::exp(score - lse[bh * t + i]);
            pbar[i * t + j] += p[j] / c.h;
            d += p[j] * dpbar[i * t + j] / c.h;
          }
          for (int64_t j = 0; j <= s.lastKey(i); ++j)
            dsRa[i * t + j] = p[j] * (dpbar[i * t + j] / c.h - d);
        }
        for (int64_t i = 0; i < t; ++i)
          for (int64_t j = 0; j < t; ++j) {
            double ds = dsRa[i * t + j] + (s.reciprocalAt(j, i) ? alpha * dsRa[j * t + i] : 0);
            for (int64_t e = 0; e < c.e; ++e) {
              bq[(bh * t + i) * c.e + e] += u * s.scale * std::abs(ds * kp[j * c.e + e]);
              bk[s.kAt(bb, hh) + j * c.e + e] += u * s.scale * std::abs(ds * qh[i * c.e + e]);
            }
          }
      }
      for (int64_t i = 0; i < t; ++i)
        for (int64_t j = 0; j < t; ++j)
          for (int64_t col = 0; col < f; ++col) {
            bm[(bb * t + i) * f + col] += u * pbar[i * t + j] * std::abs(x[(bb * t + j) * f + col]);
            bx[(bb * t + j) * f + col] +=
                u * pbar[i * t + j] * std::abs(dm[(bb * t + i) * f + col]);
          }
    }
    auto excess = [](const std::vector<float> &got, const std::vector<float> &want,
                     const std::vector<double> &bound) {
      double worst = 0, scale = 0;
      for (float w : want)
        scale = std::max(scale, double(std::abs(w)));
      for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(double(got[i]) - want[i]) - bound[i]);
      return worst / scale;
    };
    CHECK(excess(gm, cm, bm) <= 1e-5);
    CHECK(excess(gx, cx, bx) <= 1e-5);
    CHECK(excess(gq, cq, bq) <= 1e-5);
    CHECK(excess(gk, ck, bk) <= 1e-5);
    CHECK(relError(gq, cq) > 1e-5); // dS's rounding is real
    CHECK(relError(gm, cm) > 1e-5); // and pbar's
    CHECK(relError(gx, cx) > 1e-5);
  }
}
