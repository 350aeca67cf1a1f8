//===- RaElementwiseInterface.td - ops of one element at a time -*- tablegen -*-===//
//
// An elementwise op computes element i of its result from element i of each
// operand (all of one shape). It declares, with its definition in RaOps.td,
// both what it computes (`evaluate`, the interpreter's semantics) and the
// function of the kernels' ra_math (codegen/ra_elementwise.h) that computes
// it, so the interpreter, kernel formation and elementwise fusion find it
// without a list of their own.
//
//===----------------------------------------------------------------------===//
#ifndef RA_ELEMENTWISE_INTERFACE_TD
#define RA_ELEMENTWISE_INTERFACE_TD

include "mlir/IR/OpBase.td"

def Ra_ElementwiseOpInterface : OpInterface<"ElementwiseOpInterface"> {
  let cppNamespace = "::ra";
  let methods = [
    StaticInterfaceMethod<"the kernels' function: ra_math::Unary or ra_math::Binary's NAME",
                          "::llvm::StringRef", "getKernelFunction", (ins),
                          [{ return ConcreteOp::kKernelFunction; }]>,
    InterfaceMethod<"the result element from the operands' elements, in extended precision",
                    "long double", "evaluate", (ins "::llvm::ArrayRef<long double>":$elements),
                    [{ return ConcreteOp::evaluateElement(elements); }]>,
  ];
  let extraClassDeclaration = [{
    /// Whether its kernel function is ra_math::Binary's (else Unary's).
    bool isBinary() { return (*this)->getNumOperands() == 2; }
  }];
}

#endif // RA_ELEMENTWISE_INTERFACE_TD
