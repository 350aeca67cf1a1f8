//===- CheckUnusedParams.cpp - warn about parameters that miss the loss ---===//
#include "ir/analysis/ModelStats.h"
#include "passes/Passes.h"

namespace ra {
#define GEN_PASS_DEF_CHECKUNUSEDPARAMS
#include "passes/Passes.h.inc"
} // namespace ra

namespace {
struct CheckUnusedParams : ra::impl::CheckUnusedParamsBase<CheckUnusedParams> {
  void runOnOperation() override {
    for (ra::ParamOp p : ra::findUnusedParams(getOperation())) {
      p.emitWarning() << "parameter '" << p.getSymName()
                      << "' cannot affect the loss; it would never train";
      p->setAttr(ra::RaDialect::kUnusedAttr, mlir::UnitAttr::get(&getContext()));
    }
    getOperation()->setAttr(ra::RaDialect::kUnusedCheckedAttr, mlir::UnitAttr::get(&getContext()));
  }
};
} // namespace

std::unique_ptr<mlir::Pass> ra::createCheckUnusedParamsPass() {
  return std::make_unique<CheckUnusedParams>();
}
