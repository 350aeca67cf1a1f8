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
#include "ir/OpBuild.h"
#include "ir/RaDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/STLExtras.h"

namespace ra {
#define GEN_PASS_DEF_FUSEATTENTION
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

/// What makes a backward op the derivative of a forward one: the same
/// operands and attributes.
using AttentionKey = std::tuple<Value, Value, Value, Value, double, bool, int64_t>;

template <typename Op> AttentionKey keyOf(Op op) {
  return {op.getQ(),
          op.getK(),
          op.getV(),
          op.getReciprocalAlpha(),
          op.getScale().convertToDouble(),
          op.getCausal(),
          op.getBand() ? (int64_t)*op.getBand() : -1};
}

template <typename Op> SmallVector<NamedAttribute> attrsOf(Op op) {
  MLIRContext *ctx = op.getContext();
  SmallVector<NamedAttribute> attrs{ra::f64Attr(ctx, "scale", op.getScale().convertToDouble())};
  if (op.getCausal())
    attrs.push_back(ra::unitAttr(ctx, "causal"));
  if (op.getBand())
    attrs.push_back(ra::i64Attr(ctx, "band", *op.getBand()));
  return attrs;
}

template <typename Op> SmallVector<Value> qkvAlpha(Op op) {
  SmallVector<Value> v{op.getQ(), op.getK(), op.getV()};
  if (op.getReciprocalAlpha())
    v.push_back(op.getReciprocalAlpha());
  return v;
}

struct FuseAttention : ra::impl::FuseAttentionBase<FuseAttention> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      std::vector<std::pair<AttentionKey, ra::FlashAttentionOp>> flash;
      SmallVector<ra::AttentionOp> forward;
      SmallVector<ra::AttentionGradOp> backward;
      fn.walk([&](Operation *op) {
        if (auto a = dyn_cast<ra::AttentionOp>(op))
          forward.push_back(a);
        else if (auto g = dyn_cast<ra::AttentionGradOp>(op))
          backward.push_back(g);
      });
      for (ra::AttentionOp a : forward) {
        OpBuilder b(a);
        auto q = a.getQ().getType().cast<ShapedType>();
        auto lseType = RankedTensorType::get({q.getDimSize(0), q.getDimSize(1), q.getDimSize(2)},
                                             q.getElementType());
        auto f = ra::buildOp<ra::FlashAttentionOp>(b, a.getLoc(), qkvAlpha(a), attrsOf(a),
                                                   {a.getType(), lseType});
        a.getResult().replaceAllUsesWith(f->getResult(0));
        flash.push_back({keyOf(a), cast<ra::FlashAttentionOp>(f)});
        a.erase();
      }
      for (ra::AttentionGradOp g : backward) {
        auto it = llvm::find_if(flash, [&](const auto &p) { return p.first == keyOf(g); });
        if (it == flash.end())
          continue; // no forward in this function to read from: left unfused
        OpBuilder b(g);
        SmallVector<Value> operands = qkvAlpha(g);
        operands.append({it->second.getResult(), it->second.getLse(), g.getGrad()});
        auto f = ra::buildOp<ra::FlashAttentionGradOp>(b, g.getLoc(), operands, attrsOf(g),
                                                       SmallVector<Type>(g->getResultTypes()));
        g->replaceAllUsesWith(f->getResults());
        g.erase();
      }
    }
  }
};

} // namespace

std::unique_ptr<Pass> ra::createFuseAttentionPass() { return std::make_unique<FuseAttention>(); }
