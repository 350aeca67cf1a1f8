//===- CheckCausality.cpp - warn about ops that see the future -------------===//
#include "ir/IRUtils.h"
#include "ir/RaDialect.h"
#include "ir/analysis/ModelStats.h"
#include "ir/analysis/PositionMixing.h"
#include "passes/Passes.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/raw_ostream.h"

namespace ra {
#define GEN_PASS_DEF_CHECKCAUSALITY
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {
struct CheckCausality : ra::impl::CheckCausalityBase<CheckCausality> {
  void runOnOperation() override {
    func::FuncOp forward = ra::getForward(getOperation());
    if (!forward)
      return;
    llvm::StringSet<> warned;
    for (const ra::PositionMixing &m : ra::findPositionMixing(forward))
      if (m.leak && warned.insert(ra::sourceLocation(m.op)).second)
        m.op->emitWarning() << m.reason
                            << ": a position sees later tokens (a causality leak; `racc check "
                               "--causal` runs the model to confirm)";
  }
};

} // namespace

std::unique_ptr<Pass> ra::createCheckCausalityPass() { return std::make_unique<CheckCausality>(); }
