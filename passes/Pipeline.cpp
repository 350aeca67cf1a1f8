//===- Pipeline.cpp - the passes racc compile runs ------------------------===//
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace ra {
#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"
} // namespace ra

std::vector<std::string> ra::fusionPassNames() {
  return {"absorb-latent-weights", "fuse-latent-projections",  "fuse-attention",
          "fuse-gated-attention",  "fuse-head-mean-attention", "fuse-cross-entropy",
          "fuse-weight-gradients", "recompute-activations",    "fuse-elementwise"};
}

std::vector<ra::PassFactory> ra::defaultPipeline(const PipelineOptions &options) {
  std::vector<PassFactory> fusion;
  auto add = [&](const char *name, PassFactory make) {
    if (!options.noFuse && !llvm::is_contained(options.disabled, name))
      fusion.push_back(make);
  };
  add("absorb-latent-weights", [] { return createAbsorbLatentWeightsPass(); });
  add("fuse-latent-projections", [] { return createFuseLatentProjectionsPass(); });
  add("fuse-attention", [] { return createFuseAttentionPass(); });
  add("fuse-gated-attention", [] { return createFuseGatedAttentionPass(); });
  add("fuse-head-mean-attention", [] { return createFuseHeadMeanAttentionPass(); });
  add("fuse-cross-entropy", [] { return createFuseCrossEntropyPass(); });
  add("fuse-weight-gradients", [] { return createFuseWeightGradientsPass(); });
  // Last of these: it clones forward ops into the backward pass, which CSE
  // would merge back.
  if (options.recompute != Recompute::Never) {
    bool apply = options.recompute == Recompute::Always || options.autoRecomputes;
    add("recompute-activations", [apply] { return createRecomputeActivationsPass(apply); });
  }
  add("fuse-elementwise", [] { return createFuseElementwisePass(); });
  std::vector<PassFactory> pipeline = {
      // Folds the layout ops and splat broadcasts the front end leaves; drops dead ops.
      [] { return mlir::createCanonicalizerPass(); },
      [] { return mlir::createCSEPass(); },
      [] { return createCheckUnusedParamsPass(); },
      [] { return createCheckCausalityPass(); },
      // From the clean @forward, before training's entry points exist.
      [options] {
        return createDeriveDecodingPass(options.blockPositions, options.cacheBlocks,
                                        options.cacheDtype);
      },
      [] { return createAutodiffPass(); },
      [] { return createOptimizerPass(); },
      // The backward pass repeats forward values and layout ops: fold them again.
      [] { return mlir::createCanonicalizerPass(); },
      [] { return mlir::createCSEPass(); },
  };
  pipeline.insert(pipeline.end(), fusion.begin(), fusion.end());
  // Last: the code generators read the offsets it writes.
  pipeline.push_back([] { return createPlanMemoryPass(); });
  return pipeline;
}

void ra::buildDefaultPipeline(mlir::OpPassManager &pm, const PipelineOptions &options) {
  for (const PassFactory &make : defaultPipeline(options))
    pm.addPass(make());
}

void ra::registerPasses() {
  registerRaPasses();
  mlir::PassPipelineRegistration<>("ra-default-pipeline", "the passes racc compile runs",
                                   [](mlir::OpPassManager &pm) { buildDefaultPipeline(pm); });
}
