//===- FuseGatedAttention.cpp - a per-head gate as the attention's epilogue ==//
//
// Mechanism 1 scales each head's attention output row by a gate:
//
//   %y, %lse = ra.flash_attention ...
//   %b = ra.broadcast %gate : [B, H, T, 1] -> [B, H, T, Dv]
//   %o = ra.mul %y, %b
//
// and autodiff differentiates it as `grad * b` into the attention's backward
// and `reduce_sum(grad * y, axis 3, keepdim)` for the gate. Here the forward
// becomes ra.gated_flash_attention, whose kernel scales each row as it
// writes it, and the backward ra.gated_flash_attention_grad, whose kernel
// scales each row of the gradient as it reads it and sums the gate's
// gradient in the same pass: no [B, H, T, Dv] broadcast, product or
// gradient copy is stored. Runs after fuse-attention.
//
//===----------------------------------------------------------------------===//
#include "ir/RaDialect.h"
#include "passes/AttentionFusion.h"
#include "passes/Passes.h"
#include "passes/Patterns.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace ra {
#define GEN_PASS_DEF_FUSEGATEDATTENTION
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

/// `mul(x, other)` or `mul(other, x)`: the other operand, or null.
Value otherFactor(Operation *op, Value x) {
  auto mul = dyn_cast<ra::MulOp>(op);
  if (!mul)
    return {};
  if (mul.getLhs() == x)
    return mul.getRhs();
  if (mul.getRhs() == x)
    return mul.getLhs();
  return {};
}

/// The gate [B, H, T, 1] that `b` broadcasts over the last dim, or null.
Value gateOf(Value b, ShapedType result) {
  auto bc = b.getDefiningOp<ra::BroadcastOp>();
  if (!bc || bc.getType() != result)
    return {};
  auto g = bc.getInput().getType().cast<ShapedType>();
  auto r = result.getShape();
  if (g.getRank() != 4 || g.getShape() != ArrayRef<int64_t>{r[0], r[1], r[2], 1})
    return {};
  return bc.getInput();
}

/// flash_attention * broadcast(gate) and its backward  ->  the gated forms.
struct GateAsEpilogue : OpRewritePattern<ra::FlashAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ra::FlashAttentionOp f, PatternRewriter &rewriter) const override {
    Value y = f.getResult();
    auto type = y.getType().cast<ShapedType>();
    // The forward gating: mul(y, broadcast(gate)).
    Operation *gating = nullptr;
    Value gate, broadcast;
    for (Operation *user : y.getUsers())
      if (Value b = otherFactor(user, y); b && (gate = gateOf(b, type))) {
        gating = user;
        broadcast = b;
        break;
      }
    if (!gating)
      return failure();
    // The fused op goes where the gating is (the gate is computed after the
    // attention); every other reader of the attention must come later.
    for (Value r : f->getResults())
      for (Operation *user : r.getUsers())
        if (user != gating && user->isBeforeInBlock(gating))
          return failure();
    rewriter.setInsertionPoint(gating);
    auto gated = ra::createLike<ra::GatedFlashAttentionOp>(
        rewriter, f.getLoc(), {type, type, f.getLse().getType()}, f, gate);
    rewriter.replaceOp(gating, gated.getResult());
    rewriter.replaceOp(f, {gated.getUngated(), gated.getLse()});

    // The backward: flash_attention_grad of grad * broadcast, and the
    // gate's gradient reduce_sum(grad * y, axis 3, keepdim).
    SmallVector<ra::FlashAttentionGradOp> grads;
    for (Operation *user : gated.getUngated().getUsers())
      if (auto g = dyn_cast<ra::FlashAttentionGradOp>(user); g && g.getLse() == gated.getLse())
        grads.push_back(g);
    for (ra::FlashAttentionGradOp g : grads) {
      Operation *scaling = g.getGrad().getDefiningOp();
      Value upstream = scaling ? otherFactor(scaling, broadcast) : Value();
      if (!upstream)
        continue;
      ra::ReduceSumOp gateGrad;
      Operation *product = nullptr;
      for (Operation *user : upstream.getUsers())
        if (otherFactor(user, upstream) == gated.getUngated() && user->hasOneUse())
          if (auto sum = dyn_cast<ra::ReduceSumOp>(*user->user_begin());
              sum && sum.getAxis() == 3 && sum.getKeepdim() && sum.getType() == gate.getType()) {
            gateGrad = sum;
            product = user;
          }
      if (!gateGrad)
        continue;
      // Before the earlier of the backward op and the gate's gradient: both
      // results are read from there on.
      Operation *at = gateGrad->isBeforeInBlock(g) ? gateGrad.getOperation() : g.getOperation();
      rewriter.setInsertionPoint(at);
      SmallVector<Type> types{g.getQ().getType(), g.getK().getType(), g.getV().getType(),
                              gate.getType()};
      if (g.getAlphaGrad())
        types.push_back(g.getAlphaGrad().getType());
      auto fused = ra::createLike<ra::GatedFlashAttentionGradOp>(
          rewriter, g.getLoc(), types, g, gate, gated.getUngated(), gated.getLse(), upstream);
      SmallVector<Value> grads{fused.getQGrad(), fused.getKGrad(), fused.getVGrad()};
      if (g.getAlphaGrad())
        grads.push_back(fused.getAlphaGrad());
      rewriter.replaceOp(gateGrad, fused.getGateGrad());
      rewriter.eraseOp(product);
      rewriter.replaceOp(g, grads);
      if (scaling->use_empty())
        rewriter.eraseOp(scaling);
    }
    if (Operation *bc = broadcast.getDefiningOp(); bc && bc->use_empty())
      rewriter.eraseOp(bc);
    return success();
  }
};

struct FuseGatedAttention : ra::impl::FuseGatedAttentionBase<FuseGatedAttention> {
  void runOnOperation() override {
    if (failed(ra::applyInEachFunction<GateAsEpilogue>(getOperation())))
      signalPassFailure();
  }
};

} // namespace

std::unique_ptr<Pass> ra::createFuseGatedAttentionPass() {
  return std::make_unique<FuseGatedAttention>();
}
