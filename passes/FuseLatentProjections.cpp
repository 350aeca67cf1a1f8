//===- FuseLatentProjections.cpp - projections of one activation, one GEMM ==//
//
// MLA projects the same activation x down to the key and value latents,
// `x @ W_kd` and `x @ W_vd`: two GEMMs that read x twice. Projections of one
// activation to equal widths become one batched GEMM against the stacked
// weights, whose outputs are ranges of the leading axis (views, no copy):
//
//   %w = ra.concat (reshape W_kd [1, D, R]), (reshape W_vd [1, D, R])  [2, D, R]
//   %y = ra.matmul (reshape x [B*T, D]), %w                            [2, B*T, R]
//   k_l = reshape(slice %y [0:1]),  v_l = reshape(slice %y [1:2])
//
// On a GPU that is one strided-batched cuBLAS call (x read once, one
// launch); on the CPU the same GEMMs as before. The stacking copies the
// weights (2 D R floats) each call. (Weight absorption for inference entry
// points is not done here yet: see docs/fusion.md.)
//
//===----------------------------------------------------------------------===//
#include "ir/RaDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/MapVector.h"

namespace ra {
#define GEN_PASS_DEF_FUSELATENTPROJECTIONS
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

/// `x @ W` with W a [K, N] parameter, no transposes: the weight, or null.
ra::GetParamOp projectionWeight(ra::MatmulOp mm) {
  auto w = mm.getRhs().getDefiningOp<ra::GetParamOp>();
  if (!w || mm.getTransposeLhs() || mm.getTransposeRhs() ||
      w.getType().cast<ShapedType>().getRank() != 2 ||
      mm.getLhs().getType().cast<ShapedType>().getRank() < 2)
    return {};
  return w;
}

struct FuseLatentProjections : ra::impl::FuseLatentProjectionsBase<FuseLatentProjections> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      // Projections grouped by activation and output width, in program order.
      llvm::MapVector<std::pair<Value, int64_t>, SmallVector<ra::MatmulOp>> groups;
      fn.walk([&](ra::MatmulOp mm) {
        if (auto w = projectionWeight(mm))
          groups[{mm.getLhs(), w.getType().cast<ShapedType>().getDimSize(1)}].push_back(mm);
      });
      for (auto &[key, mms] : groups)
        if (mms.size() >= 2)
          fuse(mms);
    }
  }

  void fuse(SmallVector<ra::MatmulOp> &mms) {
    ra::MatmulOp first = mms.front();
    for (ra::MatmulOp mm : mms)
      if (mm->isBeforeInBlock(first))
        first = mm;
    OpBuilder b(first);
    Location loc = first.getLoc();
    auto x = first.getLhs().getType().cast<ShapedType>();
    auto wType = projectionWeight(first).getType().cast<ShapedType>();
    int64_t k = wType.getDimSize(0), n = wType.getDimSize(1), g = mms.size();
    int64_t rows = x.getNumElements() / k;
    Type f32 = x.getElementType();
    // The stacked weights [G, K, N], read afresh: the parameters may change.
    SmallVector<Value> parts;
    for (ra::MatmulOp mm : mms) {
      auto w = projectionWeight(mm);
      Value p = b.create<ra::GetParamOp>(loc, w.getType(), w.getNameAttr());
      parts.push_back(b.create<ra::ReshapeOp>(loc, RankedTensorType::get({1, k, n}, f32), p));
    }
    Value stacked = b.create<ra::ConcatOp>(loc, RankedTensorType::get({g, k, n}, f32), parts, 0);
    Value flat =
        b.create<ra::ReshapeOp>(loc, RankedTensorType::get({rows, k}, f32), first.getLhs());
    Value y = b.create<ra::MatmulOp>(loc, RankedTensorType::get({g, rows, n}, f32), flat, stacked);
    for (size_t i = 0; i < mms.size(); ++i) {
      ra::MatmulOp mm = mms[i];
      Value part =
          b.create<ra::SliceOp>(loc, RankedTensorType::get({1, rows, n}, f32), y, 0, i, i + 1);
      Value out = b.create<ra::ReshapeOp>(loc, mm.getType(), part);
      mm.getResult().replaceAllUsesWith(out);
    }
    for (ra::MatmulOp mm : mms)
      mm.erase();
  }
};

} // namespace

std::unique_ptr<Pass> ra::createFuseLatentProjectionsPass() {
  return std::make_unique<FuseLatentProjections>();
}
