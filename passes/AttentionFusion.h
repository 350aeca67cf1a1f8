//===- AttentionFusion.h - what the attention fusion passes share -*- C++ -*-===//
//
// A fused attention form takes its scores (q, k, v, RA's alpha, scale,
// mask, band) from the op it replaces: `createLike` passes them to the new
// form's ODS builder, with the operands the form adds after alpha.
//
//===----------------------------------------------------------------------===//
#ifndef RA_PASSES_ATTENTIONFUSION_H
#define RA_PASSES_ATTENTIONFUSION_H

#include "ir/RaDialect.h"

#include "mlir/IR/Builders.h"

namespace ra {

/// An `OpT` with `like`'s scores, `extra` operands after alpha (lse, gate,
/// grad, ... as OpT declares them), and result types `types`.
template <typename OpT, typename... Extra>
OpT createLike(mlir::OpBuilder &b, mlir::Location loc, mlir::TypeRange types,
               AttentionOpInterface like, Extra... extra) {
  return b.create<OpT>(loc, types, like.getQ(), like.getK(), like.getV(), like.getReciprocalAlpha(),
                       extra..., like.getScaleAttr(), like.getCausalAttr(), like.getBandAttr());
}

} // namespace ra

#endif // RA_PASSES_ATTENTIONFUSION_H
