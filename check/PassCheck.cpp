//===- PassCheck.cpp - every pass keeps the function the same -------------===//
#include "check/Checks.h"

#include "ir/RaDialect.h"
#include "ir/interpreter/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

#include <cmath>
#include <map>

using namespace mlir;

namespace ra::check {
namespace {

/// What calling an entry point produces: its outputs and its parameter writes.
struct Evaluation {
  std::vector<interp::Tensor> outputs;
  interp::ParamStore params;
};

/// Inputs for an entry point: @grad and @train_step see @forward's data,
/// and @train_step a learning rate of 1e-3 at step 1.
std::vector<interp::Tensor> inputsFor(ModuleOp module, StringRef fn, uint64_t seed) {
  if (fn != "grad" && fn != "train_step")
    return interp::randomInputs(module, fn, seed);
  auto inputs = interp::randomInputs(module, "forward", seed);
  if (fn == "train_step") {
    inputs.push_back(interp::Tensor::scalar(1e-3));
    inputs.push_back(interp::Tensor::scalar(1));
  }
  return inputs;
}

FailureOr<std::map<std::string, Evaluation>> evaluateAll(ModuleOp module, uint64_t seed) {
  std::map<std::string, Evaluation> results;
  interp::ParamStore initial = interp::checkParams(module, seed);
  interp::Interpreter interpreter(module);
  for (auto fn : module.getOps<func::FuncOp>()) {
    std::string name = fn.getName().str();
    std::vector<interp::Tensor> inputs = inputsFor(module, name, seed);
    Evaluation e;
    e.params = initial;
    auto out = interpreter.run(name, inputs, e.params);
    if (failed(out))
      return failure();
    e.outputs = std::move(*out);
    results[name] = std::move(e);
  }
  return results;
}

double relDiff(const interp::Tensor &a, const interp::Tensor &b) {
  if (a.shape != b.shape)
    return INFINITY;
  double largest = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    if (!std::isnan(a.data[i]) && !std::isnan(b.data[i]))
      largest = std::max({largest, double(std::abs(a.data[i])), double(std::abs(b.data[i]))});
  double worst = 0;
  for (size_t i = 0; i < a.data.size(); ++i) {
    double x = a.data[i], y = b.data[i];
    double d = std::abs(x - y);
    double scale = std::max({std::abs(x), std::abs(y), 1e-6 * largest, 1e-30});
    if (std::isnan(x) != std::isnan(y))
      return INFINITY;
    if (!std::isnan(d))
      worst = std::max(worst, d / scale);
  }
  return worst;
}

double compare(const Evaluation &before, const Evaluation &after) {
  double worst = before.outputs.size() == after.outputs.size() ? 0 : INFINITY;
  for (size_t i = 0; i < std::min(before.outputs.size(), after.outputs.size()); ++i)
    worst = std::max(worst, relDiff(before.outputs[i], after.outputs[i]));
  for (auto &[name, value] : before.params) {
    auto it = after.params.find(name);
    if (it != after.params.end())
      worst = std::max(worst, relDiff(value, it->second));
  }
  return worst;
}

int lossIndex(ModuleOp module, StringRef fn) {
  auto f = module.lookupSymbol<func::FuncOp>(fn);
  if (auto names = f->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr))
    for (auto [i, n] : llvm::enumerate(names))
      if (n.cast<StringAttr>().getValue() == "loss")
        return i;
  return -1;
}

} // namespace

FailureOr<PassCheckResult> passCheck(ModuleOp module, const std::vector<PassFactory> &pipeline,
                                     uint64_t seed, double tolerance) {
  PassCheckResult result;
  auto before = evaluateAll(module, seed);
  if (failed(before))
    return failure();
  for (const PassFactory &make : pipeline) {
    std::unique_ptr<Pass> pass = make();
    std::string name = pass->getArgument().str();
    PassManager pm(module.getContext());
    pm.addPass(std::move(pass));
    if (failed(pm.run(module)))
      return module.emitError() << "pass '" << name << "' failed";
    auto after = evaluateAll(module, seed);
    if (failed(after))
      return failure();
    ++result.checked;
    double worst = 0;
    for (auto &[fn, eval] : *before)
      if (after->count(fn))
        worst = std::max(worst, compare(eval, after->at(fn)));
    // A new @grad or @train_step must compute @forward's loss.
    for (StringRef fn : {"grad", "train_step"})
      if (!before->count(fn.str()) && after->count(fn.str()) && after->count("forward")) {
        int l = lossIndex(module, "forward"), m = lossIndex(module, fn);
        if (l >= 0 && m >= 0)
          worst = std::max(
              worst, relDiff(after->at("forward").outputs[l], after->at(fn.str()).outputs[m]));
      }
    result.maxRelDiff = std::max(result.maxRelDiff, worst);
    if (!(worst <= tolerance))
      result.diverging.push_back(name);
    before = std::move(after);
  }
  return result;
}

} // namespace ra::check
