//===- GradCheck.cpp - derivatives against finite differences -------------===//
#include "check/Checks.h"

#include "ir/RaDialect.h"
#include "ir/analysis/ModelStats.h"
#include "ir/interpreter/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <algorithm>
#include <cmath>
#include <set>

using namespace mlir;

namespace ra::check {

/// Index of the output named `name` of `fn`, or -1.
static int outputIndex(func::FuncOp fn, StringRef name) {
  if (auto names = fn->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr))
    for (auto [i, n] : llvm::enumerate(names))
      if (n.cast<StringAttr>().getValue() == name)
        return i;
  return -1;
}

FailureOr<GradCheckResult> gradCheck(ModuleOp module, const GradCheckOptions &options) {
  auto forward = getForward(module);
  auto grad = module.lookupSymbol<func::FuncOp>("grad");
  if (!forward || !grad)
    return module.emitError("the gradient check needs @forward with a 'loss' output, and @grad");
  int lossIndex = outputIndex(forward, "loss");

  interp::ParamStore params = interp::checkParams(module, options.seed);
  auto inputs = interp::randomInputs(module, "forward", options.seed);

  // Analytic gradients as a float64 implementation computes them; finite
  // differences in extended precision, so that their rounding noise
  // (epsilon * |loss| / step) stays far below the tolerance.
  interp::Interpreter interpreter(module, interp::Precision::F64);
  auto analytic = interpreter.run("grad", inputs, params);
  if (failed(analytic))
    return failure();
  interp::Interpreter extended(module, interp::Precision::Extended);
  auto loss = [&]() -> FailureOr<interp::Real> {
    auto out = extended.run("forward", inputs, params);
    if (failed(out))
      return failure();
    return (*out)[lossIndex].data[0];
  };

  std::vector<GradCheckEntry> entries;
  auto names = grad->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr);
  interp::Rng pick(interp::hashName("samples", options.seed));
  for (auto [i, n] : llvm::enumerate(names)) {
    StringRef out = n.cast<StringAttr>().getValue();
    if (!out.consume_front("grad."))
      continue;
    interp::Tensor &p = params[out.str()];
    const interp::Tensor &g = (*analytic)[i];
    int64_t numel = p.numElements();
    std::set<int64_t> picked;
    if (numel <= options.samplesPerParam)
      for (int64_t k = 0; k < numel; ++k)
        picked.insert(k);
    else
      while ((int)picked.size() < options.samplesPerParam)
        picked.insert(pick.next() % numel);
    for (int64_t k : picked) {
      interp::Real x0 = p.data[k];
      interp::Real h = options.step * std::max<interp::Real>(1, std::abs(x0));
      interp::Real f[4];
      const double offsets[4] = {2, 1, -1, -2};
      for (int s = 0; s < 4; ++s) {
        p.data[k] = x0 + offsets[s] * h;
        auto l = loss();
        if (failed(l))
          return failure();
        f[s] = *l;
      }
      p.data[k] = x0;
      GradCheckEntry e;
      e.param = out.str();
      e.index = k;
      e.analytic = g.data[k];
      e.numeric = double((-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h));
      entries.push_back(e);
    }
  }

  GradCheckResult result;
  double scale = 0;
  for (auto &e : entries)
    scale = std::max({scale, std::abs(e.analytic), std::abs(e.numeric)});
  for (auto &e : entries) {
    double abs = std::abs(e.analytic - e.numeric);
    double denom = std::max({std::abs(e.analytic), std::abs(e.numeric), 1e-6 * scale, 1e-300});
    e.relError = abs / denom;
    result.maxAbsError = std::max(result.maxAbsError, abs);
    if (e.relError >= result.maxRelError) {
      result.maxRelError = e.relError;
      result.worst = e;
    }
  }
  result.checked = entries.size();
  return result;
}

} // namespace ra::check
