//===- SequenceAxes.cpp - which axes of each value run over positions -----===//
#include "ir/analysis/SequenceAxes.h"

#include "ir/IRUtils.h"
#include "ir/RaDialect.h"

#include "llvm/ADT/TypeSwitch.h"

#include <functional>
#include <numeric>

using namespace mlir;

namespace ra {
namespace {

/// Where the sequence axes of `in` land in a reshape to `out`: an axis maps
/// when the dims before it keep their product and it keeps its size.
std::optional<int64_t> reshapeAxis(const std::vector<int64_t> &in, const std::vector<int64_t> &out,
                                   int64_t axis) {
  int64_t prefix =
      std::accumulate(in.begin(), in.begin() + axis, int64_t(1), std::multiplies<int64_t>());
  int64_t acc = 1;
  for (size_t b = 0; b < out.size(); ++b) {
    if (acc == prefix && out[b] == in[axis])
      return b;
    acc *= out[b];
  }
  return std::nullopt;
}

SeqInfo inferOne(Operation *op, llvm::DenseMap<Value, SeqInfo> &info) {
  SeqInfo r;
  for (Value v : op->getOperands()) {
    const SeqInfo &o = info[v];
    r.data |= o.data;
    if (o.data)
      r.tracked &= o.tracked;
  }
  if (!r.data || !r.tracked)
    return r;
  auto axesOf = [&](Value v) { return info[v].axes; };
  int64_t rank = op->getNumResults() ? shapeOf(op->getResult(0)).size() : 0;
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](BroadcastOp b) {
        int64_t shift = rank - (int64_t)shapeOf(b.getInput()).size();
        for (int64_t a : axesOf(b.getInput()))
          r.axes.insert(a + shift);
      })
      .Case([&](EmbeddingOp e) { r.axes = axesOf(e.getIndices()); })
      .Case([&](MatmulOp m) {
        int64_t rl = shapeOf(m.getLhs()).size(), rr = shapeOf(m.getRhs()).size();
        int64_t mAxis = m.getTransposeLhs() ? rl - 1 : rl - 2;
        int64_t nAxis = m.getTransposeRhs() ? rr - 2 : rr - 1;
        for (int64_t a : axesOf(m.getLhs())) {
          if (a < rl - 2)
            r.axes.insert(a + rank - rl);
          else if (a == mAxis)
            r.axes.insert(rank - 2);
        }
        for (int64_t a : axesOf(m.getRhs())) {
          if (a < rr - 2)
            r.axes.insert(a + rank - rr);
          else if (a == nAxis)
            r.axes.insert(rank - 1);
        }
      })
      .Case<ReduceSumOp, ReduceMeanOp, ReduceMaxOp>([&](auto red) {
        int64_t axis = red.getAxis();
        for (int64_t a : axesOf(red.getInput()))
          if (a != axis)
            r.axes.insert(a > axis && !red.getKeepdim() ? a - 1 : a);
      })
      .Case([&](ReshapeOp re) {
        for (int64_t a : axesOf(re.getInput())) {
          auto b = reshapeAxis(shapeOf(re.getInput()), shapeOf(re.getResult()), a);
          if (!b)
            r.tracked = false;
          else
            r.axes.insert(*b);
        }
      })
      .Case([&](TransposeOp t) {
        auto in = axesOf(t.getInput());
        for (auto [i, p] : llvm::enumerate(t.getPermutation()))
          if (in.count(p))
            r.axes.insert(i);
      })
      .Case([&](AttentionOpInterface a) {
        // The results run over the queries' positions: [B, H, Tq, .], or
        // [B, Tq, .] averaged over heads.
        bool headMean = rank == 3;
        for (int64_t x : axesOf(a.getQ()))
          if (x != 3 && !(headMean && x == 1))
            r.axes.insert(headMean && x > 1 ? x - 1 : x);
      })
      .Case([&](CrossEntropyOp) { r.tracked = false; })
      .Case([&](ConcatOp c) {
        for (Value v : c.getInputs())
          for (int64_t a : axesOf(v))
            r.axes.insert(a);
      })
      .Default([&](Operation *o) {
        // Elementwise, layernorm, softmax, causal_mean, slice: axes stay.
        for (Value v : o->getOperands())
          if (shapeOf(v).size() == (size_t)rank)
            for (int64_t a : axesOf(v))
              r.axes.insert(a);
      });
  return r;
}

} // namespace

llvm::DenseMap<Value, SeqInfo> inferSequenceAxes(func::FuncOp forward) {
  llvm::DenseMap<Value, SeqInfo> info;
  for (BlockArgument arg : forward.getArguments()) {
    SeqInfo s;
    s.data = true;
    if (shapeOf(arg).size() >= 2)
      s.axes.insert(1);
    info[arg] = s;
  }
  for (Operation &op : forward.getBody().front().without_terminator()) {
    SeqInfo s = inferOne(&op, info);
    for (Value r : op.getResults())
      info[r] = s;
  }
  return info;
}

llvm::DenseSet<Operation *> opsFeedingModelOutputs(func::FuncOp forward) {
  llvm::DenseSet<Operation *> reached;
  auto ret = cast<func::ReturnOp>(forward.getBody().front().getTerminator());
  auto names = forward->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr);
  SmallVector<Value> work;
  for (auto [i, v] : llvm::enumerate(ret.getOperands()))
    if (!names || !names[i].cast<StringAttr>().getValue().starts_with("report."))
      work.push_back(v);
  while (!work.empty()) {
    Operation *def = work.pop_back_val().getDefiningOp();
    if (def && reached.insert(def).second)
      work.append(def->operand_begin(), def->operand_end());
  }
  return reached;
}

} // namespace ra
