//===- RaVjpInterface.td - derivatives of ra ops ---------------*- tablegen -*-===//
//
// Each differentiable op brings its own vector-Jacobian product, so a new op
// brings its derivative and the autodiff pass never grows a switch.
//
//===----------------------------------------------------------------------===//
#ifndef RA_VJP_INTERFACE_TD
#define RA_VJP_INTERFACE_TD

include "mlir/IR/OpBase.td"

def Ra_VjpOpInterface : OpInterface<"VjpOpInterface"> {
  let cppNamespace = "::ra";
  let description = [{
    Given the gradient of the loss with respect to each result (null for a
    result the loss does not depend on), emit ops at the builder's insertion
    point computing the gradient with respect to each operand, and append
    one value per operand to `operandGrads` (null where no gradient flows:
    integer operands, or operands the op is constant in).
  }];
  let methods = [
    InterfaceMethod<"Builds the vector-Jacobian product", "::mlir::LogicalResult", "buildVjp",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

#endif // RA_VJP_INTERFACE_TD
