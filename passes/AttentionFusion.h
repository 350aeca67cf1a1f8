//===- AttentionFusion.h - what the attention fusion passes share -*- C++ -*-===//
//
// The attention ops' shared operands (q, k, v and RA's alpha) and attributes
// (scale, causal, band), carried from an op to its fused form.
//
//===----------------------------------------------------------------------===//
#ifndef RA_PASSES_ATTENTIONFUSION_H
#define RA_PASSES_ATTENTIONFUSION_H

#include "ir/OpBuild.h"
#include "ir/RaDialect.h"

#include "mlir/IR/BuiltinOps.h"

namespace ra {

/// scale, causal and band of an attention op of any form.
template <typename Op> llvm::SmallVector<mlir::NamedAttribute> attentionAttrs(Op op) {
  mlir::MLIRContext *ctx = op.getContext();
  llvm::SmallVector<mlir::NamedAttribute> attrs{
      f64Attr(ctx, "scale", op.getScale().convertToDouble())};
  if (op.getCausal())
    attrs.push_back(unitAttr(ctx, "causal"));
  if (op.getBand())
    attrs.push_back(i64Attr(ctx, "band", *op.getBand()));
  return attrs;
}

/// q, k, v, and alpha when the op has the reciprocal term.
template <typename Op> llvm::SmallVector<mlir::Value> attentionOperands(Op op) {
  llvm::SmallVector<mlir::Value> v{op.getQ(), op.getK(), op.getV()};
  if (op.getReciprocalAlpha())
    v.push_back(op.getReciprocalAlpha());
  return v;
}

/// Whether two attention ops of any form compute the same scores and
/// probabilities: the same q, k, reciprocal term, scale, mask and band.
template <typename A, typename B> bool sameScores(A a, B b) {
  return a.getQ() == b.getQ() && a.getK() == b.getK() &&
         a.getReciprocalAlpha() == b.getReciprocalAlpha() && a.getScale() == b.getScale() &&
         a.getCausal() == b.getCausal() && a.getBand() == b.getBand();
}

} // namespace ra

#endif // RA_PASSES_ATTENTIONFUSION_H
