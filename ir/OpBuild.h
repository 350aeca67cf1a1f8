//===- OpBuild.h - creating ra ops generically --------------------*- C++ -*-===//
//
// One way to create an op from operands and attributes with its result types
// inferred, shared by the front end and the passes that emit ops (autodiff,
// optimizer), plus the attribute helpers they all need.
//
//===----------------------------------------------------------------------===//
#ifndef RA_IR_OPBUILD_H
#define RA_IR_OPBUILD_H

#include "ir/RaDialect.h"

#include "mlir/IR/Builders.h"

namespace ra {

/// The result types of an `OpT` with these operands and attributes: inferred
/// when the op implements InferTypeOpInterface (errors reported at `loc`),
/// else the first operand's type (elementwise ops).
template <class OpT>
mlir::LogicalResult inferResultTypes(mlir::MLIRContext *ctx, std::optional<mlir::Location> loc,
                                     mlir::ValueRange operands,
                                     llvm::ArrayRef<mlir::NamedAttribute> attrs,
                                     llvm::SmallVectorImpl<mlir::Type> &types) {
  if constexpr (OpT::template hasTrait<mlir::InferTypeOpInterface::Trait>()) {
    return OpT::inferReturnTypes(ctx, loc, operands, mlir::DictionaryAttr::get(ctx, attrs), {},
                                 types);
  } else {
    types.push_back(operands[0].getType());
    return mlir::success();
  }
}

/// Creates an `OpT`; `types` empty means infer them. Null after an error.
template <class OpT>
mlir::Operation *buildOp(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange operands,
                         llvm::ArrayRef<mlir::NamedAttribute> attrs = {},
                         mlir::TypeRange types = {}) {
  llvm::SmallVector<mlir::Type> resultTypes(types.begin(), types.end());
  if (resultTypes.empty() &&
      mlir::failed(inferResultTypes<OpT>(b.getContext(), loc, operands, attrs, resultTypes)))
    return nullptr;
  mlir::OperationState state(loc, OpT::getOperationName());
  state.addOperands(operands);
  state.addAttributes(attrs);
  state.addTypes(resultTypes);
  return b.create(state);
}

/// Single-result shorthand.
template <class OpT>
mlir::Value build(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange operands,
                  llvm::ArrayRef<mlir::NamedAttribute> attrs = {}, mlir::Type type = {}) {
  mlir::Operation *op =
      buildOp<OpT>(b, loc, operands, attrs, type ? mlir::TypeRange(type) : mlir::TypeRange());
  return op ? op->getResult(0) : mlir::Value();
}

inline mlir::NamedAttribute i64Attr(mlir::MLIRContext *ctx, llvm::StringRef name, int64_t v) {
  return {mlir::StringAttr::get(ctx, name),
          mlir::IntegerAttr::get(mlir::IntegerType::get(ctx, 64), v)};
}

inline mlir::NamedAttribute f64Attr(mlir::MLIRContext *ctx, llvm::StringRef name, double v) {
  return {mlir::StringAttr::get(ctx, name), mlir::FloatAttr::get(mlir::Float64Type::get(ctx), v)};
}

inline mlir::NamedAttribute unitAttr(mlir::MLIRContext *ctx, llvm::StringRef name) {
  return {mlir::StringAttr::get(ctx, name), mlir::UnitAttr::get(ctx)};
}

inline mlir::NamedAttribute permAttr(mlir::MLIRContext *ctx, llvm::ArrayRef<int64_t> perm) {
  return {mlir::StringAttr::get(ctx, "permutation"), mlir::DenseI64ArrayAttr::get(ctx, perm)};
}

/// A tensor of `type` filled with `value`.
inline mlir::Value buildConstant(mlir::OpBuilder &b, mlir::Location loc, double value,
                                 mlir::Type type) {
  return build<ConstantOp>(b, loc, {}, {f64Attr(b.getContext(), "value", value)}, type);
}

} // namespace ra

#endif // RA_IR_OPBUILD_H
