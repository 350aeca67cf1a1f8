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

#include "ir/RaDialect.h.inc"

#include "ir/RaCostInterface.h.inc"
#include "ir/RaVjpInterface.h.inc"

#define GET_OP_CLASSES
#include "ir/RaOps.h.inc"

namespace ra {
/// How a ra.fused_elementwise input is read for result element i: at i
/// (Full), at 0 (Scalar), or at i modulo its size (Trailing: the result's
/// trailing dims, a bias over rows).
enum class FusedInputKind { Full, Scalar, Trailing, Invalid };
FusedInputKind fusedInputKind(mlir::ShapedType input, mlir::ShapedType result);

/// Attaches the VJP rules (RaVjp.cpp) to the ops of the dialect.
void registerVjpModels(mlir::MLIRContext *ctx);
} // namespace ra

#endif // RA_IR_RADIALECT_H
