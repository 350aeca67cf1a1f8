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

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/STLExtras.h"

namespace ra {
#define GEN_PASS_DEF_FUSEATTENTION
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

struct FuseAttention : ra::impl::FuseAttentionBase<FuseAttention> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      SmallVector<ra::FlashAttentionOp> flash;
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
        auto f = ra::createLike<ra::FlashAttentionOp>(b, a.getLoc(), {a.getType(), lseType}, a);
        a.getResult().replaceAllUsesWith(f.getResult());
        flash.push_back(f);
        a.erase();
      }
      for (ra::AttentionGradOp g : backward) {
        // Its forward: the same operands and attributes.
        auto it = llvm::find_if(flash, [&](ra::FlashAttentionOp f) {
          return cast<ra::AttentionOpInterface>(*f).sameScores(g) && f.getV() == g.getV();
        });
        if (it == flash.end())
          continue; // no forward in this function to read from: left unfused
        OpBuilder b(g);
        auto f = ra::createLike<ra::FlashAttentionGradOp>(
            b, g.getLoc(), g->getResultTypes(), g, it->getResult(), it->getLse(), g.getGrad());
        g->replaceAllUsesWith(f->getResults());
        g.erase();
      }
    }
  }
};

} // namespace

std::unique_ptr<Pass> ra::createFuseAttentionPass() { return std::make_unique<FuseAttention>(); }
