// Elaboration of .graph programs: values, scoping, control flow, and the
// errors a model author meets. Every failing input must yield exactly one
// error, at the right line and column.
#include "TestUtil.h"

#include "ir/RaDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <catch2/catch.hpp>

using racc::test::Compiled;

static std::vector<std::string> paramNames(mlir::ModuleOp m) {
  std::vector<std::string> names;
  for (auto p : m.getOps<ra::ParamOp>())
    names.push_back(p.getSymName().str());
  return names;
}

static std::string firstError(const std::string &src,
                              std::vector<std::pair<std::string, std::string>> defines = {}) {
  Compiled c(src, std::move(defines));
  REQUIRE(!c.module);
  REQUIRE(c.errors.size() == 1);
  return c.errors[0];
}

TEST_CASE("frontend: parameters are named by call path", "[frontend]") {
  Compiled c("config n = 2\ninput x: f32[2, 4]\n"
             "fn lin(x) {\n  param w: [4, 4] = normal(0.02)\n  return x @ w\n}\n"
             "fn block(x) {\n  return lin(lin(x) as a) as b\n}\n"
             "for i in 0..n {\n  x = block(x) as h[i]\n}\noutput y = x\n");
  REQUIRE(c.errors.empty());
  REQUIRE(c.module);
  CHECK(paramNames(*c.module) ==
        std::vector<std::string>{"h.0.a.w", "h.0.b.w", "h.1.a.w", "h.1.b.w"});
  Compiled inlined("input x: f32[2, 4]\nfn lin(x) {\n  param w: [4, 4] = normal(0.02)\n"
                   "  return x @ w\n}\noutput y = lin(x) as _\n");
  REQUIRE(inlined.module);
  CHECK(paramNames(*inlined.module) == std::vector<std::string>{"w"});
}

TEST_CASE("frontend: -D overrides a config and what derives from it", "[frontend]") {
  const char *src = "config d = 4\nconfig f = 4 * d\ninput x: f32[2, d]\n"
                    "param w: [d, f] = normal(0.02)\noutput y = x @ w\n";
  Compiled c(src, {{"d", "8"}});
  REQUIRE(c.module);
  auto fn = c.module->lookupSymbol<mlir::func::FuncOp>("forward");
  auto out = fn.getResultTypes()[0].cast<mlir::RankedTensorType>();
  CHECK(out.getShape() == llvm::ArrayRef<int64_t>{2, 32});
  CHECK(firstError(src, {{"width", "3"}}) ==
        "0:0: -D width: the model has no config named 'width' (its configs: d, f)");
  CHECK(firstError(src, {{"d", "four"}}) ==
        "0:0: -D d=four: the value must be an integer or a number");
}

TEST_CASE("frontend: decay defaults by rank and can be overridden", "[frontend]") {
  Compiled c("input x: f32[2, 4]\nparam w: [4, 4] = normal(0.02)\nparam b: [4] = zeros\n"
             "param s: [] = const(0.3), decay\noutput y = x @ w + b * s\n");
  REQUIRE(c.module);
  std::vector<bool> decay;
  for (auto p : c.module->getOps<ra::ParamOp>())
    decay.push_back(p.getDecay());
  CHECK(decay == std::vector<bool>{true, false, true});
}

TEST_CASE("frontend: if, none and multiple returns", "[frontend]") {
  Compiled c("config gated = 0\ninput x: f32[2, 4]\n"
             "fn f(x, g) {\n  if g == none {\n    return x, 1\n  }\n  return x * g, 2\n}\n"
             "y, k = f(x, none)\nif k == 1 and not gated {\n  y = y + 1.0\n} else {\n"
             "  y = y - 1.0\n}\noutput y = y\n");
  REQUIRE(c.errors.empty());
  REQUIRE(c.module);
  int adds = 0, subs = 0;
  c.module->walk([&](ra::AddOp) { ++adds; });
  c.module->walk([&](ra::SubOp) { ++subs; });
  CHECK(adds == 1);
  CHECK(subs == 0);
}

TEST_CASE("frontend: errors point at the offending token", "[frontend]") {
  CHECK(firstError("input x: f32[2, 3]\noutput y = x @ z\n") == "2:16: unknown name 'z'");
  CHECK(firstError("input x: f32[2, 3]\nparam w: [4, 5] = zeros\noutput y = x @ w\n") ==
        "3:14: matmul: inner dimensions differ: lhs [2, 3] has K = 3 but rhs [4, 5] has K = 4");
  CHECK(firstError("config d = 10 / 4\n") ==
        "1:15: 10 / 4 is not a whole number; use // to round down, or a float");
  CHECK(firstError("fn f(a, b) {\n  return a\n}\ninput x: f32[2]\noutput y = f(x)\n") ==
        "5:12: 'f' takes 2 arguments, got 1");
  CHECK(firstError("input x: f32[2, 3]\ninput z: f32[4]\noutput y = x + z\n") ==
        "3:14: shapes [2, 3] and [4] do not broadcast (trailing dimensions must be equal or 1)");
  CHECK(firstError("param w: [4] = uniform(1)\n") ==
        "1:16: unknown initializer 'uniform'; expected normal(std), zeros, ones or const(value)");
  CHECK(firstError("param w: [4] = normal(-1)\n") ==
        "1:23: normal(std) needs a finite std > 0, got -1");
  CHECK(firstError("input x: f32[2]\noutput y = softmax(x, 1)\n") ==
        "2:12: 'softmax' takes 1 argument, got 2");
  CHECK(firstError("input x: f32[2]\noutput y = mean(x, 0, keep=1)\n") ==
        "2:23: 'mean' has no keyword argument 'keep' (it takes: keepdim)");
  CHECK(firstError("input t: i32[2]\noutput y = t * 2.0\n") ==
        "2:12: the left operand must be a float tensor, got an i32 tensor [2]");
  CHECK(firstError("fn f(x) {\n  param w: [2] = zeros\n  return x * w\n}\ninput x: f32[2]\n"
                   "output y = f(f(x))\n")
            .rfind("2:9: parameter 'f.w' is declared twice", 0) == 0);
  CHECK(firstError("config b = zeros([3]) + 1\n") ==
        "1:12: configs and input shapes are numbers; tensors cannot be computed here");
  CHECK(firstError("input x: f32[2]\n") ==
        "1:1: the model declares no outputs; add one, e.g. `output loss = cross_entropy(...)`");
  CHECK(firstError("input x: f32[2, 3]\nreport r = x\noutput y = x\n") ==
        "2:12: a report is a scalar (shape []); reduce it, e.g. with mean");
  CHECK(firstError("fn softmax(x) {\n  return x\n}\n") ==
        "1:1: function 'softmax' has the name of a builtin; choose another name");
}

TEST_CASE("frontend: absurd programs are refused, not run", "[frontend]") {
  CHECK(firstError("param w: [100000, 100000, 100000] = zeros\n") ==
        "1:1: shape [100000, 100000, 100000] is too large (more than 2^36 elements)");
  CHECK(firstError("param w: [4, 0] = zeros\n") ==
        "1:1: dimension 1 of shape [4, 0] is not positive");
  CHECK(firstError("for i in 0..1000000000 {\n}\n") ==
        "1:1: the loop runs 1000000000 times; the limit is 100000");
  CHECK(firstError("config a = 9223372036854775807\nconfig b = a + 1\n") ==
        "2:14: integer overflow in 9223372036854775807 '+' 1");
  CHECK(firstError("fn f(x) {\n  return f(x)\n}\ninput x: f32[2]\noutput y = f(x)\n") ==
        "2:10: calls nest deeper than 64 levels; is 'f' recursive?");
  CHECK(firstError("input x: f32[2, 2]\ny = x\nfor i in 0..100000 {\n  for j in 0..100 {\n"
                   "    y = y + 1.0\n  }\n}\noutput y = y\n")
            .find("ops; is a loop bound or a recursion wrong?") != std::string::npos);
}

TEST_CASE("frontend: non-UTF-8 input is reported at the bad byte", "[frontend]") {
  CHECK(firstError("input x: f32[2]\n# caf\xe9\noutput y = x\n") ==
        "2:6: the file is not valid UTF-8 (byte 0xE9 at offset 21)");
}

TEST_CASE("frontend: imports, their cycles and missing files", "[frontend]") {
  std::string dir = std::string(RACC_SOURCE_DIR) + "/test/frontend/Inputs/";
  Compiled ok(dir + "uses_lib.graph", {}, /*isPath=*/true);
  CHECK(ok.errors.empty());
  CHECK(ok.module);
  Compiled cycle(dir + "cycle_a.graph", {}, /*isPath=*/true);
  REQUIRE(cycle.errors.size() == 1);
  CHECK(cycle.errors[0].find("import cycle:") != std::string::npos);
  Compiled missing(dir + "no_such_file.graph", {}, /*isPath=*/true);
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].find("No such file or directory") != std::string::npos);
}
