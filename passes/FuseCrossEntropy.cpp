//===- FuseCrossEntropy.cpp - the loss and its gradient in one pass -------===//
//
// A training function computes `cross_entropy(logits, t)` for the loss and,
// at the start of its backward pass, `cross_entropy_grad(logits, t, 1.0)`:
// two passes over the logits ([B*T, V], the largest tensor at GPT-2's
// vocabulary), each computing every row's softmax. Here they become one
// ra.cross_entropy_with_grad at the loss: one softmax per row, the logits
// read once, and the gradient written while the row is at hand.
//
//===----------------------------------------------------------------------===//
#include "ir/RaDialect.h"
#include "passes/Passes.h"
#include "passes/Patterns.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace ra {
#define GEN_PASS_DEF_FUSECROSSENTROPY
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

/// cross_entropy(l, t) ... cross_entropy_grad(l, t, seed)
///   = cross_entropy_with_grad(l, t, seed) at the loss, seed a constant.
struct LossWithItsGradient : OpRewritePattern<ra::CrossEntropyGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ra::CrossEntropyGradOp g,
                                PatternRewriter &rewriter) const override {
    ra::CrossEntropyOp loss;
    for (Operation *user : g.getLogits().getUsers())
      if (auto ce = dyn_cast<ra::CrossEntropyOp>(user);
          ce && ce.getTargets() == g.getTargets() && ce->getBlock() == g->getBlock())
        loss = ce;
    // The seed must be known where the loss is: a constant (autodiff's 1.0).
    auto seed = g.getGrad().getDefiningOp<ra::ConstantOp>();
    if (!loss || !seed || !loss->isBeforeInBlock(g))
      return failure();
    rewriter.setInsertionPoint(loss);
    Value k = rewriter.create<ra::ConstantOp>(seed.getLoc(), seed.getType(), seed.getValueAttr());
    auto fused = rewriter.create<ra::CrossEntropyWithGradOp>(
        loss.getLoc(), loss.getType(), g.getType(), loss.getLogits(), loss.getTargets(), k);
    rewriter.replaceOp(loss, fused.getLoss());
    rewriter.replaceOp(g, fused.getLogitsGrad());
    if (seed->use_empty())
      rewriter.eraseOp(seed);
    return success();
  }
};

struct FuseCrossEntropy : ra::impl::FuseCrossEntropyBase<FuseCrossEntropy> {
  void runOnOperation() override {
    if (failed(ra::applyInEachFunction<LossWithItsGradient>(getOperation())))
      signalPassFailure();
  }
};

} // namespace

std::unique_ptr<Pass> ra::createFuseCrossEntropyPass() {
  return std::make_unique<FuseCrossEntropy>();
}
