// The pass-equivalence check: the default pipeline keeps every function the
// same, and a pass that changes one is named.
#include "TestUtil.h"

#include "check/Checks.h"
#include "ir/RaDialect.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"

#include <catch2/catch.hpp>

using racc::test::Compiled;

namespace {
/// Turns every ra.add into ra.sub: a pass that breaks the model.
struct BreakAdds : mlir::PassWrapper<BreakAdds, mlir::OperationPass<mlir::ModuleOp>> {
  llvm::StringRef getArgument() const override { return "test-break-adds"; }
  void runOnOperation() override {
    getOperation().walk([](ra::AddOp add) {
      mlir::OpBuilder b(add);
      auto sub = b.create<ra::SubOp>(add.getLoc(), add.getType(), add.getLhs(), add.getRhs());
      add.replaceAllUsesWith(sub.getResult());
      add.erase();
    });
  }
};

/// Scales every embedding's result by 1 + 1e-7: a defect far below any
/// real kernel bug, far above float64 rounding. The check must see it
/// although it then measures the rounding noise to decide.
struct NudgeEmbeddings : mlir::PassWrapper<NudgeEmbeddings, mlir::OperationPass<mlir::ModuleOp>> {
  llvm::StringRef getArgument() const override { return "test-nudge-embeddings"; }
  void runOnOperation() override {
    getOperation().walk([](ra::EmbeddingOp e) {
      mlir::OpBuilder b(e->getContext());
      b.setInsertionPointAfter(e);
      auto k = b.create<ra::ConstantOp>(e.getLoc(), e.getType(), 1 + 1e-7);
      auto mul = b.create<ra::MulOp>(e.getLoc(), e.getType(), e.getResult(), k.getResult());
      e.getResult().replaceAllUsesExcept(mul.getResult(), mul);
    });
  }
};

const char *kModel = "config batch = 2\nconfig seq = 4\ninput tokens: i32[batch, seq]\n"
                     "param wte: [16, 8] = normal(0.02)\nparam b: [8] = zeros\n"
                     "h = embedding(wte, tokens) + b\n"
                     "output loss = cross_entropy(matmul(h, wte, transpose_b=1), tokens)\n";
} // namespace

TEST_CASE("passes: the default pipeline keeps every function the same", "[passes]") {
  Compiled c(kModel);
  REQUIRE(c.module);
  auto r = ra::check::passCheck(*c.module, ra::defaultPipeline(), 0);
  REQUIRE(mlir::succeeded(r));
  CHECK(r->checked == (int)ra::defaultPipeline().size());
  CHECK(r->diverging.empty());
}

TEST_CASE("passes: a pass that changes the function is named", "[passes]") {
  Compiled c(kModel);
  REQUIRE(c.module);
  auto pipeline = ra::defaultPipeline();
  pipeline.insert(pipeline.begin() + 1, [] { return std::make_unique<BreakAdds>(); });
  auto r = ra::check::passCheck(*c.module, pipeline, 0);
  REQUIRE(mlir::succeeded(r));
  CHECK(r->diverging == std::vector<std::string>{"test-break-adds"});
}

TEST_CASE("passes: a difference of 1e-7 relative is named, with the element", "[passes]") {
  Compiled c(kModel);
  REQUIRE(c.module);
  auto pipeline = ra::defaultPipeline();
  pipeline.insert(pipeline.begin() + 1, [] { return std::make_unique<NudgeEmbeddings>(); });
  auto r = ra::check::passCheck(*c.module, pipeline, 0);
  REQUIRE(mlir::succeeded(r));
  REQUIRE(r->diverging == std::vector<std::string>{"test-nudge-embeddings"});
  REQUIRE(r->differences.size() == 1);
  const ra::check::PassDifference &d = r->differences[0];
  CHECK(d.pass == "test-nudge-embeddings");
  CHECK(d.entry == "forward");
  CHECK(d.tensor == "output loss");
  CHECK(d.shape.empty());
  CHECK(d.roundingBound); // the noise was measured, and did not excuse it
  CHECK(d.relDiff > d.allowedRelDiff);
  CHECK(d.used > 1);
}

TEST_CASE("passes: the rounding-noise allowance is only measured past the plain tolerance",
          "[passes]") {
  // This model has no cancellation-prone element: every pass stays within
  // the plain tolerance and no noise run is made.
  Compiled c(kModel);
  REQUIRE(c.module);
  auto r = ra::check::passCheck(*c.module, ra::defaultPipeline(), 0);
  REQUIRE(mlir::succeeded(r));
  CHECK(r->diverging.empty());
  CHECK(r->noiseMeasured == 0);
  CHECK(r->largest.relDiff <= 1e-10);
  CHECK(!r->worst.roundingBound);
}
