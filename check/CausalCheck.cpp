//===- CausalCheck.cpp - no position sees the future ----------------------===//
//
// Runs @forward twice, with the tokens after position p changed in the
// second run, and compares every intermediate value on its "past part": the
// entries whose sequence coordinates are all <= p. The sequence axes of each
// value are inferred from the token inputs through the ops (a score matrix
// has two). A value with no sequence axis that depends on the data (a mean
// over all positions) must not change at all. The first op whose past part
// changes is where the leak enters.
//
// The loss itself averages over every position, so `ra.cross_entropy` is
// exempt; its per-position terms depend only on logits, which are checked.
//
//===----------------------------------------------------------------------===//
#include "check/Checks.h"

#include "ir/RaDialect.h"
#include "ir/analysis/ModelStats.h"
#include "ir/interpreter/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <set>

using namespace mlir;

namespace ra::check {
namespace {

/// What the check knows of a value: whether it depends on the inputs, and
/// which of its axes run over sequence positions. `tracked` is false where
/// an op moves positions in a way the check does not follow (the value is
/// then not compared).
struct SeqInfo {
  bool data = false;
  bool tracked = true;
  std::set<int64_t> axes;
};

std::vector<int64_t> shapeOf(Value v) {
  auto s = v.getType().cast<ShapedType>().getShape();
  return {s.begin(), s.end()};
}

/// Where the sequence axes of `in` land in a reshape to `out`: an axis maps
/// when the dims before it keep their product and it keeps its size.
std::optional<int64_t> reshapeAxis(const std::vector<int64_t> &in, const std::vector<int64_t> &out,
                                   int64_t axis) {
  int64_t prefix = interp::product(in, 0, axis);
  int64_t acc = 1;
  for (size_t b = 0; b < out.size(); ++b) {
    if (acc == prefix && out[b] == in[axis])
      return b;
    acc *= out[b];
  }
  return std::nullopt;
}

SeqInfo infer(Operation *op, llvm::DenseMap<Value, SeqInfo> &info) {
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
      .Case([&](AttentionOp a) {
        for (int64_t x : axesOf(a.getQ()))
          if (x != 3)
            r.axes.insert(x);
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

/// True when the entries of `a` and `b` whose coordinates on every axis in
/// `axes` are <= p differ.
bool pastDiffers(const interp::Tensor &a, const interp::Tensor &b, const std::set<int64_t> &axes,
                 int64_t p) {
  std::vector<int64_t> coord(a.shape.size(), 0);
  for (size_t flat = 0; flat < a.data.size(); ++flat) {
    bool past = true;
    for (int64_t ax : axes)
      past &= coord[ax] <= p;
    if (past && a.data[flat] != b.data[flat] &&
        !(std::isnan(a.data[flat]) && std::isnan(b.data[flat])))
      return true;
    for (int64_t i = (int64_t)coord.size() - 1; i >= 0; --i) {
      if (++coord[i] < a.shape[i])
        break;
      coord[i] = 0;
    }
  }
  return false;
}

std::string locationOf(Operation *op) {
  Location loc = op->getLoc();
  while (auto cs = loc.dyn_cast<CallSiteLoc>())
    loc = cs.getCallee();
  std::string s;
  llvm::raw_string_ostream os(s);
  if (auto fl = loc.dyn_cast<FileLineColLoc>())
    os << fl.getFilename().getValue() << ":" << fl.getLine() << ":" << fl.getColumn();
  else
    os << loc;
  return os.str();
}

} // namespace

FailureOr<CausalCheckResult> causalCheck(ModuleOp module, uint64_t seed) {
  func::FuncOp forward = getForward(module);
  if (!forward)
    return module.emitError("the causality check needs @forward");
  llvm::DenseMap<Value, SeqInfo> info;
  int64_t seq = 0;
  for (BlockArgument arg : forward.getArguments()) {
    auto shape = shapeOf(arg);
    SeqInfo s;
    s.data = true;
    if (shape.size() >= 2) {
      s.axes.insert(1);
      seq = std::max(seq, shape[1]);
    }
    info[arg] = s;
  }
  if (seq < 2)
    return forward.emitError("the causality check needs inputs of shape [batch, seq, ...]");
  for (Operation &op : forward.getBody().front().without_terminator()) {
    SeqInfo s = infer(&op, info);
    for (Value r : op.getResults())
      info[r] = s;
  }

  CausalCheckResult result;
  interp::ParamStore params = interp::checkParams(module, seed);
  auto inputs = interp::randomInputs(module, "forward", seed);
  interp::Interpreter interpreter(module);
  std::vector<std::pair<Operation *, std::vector<interp::Tensor>>> base;
  interpreter.observer = [&](Operation *op, const std::vector<interp::Tensor> &r) {
    base.push_back({op, r});
  };
  if (failed(interpreter.run("forward", inputs, params)))
    return failure();

  std::set<int64_t> positions{0, seq / 2, seq - 2};
  interp::Rng rng(interp::hashName("causal", seed));
  for (int64_t p : positions) {
    ++result.positionsChecked;
    auto perturbed = inputs;
    for (auto [arg, t] : llvm::zip(forward.getArguments(), perturbed)) {
      if (t.shape.size() < 2)
        continue;
      int64_t range = t.isInteger ? interp::idRange(arg) : 0;
      int64_t inner = interp::product(t.shape, 2, t.shape.size());
      for (int64_t b = 0; b < t.shape[0]; ++b)
        for (int64_t pos = p + 1; pos < t.shape[1]; ++pos)
          for (int64_t i = 0; i < inner; ++i) {
            interp::Real &x = t.data[(b * t.shape[1] + pos) * inner + i];
            if (!t.isInteger)
              x += 1 + rng.normal();
            else if (range > 1) // another id, never the same one
              x = double(((int64_t)x + 1 + (int64_t)(rng.next() % (range - 1))) % range);
          }
    }
    size_t index = 0;
    std::optional<CausalLeak> leak;
    interpreter.observer = [&](Operation *op, const std::vector<interp::Tensor> &r) {
      const auto &[baseOp, baseResults] = base[index++];
      if (leak || baseOp != op)
        return;
      for (auto [value, a, b] : llvm::zip(op->getResults(), baseResults, r)) {
        const SeqInfo &s = info[value];
        if (!s.data || !s.tracked)
          continue;
        if (pastDiffers(a, b, s.axes, p)) {
          leak = CausalLeak{op->getName().getStringRef().str(), locationOf(op), p};
          return;
        }
      }
    };
    interp::ParamStore fresh = params;
    if (failed(interpreter.run("forward", perturbed, fresh)))
      return failure();
    if (leak) {
      result.ok = false;
      result.leaks.push_back(*leak);
    }
  }
  return result;
}

} // namespace ra::check
