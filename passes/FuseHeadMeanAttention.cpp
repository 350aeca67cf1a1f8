//===- FuseHeadMeanAttention.cpp - attention averaged over heads, fused ---===//
//
// Mechanism 2 attends with the MLP activations as a value shared by every
// head and averages over heads:
//
//   %pa, %lse = ra.flash_attention %q_l, %k_l, %a   : ... -> [B, H, T, F]
//   %m = ra.reduce_mean %pa {axis = 1}              : -> [B, T, F]
//
// and autodiff feeds the backward `grad(dm) / H` broadcast to every head.
// The per-head outputs [B, H, T, F] (F = 4D: 16 MiB a layer at the bench
// configuration) exist only to be averaged, and the probabilities are those
// of the block's own attention over the same q and k, computed a second
// time. Here the forward becomes ra.head_mean_attention on the sibling
// attention's row log-sum-exps: P = exp(S - lse) with no softmax of its
// own, averaged over heads before it meets a (one softmax, two products;
// F work per score instead of H F). The backward becomes
// ra.head_mean_attention_grad, which makes dP = dm a^T / H once per row for
// every head and a's gradient from the averaged P. Neither [B, H, T, F]
// tensor is stored. Without a sibling (no attention over the same q, k and
// reciprocal term before it) the pair stays unfused. Runs after
// fuse-attention and fuse-gated-attention.
//
//===----------------------------------------------------------------------===//
#include "ir/RaDialect.h"
#include "passes/AttentionFusion.h"
#include "passes/Passes.h"
#include "passes/Patterns.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cmath>

namespace ra {
#define GEN_PASS_DEF_FUSEHEADMEANATTENTION
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

/// The [B, T, F] gradient `dm` when `g` is `broadcast(reshape(dm)) * (1 / H)`
/// (either order), as autodiff writes the mean's backward; else null.
Value meanGradient(Value g, ShapedType mean, int64_t heads) {
  auto mul = g.getDefiningOp<ra::MulOp>();
  if (!mul)
    return {};
  for (auto [spread, factor] :
       {std::pair(mul.getLhs(), mul.getRhs()), std::pair(mul.getRhs(), mul.getLhs())}) {
    auto k = factor.getDefiningOp<ra::ConstantOp>();
    auto bc = spread.getDefiningOp<ra::BroadcastOp>();
    if (!k || !bc || std::abs(k.getValue().convertToDouble() * heads - 1.0) > 1e-12)
      continue;
    Value dm = bc.getInput();
    if (auto r = dm.getDefiningOp<ra::ReshapeOp>())
      dm = r.getInput();
    if (dm.getType() == mean)
      return dm;
  }
  return {};
}

/// The row log-sum-exps of a flash attention (plain or gated) before `f` in
/// its block over the same q, k, reciprocal term and attributes: the
/// probabilities `f` would compute again. Null if there is none.
Value siblingLse(ra::FlashAttentionOp f) {
  auto same = [&](ra::AttentionOpInterface s) {
    return s.sameScores(f) && s->getBlock() == f->getBlock() && s->isBeforeInBlock(f);
  };
  for (Operation *user : f.getQ().getUsers()) {
    if (auto s = dyn_cast<ra::FlashAttentionOp>(user); s && s != f && same(s))
      return s.getLse();
    if (auto s = dyn_cast<ra::GatedFlashAttentionOp>(user); s && same(s))
      return s.getLse();
  }
  return {};
}

/// reduce_mean(flash_attention(q, k, a), heads) and its backward  ->  the
/// head-mean forms on the sibling attention's log-sum-exps.
struct HeadMeanOnSiblingSoftmax : OpRewritePattern<ra::FlashAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ra::FlashAttentionOp f, PatternRewriter &rewriter) const override {
    if (f.getV().getType().cast<ShapedType>().getRank() != 3)
      return failure(); // the value must be shared by the heads
    int64_t heads = f.getQ().getType().cast<ShapedType>().getDimSize(1);
    ra::ReduceMeanOp mean;
    SmallVector<std::pair<ra::FlashAttentionGradOp, Value>> grads;
    for (Operation *user : f.getResult().getUsers()) {
      if (auto m = dyn_cast<ra::ReduceMeanOp>(user); m && m.getAxis() == 1 && !m.getKeepdim()) {
        if (mean)
          return failure();
        mean = m;
      } else if (auto g = dyn_cast<ra::FlashAttentionGradOp>(user)) {
        grads.push_back({g, Value()});
      } else {
        return failure(); // the per-head outputs are read: keep them
      }
    }
    if (!mean)
      return failure();
    auto meanType = mean.getType().cast<ShapedType>();
    for (auto &[g, dm] : grads)
      if (g.getLse() != f.getLse() || !(dm = meanGradient(g.getGrad(), meanType, heads)))
        return failure();
    for (Operation *user : f.getLse().getUsers())
      if (!isa<ra::FlashAttentionGradOp>(user))
        return failure();
    Value lse = siblingLse(f);
    if (!lse)
      return failure();

    rewriter.setInsertionPoint(f);
    auto fused = ra::createLike<ra::HeadMeanAttentionOp>(rewriter, f.getLoc(), meanType, f, lse);
    rewriter.replaceOp(mean, fused.getResult());
    for (auto &[g, dm] : grads) {
      rewriter.setInsertionPoint(g);
      auto fg = ra::createLike<ra::HeadMeanAttentionGradOp>(rewriter, g.getLoc(),
                                                            g->getResultTypes(), f, lse, dm);
      Operation *spread = g.getGrad().getDefiningOp();
      rewriter.replaceOp(g, fg->getResults());
      // The broadcast gradient, if nothing else reads it.
      SmallVector<Operation *> chain{spread};
      while (!chain.empty()) {
        Operation *op = chain.pop_back_val();
        if (!op || !op->use_empty() ||
            !isa<ra::MulOp, ra::BroadcastOp, ra::ReshapeOp, ra::ConstantOp>(op))
          continue;
        for (Value v : op->getOperands())
          chain.push_back(v.getDefiningOp());
        rewriter.eraseOp(op);
      }
    }
    rewriter.eraseOp(f);
    return success();
  }
};

struct FuseHeadMeanAttention : ra::impl::FuseHeadMeanAttentionBase<FuseHeadMeanAttention> {
  void runOnOperation() override {
    if (failed(ra::applyInEachFunction<HeadMeanOnSiblingSoftmax>(getOperation())))
      signalPassFailure();
  }
};

} // namespace

std::unique_ptr<Pass> ra::createFuseHeadMeanAttentionPass() {
  return std::make_unique<FuseHeadMeanAttention>();
}
