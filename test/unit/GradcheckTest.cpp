// Every differentiable op against finite differences, on random shapes, and
// proof that the harness fails when a derivative is wrong.
#include "TestUtil.h"

#include "check/Checks.h"
#include "ir/RaDialect.h"
#include "ir/interpreter/Interpreter.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/Pass/PassManager.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

using racc::test::Compiled;

namespace {

/// Compiles `body` (which defines `y` from parameters) into a model whose
/// loss is sum(y * r) for a random input r of y's shape, differentiates it,
/// and returns the gradient check's worst relative error.
double worstError(const std::string &params, const std::string &body, const std::string &yShape,
                  uint64_t seed) {
  std::string src = fmt::format("config batch = 1\nconfig seq = 1\ninput r: f32[{}]\n{}\n{}\n"
                                "output loss = sum(reshape(y * r, [-1]), 0)\n",
                                yShape, params, body);
  Compiled c(src);
  INFO(src);
  for (auto &e : c.errors)
    INFO(e);
  REQUIRE(c.errors.empty());
  REQUIRE(c.module);
  mlir::PassManager pm(&c.ctx);
  ra::buildDefaultPipeline(pm);
  REQUIRE(mlir::succeeded(pm.run(*c.module)));
  ra::check::GradCheckOptions options;
  options.seed = seed;
  options.samplesPerParam = 64;
  auto r = ra::check::gradCheck(*c.module, options);
  REQUIRE(mlir::succeeded(r));
  INFO("worst " << r->worst.param << "[" << r->worst.index << "]: " << r->worst.analytic << " vs "
                << r->worst.numeric);
  CHECK(r->checked > 0);
  return r->maxRelError;
}

/// A small random dimension.
int64_t dim(ra::interp::Rng &rng, int64_t lo = 1, int64_t hi = 4) {
  return lo + rng.next() % (hi - lo + 1);
}

constexpr double kTolerance = 1e-6;
constexpr int kShapesPerOp = 3;

} // namespace

TEST_CASE("gradcheck: elementwise ops", "[gradcheck]") {
  for (int s = 0; s < kShapesPerOp; ++s) {
    ra::interp::Rng rng(100 + s);
    int64_t m = dim(rng), n = dim(rng);
    std::string shape = fmt::format("{}, {}", m, n);
    std::string params =
        fmt::format("param a: [{0}] = normal(1.0)\nparam b: [{0}] = normal(1.0)", shape);
    for (const char *body :
         {"y = a + b", "y = a - b", "y = a * b", "y = a / (exp(b) + 1.0)", "y = -a", "y = abs(a)",
          "y = exp(a)", "y = log(a * a + 1.0)", "y = tanh(a)", "y = sigmoid(a)",
          "y = sqrt(a * a + 0.5)", "y = rsqrt(a * a + 0.5)", "y = gelu(a)",
          "y = a * 2.0 + 1.0 / (b * b + 1.0)"}) {
      INFO(body);
      CHECK(worstError(params, body, shape, s) <= kTolerance);
    }
  }
}

TEST_CASE("gradcheck: broadcasting", "[gradcheck]") {
  for (int s = 0; s < kShapesPerOp; ++s) {
    ra::interp::Rng rng(200 + s);
    int64_t b = dim(rng), m = dim(rng, 2), n = dim(rng);
    std::string params =
        fmt::format("param a: [{0}, {1}, {2}] = normal(1.0)\nparam row: [{2}] = normal(1.0)\n"
                    "param col: [{1}, 1] = normal(1.0)\nparam s: [] = normal(1.0)",
                    b, m, n);
    CHECK(worstError(params, "y = a * row + col - s", fmt::format("{}, {}, {}", b, m, n), s) <=
          kTolerance);
    CHECK(worstError(params, fmt::format("y = broadcast(row, [{}, {}, {}])", b, m, n),
                     fmt::format("{}, {}, {}", b, m, n), s) <= kTolerance);
  }
}

TEST_CASE("gradcheck: matmul in every transpose form, with batch broadcasting", "[gradcheck]") {
  for (int s = 0; s < kShapesPerOp; ++s) {
    ra::interp::Rng rng(300 + s);
    int64_t b = dim(rng), m = dim(rng), k = dim(rng), n = dim(rng);
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        std::string a =
            ta ? fmt::format("{}, {}, {}", b, k, m) : fmt::format("{}, {}, {}", b, m, k);
        std::string w = tb ? fmt::format("{}, {}", n, k) : fmt::format("{}, {}", k, n);
        std::string params =
            fmt::format("param a: [{}] = normal(1.0)\nparam w: [{}] = normal(1.0)", a, w);
        std::string body = fmt::format("y = matmul(a, w, transpose_a={}, transpose_b={})", ta, tb);
        INFO(body);
        CHECK(worstError(params, body, fmt::format("{}, {}, {}", b, m, n), s) <= kTolerance);
      }
    // Per-head weights [H, K, N] against [B, H, T, K].
    int64_t h = dim(rng);
    std::string params = fmt::format("param q: [{}, {}, {}, {}] = normal(1.0)\n"
                                     "param w: [{}, {}, {}] = normal(1.0)",
                                     b, h, m, k, h, k, n);
    CHECK(worstError(params, "y = q @ w", fmt::format("{}, {}, {}, {}", b, h, m, n), s) <=
          kTolerance);
  }
}

TEST_CASE("gradcheck: reductions and the causal mean", "[gradcheck]") {
  for (int s = 0; s < kShapesPerOp; ++s) {
    ra::interp::Rng rng(400 + s);
    int64_t a = dim(rng), b = dim(rng, 2), c = dim(rng);
    std::string params = fmt::format("param x: [{}, {}, {}] = normal(1.0)", a, b, c);
    CHECK(worstError(params, "y = sum(x, 1)", fmt::format("{}, {}", a, c), s) <= kTolerance);
    CHECK(worstError(params, "y = mean(x, 2, keepdim=1)", fmt::format("{}, {}, 1", a, b), s) <=
          kTolerance);
    CHECK(worstError(params, "y = max(x, 1)", fmt::format("{}, {}", a, c), s) <= kTolerance);
    CHECK(worstError(params, "y = causal_mean(x, 1)", fmt::format("{}, {}, {}", a, b, c), s) <=
          kTolerance);
  }
}

TEST_CASE("gradcheck: layernorm, softmax, embedding, cross-entropy", "[gradcheck]") {
  for (int s = 0; s < kShapesPerOp; ++s) {
    ra::interp::Rng rng(500 + s);
    int64_t t = dim(rng), d = dim(rng, 2, 6), v = dim(rng, 2, 6);
    std::string params = fmt::format(
        "param x: [{0}, {1}] = normal(1.0)\nparam w: [{1}] = ones\nparam b: [{1}] = zeros\n"
        "param table: [{2}, {1}] = normal(1.0)",
        t, d, v);
    std::string shape = fmt::format("{}, {}", t, d);
    CHECK(worstError(params, "y = layernorm(x, w, b)", shape, s) <= kTolerance);
    CHECK(worstError(params, "y = softmax(x)", shape, s) <= kTolerance);
    // Integer ids come from a second input; the loss needs its own form here.
    std::string src = fmt::format(
        "config batch = 1\nconfig seq = {0}\ninput ids: i32[1, {0}]\n{1}\n"
        "h = embedding(table, ids)\noutput loss = cross_entropy(matmul(h, table, transpose_b=1) + "
        "x[0:1, :][:, 0:1], ids)\n",
        t, params);
    Compiled c(src);
    REQUIRE(c.module);
    mlir::PassManager pm(&c.ctx);
    ra::buildDefaultPipeline(pm);
    REQUIRE(mlir::succeeded(pm.run(*c.module)));
    ra::check::GradCheckOptions options;
    options.seed = s;
    options.samplesPerParam = 64;
    auto r = ra::check::gradCheck(*c.module, options);
    REQUIRE(mlir::succeeded(r));
    CHECK(r->maxRelError <= kTolerance);
  }
}

TEST_CASE("gradcheck: attention in its standard, MLA and RA forms", "[gradcheck]") {
  for (int s = 0; s < kShapesPerOp; ++s) {
    ra::interp::Rng rng(600 + s);
    int64_t b = dim(rng, 1, 2), h = dim(rng, 1, 3), t = dim(rng, 2, 5), e = dim(rng), dv = dim(rng);
    std::string params = fmt::format(
        "param q: [{0}, {1}, {2}, {3}] = normal(1.0)\nparam k: [{0}, {1}, {2}, {3}] = normal(1.0)\n"
        "param v: [{0}, {1}, {2}, {4}] = normal(1.0)\nparam kl: [{0}, {2}, {3}] = normal(1.0)\n"
        "param vl: [{0}, {2}, {4}] = normal(1.0)\nparam alpha: [] = const(0.3)",
        b, h, t, e, dv);
    std::string shape = fmt::format("{}, {}, {}, {}", b, h, t, dv);
    for (std::string body :
         {std::string("y = attention(q, k, v)"), std::string("y = attention(q, k, v, causal=0)"),
          std::string("y = attention(q, kl, vl)"),
          std::string("y = attention(q, k, v, alpha=alpha)"),
          fmt::format("y = attention(q, kl, vl, alpha=alpha, band={})", t / 2),
          std::string("y = attention(q, kl, v, alpha=alpha, band=0, scale=0.7)")}) {
      INFO(body);
      CHECK(worstError(params, body, shape, s) <= kTolerance);
    }
  }
}

TEST_CASE("gradcheck: layout ops", "[gradcheck]") {
  for (int s = 0; s < kShapesPerOp; ++s) {
    ra::interp::Rng rng(700 + s);
    int64_t a = dim(rng, 2), b = dim(rng, 2), c = dim(rng);
    std::string params = fmt::format("param x: [{0}, {1}, {2}] = normal(1.0)\n"
                                     "param z: [{0}, 1, {2}] = normal(1.0)",
                                     a, b, c);
    CHECK(worstError(params, "y = x[:, 1:, :]", fmt::format("{}, {}, {}", a, b - 1, c), s) <=
          kTolerance);
    CHECK(worstError(params, "y = concat([x, z, x], 1)", fmt::format("{}, {}, {}", a, 2 * b + 1, c),
                     s) <= kTolerance);
    CHECK(worstError(params, "y = reshape(x, [-1])", fmt::format("{}", a * b * c), s) <=
          kTolerance);
    CHECK(worstError(params, "y = transpose(x, [2, 0, 1])", fmt::format("{}, {}, {}", c, a, b),
                     s) <= kTolerance);
  }
}

// A plausible wrong derivative: gelu'(x) replaced by sigmoid(1.702 x), the
// classic approximation. The harness must notice.
TEST_CASE("gradcheck: a wrong derivative is caught", "[gradcheck]") {
  Compiled c("config batch = 1\nconfig seq = 1\ninput r: f32[3, 4]\n"
             "param a: [3, 4] = normal(1.0)\noutput loss = sum(reshape(gelu(a) * r, [-1]), 0)\n");
  REQUIRE(c.module);
  mlir::PassManager pm(&c.ctx);
  ra::buildDefaultPipeline(pm);
  REQUIRE(mlir::succeeded(pm.run(*c.module)));
  ra::check::GradCheckOptions options;
  auto good = ra::check::gradCheck(*c.module, options);
  REQUIRE(mlir::succeeded(good));
  CHECK(good->maxRelError <= kTolerance);

  int replaced = 0;
  c.module->walk([&](ra::GeluGradOp op) {
    mlir::OpBuilder b(op);
    mlir::Location loc = op.getLoc();
    mlir::Value c = b.create<ra::ConstantOp>(loc, op.getType(), 1.702);
    mlir::Value x17 = b.create<ra::MulOp>(loc, op.getInput(), c);
    mlir::Value wrong = b.create<ra::MulOp>(loc, op.getGrad(), b.create<ra::SigmoidOp>(loc, x17));
    op.replaceAllUsesWith(wrong);
    op.erase();
    ++replaced;
  });
  REQUIRE(replaced >= 1); // in @grad and in @train_step
  auto bad = ra::check::gradCheck(*c.module, options);
  REQUIRE(mlir::succeeded(bad));
  CHECK(bad->maxRelError > 1e-3);
}
