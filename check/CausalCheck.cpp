//===- CausalCheck.cpp - no position sees the future ----------------------===//
//
// Runs @forward twice, with the tokens after position p changed in the
// second run, and compares every intermediate value on its "past part": the
// entries whose sequence coordinates are all <= p. The sequence axes of each
// value come from ir/analysis/SequenceAxes (a score matrix has two). A value with no sequence axis
// that depends on the data (a mean over all positions) must not change at all. The first op whose
// past part changes is where the leak enters.
//
// The loss itself averages over every position, so `ra.cross_entropy` is
// exempt; its per-position terms depend only on logits, which are checked.
//
//===----------------------------------------------------------------------===//
#include "check/Checks.h"

#include "ir/IRUtils.h"
#include "ir/RaDialect.h"
#include "ir/analysis/ModelStats.h"
#include "ir/analysis/SequenceAxes.h"
#include "ir/interpreter/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <set>

using namespace mlir;

namespace ra::check {
namespace {

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

} // namespace

FailureOr<CausalCheckResult> causalCheck(ModuleOp module, uint64_t seed) {
  func::FuncOp forward = getForward(module);
  if (!forward)
    return module.emitError("the causality check needs @forward");
  int64_t seq = 0;
  for (BlockArgument arg : forward.getArguments())
    if (shapeOf(arg).size() >= 2)
      seq = std::max(seq, shapeOf(arg)[1]);
  if (seq < 2) {
    // Point at the model's first input, the line a user would change.
    Location at = forward.getNumArguments() ? forward.getArgument(0).getLoc() : forward.getLoc();
    return emitError(at, "the causality check needs an input of shape [batch, seq, ...] with seq "
                         ">= 2");
  }
  llvm::DenseMap<Value, SeqInfo> info = inferSequenceAxes(forward);
  auto feedsModel = opsFeedingModelOutputs(forward);

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
      if (leak || baseOp != op || !feedsModel.contains(op))
        return;
      for (auto [value, a, b] : llvm::zip(op->getResults(), baseResults, r)) {
        const SeqInfo &s = info[value];
        if (!s.data || !s.tracked)
          continue;
        if (pastDiffers(a, b, s.axes, p)) {
          leak = CausalLeak{op->getName().getStringRef().str(), sourceLocation(op), p};
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
