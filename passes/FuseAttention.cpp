//===- FuseAttention.cpp - flash-style attention forward and backward -----===//
//
// Every ra.attention becomes ra.flash_attention (the same result, plus each
// query row's log-sum-exp), and every ra.attention_grad of it becomes
// ra.flash_attention_grad, which reads the forward's result and log-sum-exps
// instead of recomputing the row statistics. The kernels of both walk keys in
// tiles and never hold a [Tq, Tk] matrix (the unfused backward holds the
// probabilities of a head, or on CUDA of every head, in scratch).
//
//===----------------------------------------------------------------------===//
#include "ir/RaDialect.h"
#include "passes/AttentionFusion.h"
#include "passes/Passes.h"
#include "passes/Patterns.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace ra {
#define GEN_PASS_DEF_FUSEATTENTION
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

/// attention(q, k, v)  ->  flash_attention(q, k, v): the result and each
/// row's log-sum-exp.
struct FlashForward : OpRewritePattern<ra::AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ra::AttentionOp a, PatternRewriter &rewriter) const override {
    auto q = a.getQ().getType().cast<ShapedType>();
    auto lseType = RankedTensorType::get({q.getDimSize(0), q.getDimSize(1), q.getDimSize(2)},
                                         q.getElementType());
    auto f = ra::createLike<ra::FlashAttentionOp>(rewriter, a.getLoc(), {a.getType(), lseType}, a);
    rewriter.replaceOp(a, f.getResult());
    return success();
  }
};

/// attention_grad(q, k, v, dy)  ->  flash_attention_grad(q, k, v, y, lse, dy)
/// from the flash forward over the same operands in the function; without
/// one (a backward with no forward here) it is left as it is.
struct FlashBackward : OpRewritePattern<ra::AttentionGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ra::AttentionGradOp g, PatternRewriter &rewriter) const override {
    ra::FlashAttentionOp forward;
    for (Operation *user : g.getQ().getUsers())
      if (auto f = dyn_cast<ra::FlashAttentionOp>(user);
          f && !forward && cast<ra::AttentionOpInterface>(*f).sameScores(g) &&
          f.getV() == g.getV() && f->getBlock() == g->getBlock())
        forward = f;
    if (!forward)
      return failure();
    auto f = ra::createLike<ra::FlashAttentionGradOp>(rewriter, g.getLoc(), g->getResultTypes(), g,
                                                      forward.getResult(), forward.getLse(),
                                                      g.getGrad());
    rewriter.replaceOp(g, f->getResults());
    return success();
  }
};

struct FuseAttention : ra::impl::FuseAttentionBase<FuseAttention> {
  void runOnOperation() override {
    if (failed(ra::applyInEachFunction<FlashForward, FlashBackward>(getOperation())))
      signalPassFailure();
  }
};

} // namespace

std::unique_ptr<Pass> ra::createFuseAttentionPass() { return std::make_unique<FuseAttention>(); }
