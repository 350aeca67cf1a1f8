// foldGemmEpilogues: a GEMM and the fused kernel right after it that adds a
// bias row (and a residual) to its result in place become one GEMM with that
// epilogue; anything else stays two calls. (The folded calls' values are
// checked against the interpreter with every entry point: CpuBackendTest.)
#include "codegen/KernelForm.h"

#include <catch2/catch.hpp>

namespace {

using namespace ra::codegen;

BufferRef arena(int64_t offset, int64_t elements) {
  BufferRef r;
  r.kind = BufferRef::Arena;
  r.offset = offset;
  r.elements = elements;
  return r;
}
BufferRef param(int64_t offset, int64_t elements) {
  BufferRef r = arena(offset, elements);
  r.kind = BufferRef::Param;
  return r;
}

FusedStep input(int operand, int64_t modulo) {
  FusedStep s;
  s.kind = FusedStep::Input;
  s.input = operand;
  s.modulo = modulo;
  return s;
}
/// The last step: the kernel stores step `a`.
FusedStep store(int a) {
  FusedStep s;
  s.kind = FusedStep::Unary;
  s.a = a;
  return s;
}
FusedStep binary(const char *fn, int a, int b) {
  FusedStep s;
  s.kind = FusedStep::Binary;
  s.fn = fn;
  s.a = a;
  s.b = b;
  return s;
}

constexpr int64_t kM = 8, kN = 6, kK = 4;

/// C (arena 0) = A (arena 1024) W (param 0), then `body` over `operands`
/// into `result`.
EntryPoint projection(std::vector<FusedStep> body, std::vector<BufferRef> operands,
                      BufferRef result) {
  EntryPoint e;
  KernelCall gemm{Family::Gemm, GemmShape{1, kM, kN, kK, false, false, {0}, {0}}, {}, {}, "g"};
  gemm.operands = {arena(1024, kM * kK), param(0, kK * kN)};
  gemm.results = {arena(0, kM * kN)};
  KernelCall fused{Family::FusedElementwise, FusedParams{kM * kN, std::move(body)}, {}, {}, "f"};
  fused.operands = std::move(operands);
  fused.results = {result};
  e.calls = {gemm, fused};
  return e;
}

GemmShape::Epilogue folded(EntryPoint &e) {
  foldGemmEpilogues(e);
  if (e.calls.size() != 1)
    return GemmShape::Epilogue::None;
  return e.calls[0].get<GemmShape>().epilogue;
}

} // namespace

TEST_CASE("codegen: a bias added to a GEMM's result in place is the GEMM's epilogue",
          "[codegen][epilogue]") {
  const BufferRef c = arena(0, kM * kN), bias = param(100, kN), res = arena(2048, kM * kN);
  SECTION("C + bias") {
    EntryPoint e =
        projection({input(0, 0), input(1, kN), binary("Add", 0, 1), store(2)}, {c, bias}, c);
    CHECK(folded(e) == GemmShape::Epilogue::Bias);
    REQUIRE(e.calls[0].operands.size() == 3);
    CHECK(e.calls[0].operands[2].offset == 100);
  }
  SECTION("residual + (bias + C), operands in any order") {
    EntryPoint e = projection({input(2, 0), input(1, kN), input(0, 0), binary("Add", 1, 0),
                               binary("Add", 2, 3), store(4)},
                              {res, bias, c}, c);
    CHECK(folded(e) == GemmShape::Epilogue::BiasResidual);
    REQUIRE(e.calls[0].operands.size() == 4);
    CHECK(e.calls[0].operands[2].offset == 100);  // the bias
    CHECK(e.calls[0].operands[3].offset == 2048); // the residual
  }
  SECTION("not a sum of a bias row: left alone") {
    EntryPoint mul =
        projection({input(0, 0), input(1, kN), binary("Mul", 0, 1), store(2)}, {c, bias}, c);
    CHECK(folded(mul) == GemmShape::Epilogue::None);
    CHECK(mul.calls.size() == 2);
    // A vector of another length (a column bias, i % 4) is not a row.
    EntryPoint column = projection({input(0, 0), input(1, 4), binary("Add", 0, 1), store(2)},
                                   {c, param(100, 4)}, c);
    CHECK(folded(column) == GemmShape::Epilogue::None);
    // C read twice: C + C + bias is no epilogue.
    EntryPoint twice = projection({input(0, 0), input(0, 0), input(1, kN), binary("Add", 0, 1),
                                   binary("Add", 3, 2), store(4)},
                                  {c, bias}, c);
    CHECK(folded(twice) == GemmShape::Epilogue::None);
  }
  SECTION("not in place: C's own value may still be read, so the kernels stay apart") {
    EntryPoint e = projection({input(0, 0), input(1, kN), binary("Add", 0, 1), store(2)}, {c, bias},
                              arena(4096, 48));
    CHECK(folded(e) == GemmShape::Epilogue::None);
  }
  SECTION("a batch of products has no row bias") {
    EntryPoint e =
        projection({input(0, 0), input(1, kN), binary("Add", 0, 1), store(2)}, {c, bias}, c);
    auto &g = std::get<GemmShape>(e.calls[0].params);
    g.batch = 2;
    g.aOffsets = g.bOffsets = {0, 1};
    CHECK(folded(e) == GemmShape::Epilogue::None);
  }
}

TEST_CASE("codegen: the GELU of a biased GEMM's result is the GEMM's GELU_AUX_BIAS epilogue",
          "[codegen][epilogue]") {
  const BufferRef c = arena(0, kM * kN), bias = param(100, kN), g = arena(2048, kM * kN);
  auto withGelu = [&](BufferRef in, BufferRef out, int64_t n) {
    EntryPoint e =
        projection({input(0, 0), input(1, kN), binary("Add", 0, 1), store(2)}, {c, bias}, c);
    KernelCall gelu{Family::Unary, ElementwiseParams{n, "Gelu"}, {}, {}, "gelu"};
    gelu.operands = {in};
    gelu.results = {out};
    e.calls.push_back(gelu);
    return e;
  };
  SECTION("C keeps AB + bias (the GELU's backward reads it), the second result gets gelu(C)") {
    EntryPoint e = withGelu(c, g, kM * kN);
    CHECK(folded(e) == GemmShape::Epilogue::BiasGeluAux);
    REQUIRE(e.calls[0].results.size() == 2);
    CHECK(e.calls[0].results[0].offset == c.offset);
    CHECK(e.calls[0].results[1].offset == g.offset);
    CHECK(e.calls[0].operands.size() == 3); // A, W, bias
  }
  SECTION("anything else stays a bias epilogue and a GELU") {
    EntryPoint inPlace = withGelu(c, c, kM * kN);
    foldGemmEpilogues(inPlace);
    REQUIRE(inPlace.calls.size() == 2);
    CHECK(inPlace.calls[0].get<GemmShape>().epilogue == GemmShape::Epilogue::Bias);
    EntryPoint other = withGelu(arena(4096, kM * kN), g, kM * kN);
    foldGemmEpilogues(other);
    CHECK(other.calls.size() == 2);
    EntryPoint part = withGelu(c, g, kM * kN - 1);
    foldGemmEpilogues(part);
    CHECK(part.calls.size() == 2);
  }
}

TEST_CASE("codegen: gelu(C + bias) stored over C is the GEMM's GELU_BIAS epilogue",
          "[codegen][epilogue]") {
  const BufferRef c = arena(0, kM * kN), bias = param(100, kN);
  FusedStep gelu;
  gelu.kind = FusedStep::Unary;
  gelu.fn = "Gelu";
  gelu.a = 2;
  EntryPoint e =
      projection({input(0, 0), input(1, kN), binary("Add", 0, 1), gelu, store(3)}, {c, bias}, c);
  CHECK(folded(e) == GemmShape::Epilogue::BiasGelu);
  CHECK(e.calls[0].operands.size() == 3);
  // With a residual it is no epilogue cuBLASLt has.
  gelu.a = 4;
  EntryPoint residual = projection({input(0, 0), input(1, kN), input(2, 0), binary("Add", 0, 1),
                                    binary("Add", 3, 2), gelu, store(5)},
                                   {c, bias, arena(4096, kM * kN)}, c);
  CHECK(folded(residual) == GemmShape::Epilogue::None);
}

namespace {

KernelCall call(Family family, KernelParams params, std::vector<BufferRef> operands,
                std::vector<BufferRef> results) {
  return KernelCall{family, std::move(params), std::move(operands), std::move(results), "x"};
}
KernelCall unary(const char *fn, BufferRef in, BufferRef out) {
  return call(Family::Unary, ElementwiseParams{in.elements, fn}, {in}, {out});
}
/// An entry point of `calls`, folded.
EntryPoint fold(std::vector<KernelCall> calls) {
  EntryPoint e;
  e.calls = std::move(calls);
  foldGemmEpilogues(e);
  return e;
}

} // namespace

TEST_CASE("codegen: a bias's gradient, the sum of a weight gradient's B over its rows, is the "
          "GEMM's BGRADA epilogue",
          "[codegen][epilogue]") {
  // dW = X^T dY (m = kK inputs, n = kN outputs, k = kM rows), db = the sum of dY's rows.
  const BufferRef x = arena(0, kM * kK), dy = arena(1024, kM * kN), dw = arena(2048, kK * kN),
                  db = arena(4096, kN), other = arena(8192, 16);
  auto gemm = [&](bool bf16 = true) {
    GemmShape g{1, kK, kN, kM, true, false, {0}, {0}};
    g.bf16Inputs = bf16;
    return call(Family::Gemm, g, {x, dy}, {dw});
  };
  auto sum = [&](bool bf16 = true) {
    return call(Family::Reduce, ReduceParams{{1, kM, kN}, "Sum", bf16}, {dy}, {db});
  };
  SECTION("before or after the GEMM, with unrelated calls between") {
    for (bool sumFirst : {true, false}) {
      KernelCall between = unary("Exp", other, arena(9216, 16));
      EntryPoint e = fold(sumFirst ? std::vector{sum(), between, gemm()}
                                   : std::vector{gemm(), between, sum()});
      REQUIRE(e.calls.size() == 2);
      const KernelCall &g = e.calls[sumFirst ? 1 : 0];
      CHECK(g.get<GemmShape>().epilogue == GemmShape::Epilogue::BiasGrad);
      REQUIRE(g.results.size() == 2);
      CHECK(g.results[1].offset == db.offset);
    }
  }
  SECTION("a call between that writes dY, or reads or writes the gradient, keeps them apart") {
    for (KernelCall between : {unary("Exp", other, dy), unary("Exp", db, other),
                               unary("Exp", other, arena(4096 + 4, 1))}) {
      CHECK(fold({sum(), between, gemm()}).calls.size() == 3);
      CHECK(fold({gemm(), between, sum()}).calls.size() == 3);
    }
  }
  SECTION("another sum, a transposed B, or a rounding that differs is left alone") {
    CHECK(fold({call(Family::Reduce, ReduceParams{{1, kM, kN}, "Mean", true}, {dy}, {db}), gemm()})
              .calls.size() == 2);
    CHECK(
        fold({call(Family::Reduce, ReduceParams{{kM, kN, 1}, "Sum", true}, {dy}, {arena(4096, kM)}),
              gemm()})
            .calls.size() == 2);
    KernelCall transposed = gemm();
    std::get<GemmShape>(transposed.params).transposeB = true;
    CHECK(fold({sum(), transposed}).calls.size() == 2);
    // A float32 sum beside a bf16 GEMM: BGRADA would sum the rounded operand.
    CHECK(fold({sum(false), gemm(true)}).calls.size() == 2);
    CHECK(fold({sum(false), gemm(false)}).calls.size() == 1);
  }
}

TEST_CASE("codegen: the GELU's backward over a GEMM's product, in its place, is the GEMM's DGELU "
          "epilogue",
          "[codegen][epilogue]") {
  // dG = dY W^T into g, then dC = gelu'(C) * dG over g.
  const BufferRef dy = arena(0, kM * kN), g = arena(1024, kM * kK), c = arena(2048, kM * kK),
                  other = arena(8192, 16);
  const BufferRef w = param(0, kK * kN);
  KernelCall gemm =
      call(Family::Gemm, GemmShape{1, kM, kK, kN, false, true, {0}, {0}}, {dy, w}, {g});
  auto geluGrad = [&](BufferRef pre, BufferRef product, BufferRef out) {
    return call(Family::Binary, ElementwiseParams{kM * kK, "GeluGrad"}, {pre, product}, {out});
  };
  SECTION("folded past calls that touch neither, C as the third operand") {
    EntryPoint e = fold({gemm, unary("Exp", other, arena(9216, 16)), geluGrad(c, g, g)});
    REQUIRE(e.calls.size() == 2);
    CHECK(e.calls[0].get<GemmShape>().epilogue == GemmShape::Epilogue::GeluGrad);
    REQUIRE(e.calls[0].operands.size() == 3);
    CHECK(e.calls[0].operands[2].offset == c.offset);
  }
  SECTION("left alone: written over C, dG read first, C written between") {
    CHECK(fold({gemm, geluGrad(c, g, c)}).calls.size() == 2);
    CHECK(fold({gemm, unary("Exp", g, other), geluGrad(c, g, g)}).calls.size() == 3);
    CHECK(fold({gemm, unary("Exp", other, c), geluGrad(c, g, g)}).calls.size() == 3);
  }
}
