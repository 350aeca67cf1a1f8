//===- Patterns.h - running a pass's rewrite patterns -------------*- C++ -*-===//
//
// The single-root fusions are OpRewritePatterns applied by MLIR's greedy
// driver to each function of the module. The passes stay anchored on the
// module (so `--print-ir-after`, `--dump-ir-dir` and `racc check --passes`
// see one module per pass, and the stats capture reads the whole model);
// the driver visits ops top-down, so a forward op is rewritten before the
// backward ops that look for it.
//
//===----------------------------------------------------------------------===//
#ifndef RA_PASSES_PATTERNS_H
#define RA_PASSES_PATTERNS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace ra {

/// Applies `patterns` to every function of `module` until none applies.
inline mlir::LogicalResult applyInEachFunction(mlir::ModuleOp module,
                                               const mlir::FrozenRewritePatternSet &patterns) {
  mlir::GreedyRewriteConfig config;
  config.useTopDownTraversal = true;
  config.enableRegionSimplification = false;
  for (auto fn : module.getOps<mlir::func::FuncOp>())
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(fn, patterns, config)))
      return fn.emitError("rewrite patterns did not converge");
  return mlir::success();
}

/// The same with the patterns given as types.
template <typename... Patterns> mlir::LogicalResult applyInEachFunction(mlir::ModuleOp module) {
  mlir::RewritePatternSet patterns(module.getContext());
  patterns.add<Patterns...>(module.getContext());
  return applyInEachFunction(module, mlir::FrozenRewritePatternSet(std::move(patterns)));
}

} // namespace ra

#endif // RA_PASSES_PATTERNS_H
