//===- Passes.h - racc's passes and its default pipeline ---------*- C++ -*-===//
#ifndef RA_PASSES_PASSES_H
#define RA_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <functional>
#include <memory>
#include <vector>

namespace ra {

std::unique_ptr<mlir::Pass> createCheckUnusedParamsPass();
std::unique_ptr<mlir::Pass> createCheckCausalityPass();
std::unique_ptr<mlir::Pass> createAutodiffPass();
std::unique_ptr<mlir::Pass> createOptimizerPass();
std::unique_ptr<mlir::Pass> createPlanMemoryPass();

/// Makes one pass of a pipeline.
using PassFactory = std::function<std::unique_ptr<mlir::Pass>()>;

/// The passes `racc compile` runs, in order. `racc check --passes` runs them
/// one at a time and compares the functions before and after each.
std::vector<PassFactory> defaultPipeline();

/// Adds defaultPipeline() to `pm`.
void buildDefaultPipeline(mlir::OpPassManager &pm);

/// Registers every ra pass and the `ra-default-pipeline` with the global
/// registry, for racc-opt.
void registerPasses();

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

} // namespace ra

#endif // RA_PASSES_PASSES_H
