//===- FuseWeightGradients.cpp - a weight's gradient as one GEMM ----------===//
//
// The gradient of a [K, N] weight applied to a [B, T, K] activation comes out
// of autodiff as a batched product and a sum over the batch:
//
//   %p = ra.matmul %x, %dy {transpose_lhs} : [B, T, K], [B, T, N] -> [B, K, N]
//   %g = ra.reduce_sum %p {axis = 0}                         -> [K, N]
//
// which holds B copies of the weight's size and reads them again. The sum is
// the GEMM's own reduction over the B*T rows:
//
//   %g = ra.matmul (reshape %x [B*T, K]), (reshape %dy [B*T, N]) {transpose_lhs}
//
// (reshapes are views: no copy). One GEMM with a longer K, no [B, K, N].
//
// A bias's gradient comes out as one sum per broadcast axis:
//
//   %s = ra.reduce_sum %dy {axis = 0} : [B, T, N] -> [T, N]
//   %g = ra.reduce_sum %s {axis = 0}  : [T, N] -> [N]
//
// which writes [T, N] and reads it again. Two sums over adjacent axes are one
// sum over the view that merges them (here [B*T, N]): one pass over dy, and
// the form of the weight gradient's GEMM operand that cuBLASLt's BGRADA
// epilogue sums inside that GEMM (codegen/GemmEpilogue.cpp).
//
//===----------------------------------------------------------------------===//
#include "ir/RaDialect.h"
#include "passes/Passes.h"
#include "passes/Patterns.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace ra {
#define GEN_PASS_DEF_FUSEWEIGHTGRADIENTS
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

/// reduce_sum(matmul(x, dy, transpose_lhs), axis 0) over [B, T, .] operands
/// = matmul(reshape(x), reshape(dy), transpose_lhs) over [B*T, .] views.
struct WeightGradientAsOneGemm : OpRewritePattern<ra::ReduceSumOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ra::ReduceSumOp sum, PatternRewriter &rewriter) const override {
    auto mm = sum.getInput().getDefiningOp<ra::MatmulOp>();
    if (!mm || sum.getAxis() != 0 || sum.getKeepdim() || !mm.getTransposeLhs() ||
        mm.getTransposeRhs() || !mm->hasOneUse())
      return failure();
    auto x = mm.getLhs().getType().cast<RankedTensorType>();
    auto dy = mm.getRhs().getType().cast<RankedTensorType>();
    if (x.getRank() != 3 || dy.getRank() != 3 || x.getDimSize(0) != dy.getDimSize(0) ||
        x.getDimSize(1) != dy.getDimSize(1))
      return failure();
    int64_t rows = x.getDimSize(0) * x.getDimSize(1);
    auto flat = [&](Value v, RankedTensorType t) {
      return rewriter.create<ra::ReshapeOp>(
          sum.getLoc(), RankedTensorType::get({rows, t.getDimSize(2)}, t.getElementType()), v);
    };
    Value lhs = flat(mm.getLhs(), x), rhs = flat(mm.getRhs(), dy);
    rewriter.replaceOpWithNewOp<ra::MatmulOp>(sum, sum.getType(), lhs, rhs,
                                              /*transpose_lhs=*/true, /*transpose_rhs=*/false);
    rewriter.eraseOp(mm);
    return success();
  }
};

/// reduce_sum(reduce_sum(x, axis a), axis b) with b in {a - 1, a}: the two
/// axes are adjacent in x, so = reduce_sum(reshape(x) merging them).
struct BiasGradientAsOneSum : OpRewritePattern<ra::ReduceSumOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ra::ReduceSumOp outer, PatternRewriter &rewriter) const override {
    auto inner = outer.getInput().getDefiningOp<ra::ReduceSumOp>();
    if (!inner || inner.getKeepdim() || outer.getKeepdim() || !inner->hasOneUse())
      return failure();
    int64_t a = inner.getAxis(), b = outer.getAxis();
    if (b != a && b != a - 1)
      return failure();
    auto x = inner.getInput().getType().cast<RankedTensorType>();
    int64_t first = std::min(a, b); // x's axes first and first + 1 are summed
    SmallVector<int64_t> merged;
    for (int64_t i = 0; i < x.getRank(); ++i) {
      if (i == first + 1)
        merged.back() *= x.getDimSize(i);
      else
        merged.push_back(x.getDimSize(i));
    }
    Value view = rewriter.create<ra::ReshapeOp>(
        outer.getLoc(), RankedTensorType::get(merged, x.getElementType()), inner.getInput());
    rewriter.replaceOpWithNewOp<ra::ReduceSumOp>(outer, view, first);
    rewriter.eraseOp(inner);
    return success();
  }
};

struct FuseWeightGradients : ra::impl::FuseWeightGradientsBase<FuseWeightGradients> {
  void runOnOperation() override {
    if (failed(
            ra::applyInEachFunction<WeightGradientAsOneGemm, BiasGradientAsOneSum>(getOperation())))
      signalPassFailure();
  }
};

} // namespace

std::unique_ptr<Pass> ra::createFuseWeightGradientsPass() {
  return std::make_unique<FuseWeightGradients>();
}
