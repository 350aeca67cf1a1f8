//===- PositionMixing.cpp - ops that combine sequence positions -----------===//
#include "ir/analysis/PositionMixing.h"
#include "ir/RaDialect.h"
#include "ir/analysis/SequenceAxes.h"

using namespace mlir;

namespace ra {

std::vector<PositionMixing> findPositionMixing(func::FuncOp forward) {
  std::vector<PositionMixing> found;
  auto info = inferSequenceAxes(forward);
  auto feedsModel = opsFeedingModelOutputs(forward);
  auto mixes = [&](Value input, int64_t axis) {
    const SeqInfo &s = info[input];
    return s.data && s.tracked && s.axes.count(axis);
  };
  for (Operation &op : forward.getBody().front().without_terminator()) {
    if (!feedsModel.contains(&op))
      continue;
    auto add = [&](const std::string &reason, bool leak) { found.push_back({&op, reason, leak}); };
    if (isa<ReduceSumOp, ReduceMeanOp, ReduceMaxOp>(op)) {
      // The three reductions share their operands: the input and `axis`.
      if (mixes(op.getOperand(0), op.getAttrOfType<IntegerAttr>("axis").getInt()))
        add("'" + op.getName().getStringRef().str() +
                "' over the sequence axis mixes every position",
            true);
    } else if (auto a = dyn_cast<AttentionOpInterface>(op);
               a && !a.isGradient() && !a.isCausal() && mixes(a.getQ(), 2))
      add("attention without the causal mask lets every query read every key", true);
    else if (auto m = dyn_cast<MatmulOp>(op)) {
      int64_t rl = m.getLhs().getType().cast<ShapedType>().getRank();
      int64_t rr = m.getRhs().getType().cast<ShapedType>().getRank();
      if (mixes(m.getLhs(), m.getTransposeLhs() ? rl - 2 : rl - 1) ||
          mixes(m.getRhs(), m.getTransposeRhs() ? rr - 1 : rr - 2))
        add("'ra.matmul' contracts over the sequence axis (whether causally is not known)", false);
    }
    // Cross-entropy reduces positions into the loss, which decoding never needs.
    if (!isa<CrossEntropyOp>(op))
      for (Value r : op.getResults())
        if (info[r].data && !info[r].tracked) {
          bool fromInput = llvm::any_of(op.getOperands(),
                                        [&](Value v) { return info[v].data && !info[v].tracked; });
          if (!fromInput) // named once, where positions are lost
            add("'" + op.getName().getStringRef().str() +
                    "' moves positions in a way the analysis cannot follow",
                false);
          break;
        }
  }
  return found;
}

} // namespace ra
