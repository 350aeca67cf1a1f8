// Counts racc stats reports, checked against models.md and hand arithmetic.
#include "TestUtil.h"

#include "ir/analysis/ModelStats.h"
#include "passes/Passes.h"

#include <catch2/catch.hpp>

using racc::test::Compiled;

static ra::ModelStats statsOf(Compiled &c) {
  REQUIRE(c.errors.empty());
  REQUIRE(c.module);
  mlir::PassManager pm(&c.ctx);
  ra::buildDefaultPipeline(pm);
  REQUIRE(mlir::succeeded(pm.run(*c.module)));
  auto s = ra::computeStats(*c.module);
  REQUIRE(mlir::succeeded(s));
  return *s;
}

TEST_CASE("stats: GPT-2 124M has models.md's parameter count and cache", "[stats]") {
  Compiled c(std::string(RACC_SOURCE_DIR) + "/models/gpt2.graph", {}, /*isPath=*/true);
  auto s = statsOf(c);
  CHECK(s.totalParams == 124439808);
  CHECK(s.groups["wte"] == 50257 * 768);
  CHECK(s.groups["wpe"] == 1024 * 768);
  CHECK(s.groups["h"] == 12 * (12 * 768 * 768 + 13 * 768));
  CHECK(s.unused.empty());
  // Standard attention caches K and V: 2 D values per token per layer.
  CHECK(2 * s.cacheElementsPerToken == 36864);
  CHECK(s.attentionOps == 12);
}

TEST_CASE("stats: FLOPs per token by hand", "[stats]") {
  Compiled c("config batch = 2\nconfig seq = 3\ninput x: f32[batch, seq, 4]\n"
             "param w: [4, 5] = normal(0.02)\noutput y = gelu(x @ w)\n");
  auto s = statsOf(c);
  // matmul 2*K*N = 40 per token, gelu 8 per element over 5 elements.
  CHECK(s.forwardFlops / s.tokens == 40 + 8 * 5);
}

TEST_CASE("stats: a parameter the loss does not reach is unused", "[stats]") {
  Compiled c("config batch = 1\nconfig seq = 2\ninput x: f32[1, 2, 4]\ninput t: i32[1, 2]\n"
             "param w: [4, 4] = normal(0.02)\nparam spare: [4, 4] = normal(0.02)\n"
             "h = x @ w\noutput loss = cross_entropy(h, t)\noutput aux = x @ spare\n");
  auto s = statsOf(c);
  CHECK(s.unused == std::vector<std::string>{"spare"});
}

TEST_CASE("stats: MLA caches the latents, not the up-projected values", "[stats]") {
  // k_l and v_l are [B, T, R]; v = v_l W_vu per head is absorbed at decode time.
  Compiled c("config batch = 1\nconfig seq = 4\nconfig R = 2\nconfig H = 2\nconfig hd = 3\n"
             "input h: f32[batch, seq, 6]\nparam w_q: [6, 6] = normal(0.02)\n"
             "param w_kd: [6, R] = normal(0.02)\nparam w_vd: [6, R] = normal(0.02)\n"
             "param w_ql: [H, hd, R] = normal(0.02)\nparam w_vu: [R, 6] = normal(0.02)\n"
             "q = transpose(reshape(h @ w_q, [batch, seq, H, hd]), [0, 2, 1, 3])\n"
             "k_l = h @ w_kd\nv_l = h @ w_vd\n"
             "v = transpose(reshape(v_l @ w_vu, [batch, seq, H, hd]), [0, 2, 1, 3])\n"
             "output y = attention(q @ w_ql, k_l, v)\n");
  auto s = statsOf(c);
  CHECK(s.cacheElementsPerToken == 2 * 2);
}

TEST_CASE("stats: RA keeps a ring of band queries per sequence", "[stats]") {
  // 12 layers x band 64 x the queries q (D = 768 per token, before W_ql).
  Compiled c(std::string(RACC_SOURCE_DIR) + "/models/gpt2_mla_ra.graph", {}, /*isPath=*/true);
  auto s = statsOf(c);
  CHECK(2 * s.cacheElementsPerToken == 6144); // MLA's latents, unchanged by RA
  REQUIRE(s.sequenceState.size() == 12);
  CHECK(s.sequenceState[0].role == "queries");
  CHECK(s.sequenceState[0].kind == "query ring");
  CHECK(s.sequenceState[0].entries == 64);
  CHECK(s.sequenceState[0].elements == 768);
  CHECK(s.cacheElementsPerSequence == 12 * 64 * 768);
}

TEST_CASE("stats: a band past the window makes RA's queries per token", "[stats]") {
  Compiled c(std::string(RACC_SOURCE_DIR) + "/models/gpt2_ra.graph",
             {{"n_layer", "2"},
              {"d_model", "32"},
              {"n_head", "2"},
              {"vocab", "64"},
              {"ctx", "16"},
              {"band", "15"}},
             /*isPath=*/true);
  auto s = statsOf(c);
  CHECK(s.sequenceState.empty());
  CHECK(s.cacheElementsPerToken == 2 * (2 * 32 + 32)); // K, V and q per layer
}

TEST_CASE("stats: mechanism 2 caches every past MLP activation, mechanism 1 a running sum",
          "[stats]") {
  Compiled c(std::string(RACC_SOURCE_DIR) + "/models/gpt2_mla_ra_all.graph", {}, /*isPath=*/true);
  auto s = statsOf(c);
  // Per layer: MLA's 2R = 256 latents and F = 3072 activations `a`.
  CHECK(s.cacheElementsPerToken == 12 * (256 + 3072));
  // RA's rings, and 64 summed gate inputs in each of the 11 producing blocks.
  int sums = 0;
  for (const auto &e : s.sequenceState)
    if (e.kind == "running sum") {
      ++sums;
      CHECK(e.elements == 64);
    }
  CHECK(sums == 11);
  CHECK(s.cacheElementsPerSequence == 12 * 64 * 768 + 11 * 64);
}

TEST_CASE("stats: decoding needs only the cache unless positions mix otherwise", "[stats]") {
  Compiled gpt2(
      std::string(RACC_SOURCE_DIR) + "/models/gpt2.graph",
      {{"n_layer", "1"}, {"d_model", "16"}, {"n_head", "2"}, {"vocab", "32"}, {"ctx", "8"}},
      /*isPath=*/true);
  CHECK(statsOf(gpt2).decodingObstacles.empty());
  // x^T x sums over every position: no cache can stand for it.
  Compiled gram("config batch = 1\nconfig seq = 4\ninput x: f32[batch, seq, 3]\n"
                "param w: [3, 3] = normal(0.02)\n"
                "output y = (transpose(x, [0, 2, 1]) @ x) @ w\n");
  auto s = statsOf(gram);
  REQUIRE(s.decodingObstacles.size() == 1);
  CHECK(s.decodingObstacles[0].find("'ra.matmul' contracts over the sequence axis") !=
        std::string::npos);
  INFO(s.decodingObstacles[0]);
  CHECK(s.decodingObstacles[0].rfind("test.graph:5:37: ", 0) == 0); // the inner @
}
