//===- IRUtils.h - small queries on ra IR every layer needs -------*- C++ -*-===//
#ifndef RA_IR_IRUTILS_H
#define RA_IR_IRUTILS_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"

#include <string>
#include <vector>

namespace ra {

/// `FILE:LINE:COL` of the op's own source position, without the call chain
/// (an op expanded from a function reports where the function says it).
std::string sourceLocation(mlir::Operation *op);

/// The static shape of a tensor value.
std::vector<int64_t> shapeOf(mlir::Value v);

} // namespace ra

#endif // RA_IR_IRUTILS_H
