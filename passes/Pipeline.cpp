//===- Pipeline.cpp - the passes racc compile runs ------------------------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace ra {
#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"
} // namespace ra

void ra::buildDefaultPipeline(mlir::OpPassManager &pm) {
  // Folds layout ops and splat broadcasts the front end leaves, removes dead ops.
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  pm.addPass(createCheckUnusedParamsPass());
}

void ra::registerPasses() {
  registerRaPasses();
  mlir::PassPipelineRegistration<>("ra-default-pipeline", "the passes racc compile runs",
                                   [](mlir::OpPassManager &pm) { buildDefaultPipeline(pm); });
}
