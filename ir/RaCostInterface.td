//===- RaCostInterface.td - FLOP counts of ra ops --------------*- tablegen -*-===//
//
// Every compute op says how many floating-point operations one evaluation
// costs. `racc stats` sums them; the roofline and fusion reports use them later.
//
//===----------------------------------------------------------------------===//
#ifndef RA_COST_INTERFACE_TD
#define RA_COST_INTERFACE_TD

include "mlir/IR/OpBase.td"

def Ra_CostOpInterface : OpInterface<"CostOpInterface"> {
  let cppNamespace = "::ra";
  let description = [{
    FLOPs of one evaluation of the op, counted as the naive kernel computes
    them: a multiply-add is 2, a transcendental is 1, a comparison is 1.
  }];
  let methods = [
    InterfaceMethod<"FLOPs of one evaluation", "int64_t", "getFlops">,
  ];
}

#endif // RA_COST_INTERFACE_TD
