//===- IRUtils.h - small queries on ra IR every layer needs -------*- C++ -*-===//
#ifndef RA_IR_IRUTILS_H
#define RA_IR_IRUTILS_H

#include "abi/ra_dtype.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <string>
#include <vector>

namespace ra {

/// `FILE:LINE:COL` of the op's own source position, without the call chain
/// (an op expanded from a function reports where the function says it).
std::string sourceLocation(mlir::Operation *op);

/// The static shape of a tensor value.
std::vector<int64_t> shapeOf(mlir::Value v);

/// The element type of a tensor value as entry points take it: i32, f16,
/// bf16, else f32.
ra_dtype::Dtype dtypeOf(mlir::Value v);

/// Whether the matmuls of `op`'s module round their operands to bfloat16
/// (the module's ra.matmul_precision is "bf16": racc compile --precision).
bool matmulRoundsToBf16(mlir::Operation *op);

/// Whether a reduce_sum (`op`) sums, in a bf16 build, an operand of a
/// matmul as that matmul reads it, rounded to bfloat16: the sum over the rows
/// of a 2-d dy that a weight's gradient x^T dy also reads. That is a bias's
/// gradient, which the GEMM's cuBLASLt BGRADA epilogue computes from its own
/// bf16 operand (codegen/GemmEpilogue.cpp); the interpreter and every kernel
/// round it the same way, folded or not.
bool sumRoundsToBf16(mlir::Operation *op);

/// Whether `op` is a view of its input's storage with no kernel: a reshape,
/// or a slice of the leading axis (a contiguous range) of a value computed
/// into the arena (not a parameter or an input, whose buffers the generated
/// code cannot offset).
bool isView(mlir::Operation *op);

/// The value whose storage `v` uses, through views.
mlir::Value storageOf(mlir::Value v);

/// Ops that compute element i of their result from element i of each
/// operand (all of one shape): ElementwiseOpInterface's (the unary and
/// binary math ops, gelu_grad); `fused_elementwise` too when `orFused`.
bool isElementwiseOp(mlir::Operation *op, bool orFused = false);

/// Every op of type Op under `root`, collected before any is rewritten.
template <typename Op> llvm::SmallVector<Op> collectOps(mlir::Operation *root) {
  llvm::SmallVector<Op> ops;
  root->walk([&](Op op) { ops.push_back(op); });
  return ops;
}

} // namespace ra

#endif // RA_IR_IRUTILS_H
