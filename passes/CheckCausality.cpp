//===- CheckCausality.cpp - warn about ops that see the future -------------===//
#include "ir/IRUtils.h"
#include "ir/RaDialect.h"
#include "ir/analysis/ModelStats.h"
#include "ir/analysis/SequenceAxes.h"
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
    auto info = ra::inferSequenceAxes(forward);
    auto feedsModel = ra::opsFeedingModelOutputs(forward);
    llvm::StringSet<> warned;
    auto warn = [&](Operation *op, const Twine &what) {
      if (warned.insert(ra::sourceLocation(op)).second)
        op->emitWarning() << what
                          << ": a position sees later tokens (a causality leak; `racc check "
                             "--causal` runs the model to confirm)";
    };
    forward.walk([&](Operation *op) {
      if (!feedsModel.contains(op))
        return;
      auto mixes = [&](Value input, int64_t axis) {
        const ra::SeqInfo &s = info[input];
        return s.data && s.tracked && s.axes.count(axis);
      };
      if (auto r = dyn_cast<ra::ReduceSumOp>(op); r && mixes(r.getInput(), r.getAxis()))
        warn(op, "'ra.reduce_sum' over the sequence axis mixes every position");
      if (auto r = dyn_cast<ra::ReduceMeanOp>(op); r && mixes(r.getInput(), r.getAxis()))
        warn(op, "'ra.reduce_mean' over the sequence axis mixes every position");
      if (auto r = dyn_cast<ra::ReduceMaxOp>(op); r && mixes(r.getInput(), r.getAxis()))
        warn(op, "'ra.reduce_max' over the sequence axis mixes every position");
      if (auto a = dyn_cast<ra::AttentionOpInterface>(op);
          a && !a.isGradient() && !a.isCausal() && mixes(a.getQ(), 2))
        warn(op, "attention without the causal mask lets every query read every key");
    });
  }
};

} // namespace

std::unique_ptr<Pass> ra::createCheckCausalityPass() { return std::make_unique<CheckCausality>(); }
