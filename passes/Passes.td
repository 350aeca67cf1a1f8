//===- Passes.td - racc's passes -------------------------------*- tablegen -*-===//
#ifndef RA_PASSES_TD
#define RA_PASSES_TD

include "mlir/Pass/PassBase.td"

def CheckUnusedParams : Pass<"ra-check-unused-params", "mlir::ModuleOp"> {
  let summary = "Warn about parameters that cannot affect the loss";
  let description = [{
    A parameter no path from the `loss` output reaches gets no gradient: it
    would silently stay at its initial value. This pass warns at the
    parameter's declaration and marks it `ra.unused`. models.md requires
    every shipped model to declare none.

    Before:  ra.param @h.11.gate.w_gp : tensor<3072x64xf32> {...}   (never read)
    After:   ra.param @h.11.gate.w_gp : tensor<3072x64xf32> {..., ra.unused}
  }];
  let constructor = "ra::createCheckUnusedParamsPass()";
}

#endif // RA_PASSES_TD
