// The kernel form's parameter updates: an elementwise producer of a
// set_param's value writes the parameter's storage itself (no copy), and
// only when nothing reads the old value after it.
#include "codegen/KernelForm.h"
#include "ir/RaDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <catch2/catch.hpp>

namespace {

using ra::codegen::BufferRef;
using ra::codegen::EntryPoint;
using ra::codegen::Family;

/// One parameter `w`, four ways of setting it.
const char *kUpdates = R"mlir(
ra.param @w : tensor<16xf32> {init = "zeros", decay = false}

// The update reads w at the index it writes: in place.
func.func @elementwise(%g: tensor<16xf32>) -> tensor<16xf32> {
  %w = ra.get_param @w : tensor<16xf32>
  %n = ra.sub %w, %g : tensor<16xf32>
  %y = ra.exp %n : tensor<16xf32>
  ra.set_param @w, %n : tensor<16xf32>
  return %y : tensor<16xf32>
}

// The old w is read after the update, through a view of it: a copy.
func.func @read_after(%g: tensor<16xf32>) -> tensor<4x4xf32> {
  %w = ra.get_param @w : tensor<16xf32>
  %n = ra.sub %w, %g : tensor<16xf32>
  %v = ra.reshape %w : tensor<16xf32> -> tensor<4x4xf32>
  %y = ra.exp %v : tensor<4x4xf32>
  ra.set_param @w, %n : tensor<16xf32>
  return %y : tensor<4x4xf32>
}

// The new value is also an output: a copy.
func.func @returned(%g: tensor<16xf32>) -> tensor<16xf32> {
  %w = ra.get_param @w : tensor<16xf32>
  %n = ra.sub %w, %g : tensor<16xf32>
  ra.set_param @w, %n : tensor<16xf32>
  return %n : tensor<16xf32>
}

// A product reads w at other indices than it writes: a copy.
func.func @matmul(%g: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %w = ra.get_param @w : tensor<16xf32>
  %v = ra.reshape %w : tensor<16xf32> -> tensor<4x4xf32>
  %n = ra.matmul %v, %g : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  %f = ra.reshape %n : tensor<4x4xf32> -> tensor<16xf32>
  ra.set_param @w, %f : tensor<16xf32>
  return %g : tensor<4x4xf32>
}
)mlir";

const EntryPoint &entry(const ra::codegen::KernelProgram &p, const std::string &name) {
  for (const EntryPoint &e : p.entries)
    if (e.name == name)
      return e;
  FAIL("no entry point " << name);
  return p.entries.front();
}

int count(const EntryPoint &e, Family f) {
  int n = 0;
  for (const auto &c : e.calls)
    n += c.family == f;
  return n;
}

/// The call of `family` that comes first.
const ra::codegen::KernelCall &first(const EntryPoint &e, Family f) {
  for (const auto &c : e.calls)
    if (c.family == f)
      return c;
  FAIL("no call of the family");
  return e.calls.front();
}

} // namespace

TEST_CASE("codegen: AdamW-style updates write the parameter in place only when that is safe",
          "[codegen]") {
  mlir::MLIRContext ctx;
  ctx.loadDialect<ra::RaDialect, mlir::func::FuncDialect>();
  auto module = mlir::parseSourceString<mlir::ModuleOp>(kUpdates, &ctx);
  REQUIRE(module);
  mlir::PassManager pm(&ctx);
  pm.addPass(ra::createPlanMemoryPass());
  REQUIRE(mlir::succeeded(pm.run(*module)));
  auto program = ra::codegen::formKernels(*module);
  REQUIRE(mlir::succeeded(program));

  // In place: the subtraction writes w (parameter offset 0), its reader
  // reads it there, and no set_param is left.
  const EntryPoint &inPlace = entry(*program, "elementwise");
  CHECK(count(inPlace, Family::SetParam) == 0);
  const auto &sub = first(inPlace, Family::Binary);
  REQUIRE(sub.results.size() == 1);
  CHECK(sub.results[0].kind == BufferRef::Param);
  CHECK(sub.results[0].offset == 0);
  CHECK(first(inPlace, Family::Unary).operands[0].kind == BufferRef::Param);
  CHECK(ra::codegen::writesParameters(inPlace));

  for (const char *name : {"read_after", "returned", "matmul"}) {
    INFO(name);
    const EntryPoint &copied = entry(*program, name);
    CHECK(count(copied, Family::SetParam) == 1);
    CHECK(ra::codegen::writesParameters(copied));
    for (const auto &c : copied.calls)
      if (c.family != Family::SetParam)
        for (const BufferRef &r : c.results)
          CHECK(r.kind != BufferRef::Param);
  }
}
