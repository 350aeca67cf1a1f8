//===- Passes.h - racc's passes and its default pipeline ---------*- C++ -*-===//
#ifndef RA_PASSES_PASSES_H
#define RA_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <memory>

namespace ra {

std::unique_ptr<mlir::Pass> createCheckUnusedParamsPass();

/// The passes `racc compile` runs, in order. Later stages (autodiff,
/// optimizer, fusion, kernel formation) append here.
void buildDefaultPipeline(mlir::OpPassManager &pm);

/// Registers every ra pass and the `ra-default-pipeline` with the global
/// registry, for racc-opt.
void registerPasses();

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

} // namespace ra

#endif // RA_PASSES_PASSES_H
