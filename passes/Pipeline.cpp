//===- Pipeline.cpp - the passes racc compile runs ------------------------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace ra {
#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"
} // namespace ra

std::vector<ra::PassFactory> ra::defaultPipeline() {
  return {
      // Folds the layout ops and splat broadcasts the front end leaves; drops dead ops.
      [] { return mlir::createCanonicalizerPass(); },
      [] { return mlir::createCSEPass(); },
      [] { return createCheckUnusedParamsPass(); },
      [] { return createCheckCausalityPass(); },
      [] { return createAutodiffPass(); },
      [] { return createOptimizerPass(); },
      // The backward pass repeats forward values and layout ops: fold them again.
      [] { return mlir::createCanonicalizerPass(); },
      [] { return mlir::createCSEPass(); },
      // Last: the code generators read the offsets it writes.
      [] { return createPlanMemoryPass(); },
  };
}

void ra::buildDefaultPipeline(mlir::OpPassManager &pm) {
  for (const PassFactory &make : defaultPipeline())
    pm.addPass(make());
}

void ra::registerPasses() {
  registerRaPasses();
  mlir::PassPipelineRegistration<>("ra-default-pipeline", "the passes racc compile runs",
                                   [](mlir::OpPassManager &pm) { buildDefaultPipeline(pm); });
}
