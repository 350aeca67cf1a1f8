//===- RaDialect.h - the ra dialect and its ops -------------------*- C++ -*-===//
//
// Include this to use the ra dialect: the dialect class, the ops, and the
// cost interface every compute op implements.
//
//===----------------------------------------------------------------------===//
#ifndef RA_IR_RADIALECT_H
#define RA_IR_RADIALECT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "abi/ra_attention_shape.h"

#include "ir/RaDialect.h.inc"

namespace ra {
/// The kernels' static parameters of attention over q, k, v.
ra_attention::AttentionShape attentionShape(mlir::Value q, mlir::Value k, mlir::Value v,
                                            double scale, bool causal, bool reciprocal,
                                            int64_t band);
/// The checks every attention op shares (AttentionOpInterface's verifier):
/// q, k and v's shapes, the mask, the band and the scale.
mlir::LogicalResult verifyAttentionScores(mlir::Operation *op);
} // namespace ra

#include "ir/ScalarMath.h"

#include "ir/RaAttentionInterface.h.inc"
#include "ir/RaCostInterface.h.inc"
#include "ir/RaElementwiseInterface.h.inc"
#include "ir/RaVjpInterface.h.inc"

#define GET_OP_CLASSES
#include "ir/RaOps.h.inc"

namespace ra {
/// How a ra.fused_elementwise input is read for result element i: at i
/// (Full), at 0 (Scalar), or at i modulo its size (Trailing: the result's
/// trailing dims, a bias over rows).
enum class FusedInputKind { Full, Scalar, Trailing, Invalid };
FusedInputKind fusedInputKind(mlir::ShapedType input, mlir::ShapedType result);
} // namespace ra

#endif // RA_IR_RADIALECT_H
