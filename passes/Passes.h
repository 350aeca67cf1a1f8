//===- Passes.h - racc's passes and its default pipeline ---------*- C++ -*-===//
#ifndef RA_PASSES_PASSES_H
#define RA_PASSES_PASSES_H

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ra {

std::unique_ptr<mlir::Pass> createCheckUnusedParamsPass();
std::unique_ptr<mlir::Pass> createCheckCausalityPass();
std::unique_ptr<mlir::Pass> createAutodiffPass();
std::unique_ptr<mlir::Pass> createOptimizerPass();
std::unique_ptr<mlir::Pass> createPlanMemoryPass();
std::unique_ptr<mlir::Pass> createFuseAttentionPass();
std::unique_ptr<mlir::Pass> createFuseGatedAttentionPass();
std::unique_ptr<mlir::Pass> createFuseHeadMeanAttentionPass();
std::unique_ptr<mlir::Pass> createDeriveDecodingPass();
/// Pages the per-token caches in blocks of `blockPositions` positions, a
/// pool of `cacheBlocks` (0: the whole window of every sequence), keeping
/// keys, values and queries as `cacheDtype` (f32, f16, bf16).
std::unique_ptr<mlir::Pass> createDeriveDecodingPass(int64_t blockPositions, int64_t cacheBlocks,
                                                     const std::string &cacheDtype);
std::unique_ptr<mlir::Pass> createAbsorbLatentWeightsPass();
std::unique_ptr<mlir::Pass> createFuseLatentProjectionsPass();
std::unique_ptr<mlir::Pass> createFuseCrossEntropyPass();
std::unique_ptr<mlir::Pass> createFuseWeightGradientsPass();
std::unique_ptr<mlir::Pass> createRecomputeActivationsPass();
/// With `apply` false the pass leaves the IR as it is (it keeps its place in
/// the pipeline, so IR dumps and --print-ir-after name the same passes).
std::unique_ptr<mlir::Pass> createRecomputeActivationsPass(bool apply);
std::unique_ptr<mlir::Pass> createFuseElementwisePass();

/// Makes one pass of a pipeline.
using PassFactory = std::function<std::unique_ptr<mlir::Pass>()>;

/// Which fusion passes run: all by default; `noFuse` none; `disabled` names
/// ones to skip (racc compile --disable-pass, --no-fuse).
/// When recompute-activations runs: always, never, or (auto) only when the
/// training step's arena without it would exceed the memory budget. The
/// pass trades a GEMM per layer for memory; where memory is plentiful, the
/// step is faster without it.
enum class Recompute { Auto, Always, Never };

struct PipelineOptions {
  bool noFuse = false;
  std::vector<std::string> disabled;
  /// defaultPipeline leaves the pass out with Never (as --disable-pass),
  /// and with Auto makes it recompute only if `autoRecomputes`, which the
  /// driver decides against `memoryBudgetBytes` before compiling.
  Recompute recompute = Recompute::Auto;
  bool autoRecomputes = true;
  int64_t memoryBudgetBytes = int64_t(4096) << 20;
  // derive-decoding's paging: positions per block, blocks per pool (0: the
  // whole window of every sequence); the caches' element type.
  int64_t blockPositions = 128, cacheBlocks = 0;
  std::string cacheDtype = "f32";
  /// The matmuls' operands: f32, or bf16 (rounded, float32 accumulation);
  /// the driver marks the module with it (ra.matmul_precision) before the
  /// passes run, so the backward pass's matmuls have it too.
  std::string precision = "f32";
};

/// The fusion passes' names, in pipeline order.
std::vector<std::string> fusionPassNames();

/// The passes `racc compile` runs, in order. `racc check --passes` runs them
/// one at a time and compares the functions before and after each.
std::vector<PassFactory> defaultPipeline(const PipelineOptions &options = {});

/// Adds defaultPipeline(options) to `pm`.
void buildDefaultPipeline(mlir::OpPassManager &pm, const PipelineOptions &options = {});

/// Registers every ra pass and the `ra-default-pipeline` with the global
/// registry, for racc-opt.
void registerPasses();

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

} // namespace ra

#endif // RA_PASSES_PASSES_H
