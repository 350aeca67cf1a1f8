//===- PassCheck.cpp - every pass keeps the function the same -------------===//
//
// Each pass runs on its own; every entry point is evaluated before and after
// it on the same random inputs and parameters. An element may differ by
//
//   allowed = max(tolerance * scale, kNoiseMargin * (noise_before + noise_after))
//
// where `scale` is the element's magnitude (see Checks.h) and noise_X is the
// largest deviation of that element over kNoiseSamples runs of the module in
// Monte Carlo arithmetic at float64's unit roundoff: the interpreter rounds
// every op's results to float64, so a rewrite that fuses or reorders ops
// rounds at other places, and an element whose value is a cancellation of
// large terms moves by far more than `tolerance` of itself. The noise runs
// cost two evaluations per module, and happen only for a pass whose
// difference exceeds the plain tolerance. A real defect moves elements by
// orders of magnitude more than a thousand times rounding noise.
//
//===----------------------------------------------------------------------===//
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

constexpr double kUnitRoundoff = 0x1.0p-53;
constexpr int kNoiseSamples = 2;
constexpr double kNoiseMargin = 1000;

/// What calling an entry point produces: its outputs and its parameter writes.
struct Evaluation {
  std::vector<interp::Tensor> outputs;
  interp::ParamStore params;
};
using Evaluations = std::map<std::string, Evaluation>;

/// Inputs for an entry point: @grad and @train_step see @forward's data,
/// @train_step and @apply (random gradients) a learning rate of 1e-3 at step 1.
std::vector<interp::Tensor> inputsFor(ModuleOp module, StringRef fn, uint64_t seed) {
  if (fn == "apply") {
    auto inputs = interp::randomInputs(module, fn, seed);
    inputs[inputs.size() - 2] = interp::Tensor::scalar(1e-3);
    inputs[inputs.size() - 1] = interp::Tensor::scalar(1);
    return inputs;
  }
  if (fn != "grad" && fn != "train_step")
    return interp::randomInputs(module, fn, seed);
  auto inputs = interp::randomInputs(module, "forward", seed);
  if (fn == "train_step") {
    inputs.push_back(interp::Tensor::scalar(1e-3));
    inputs.push_back(interp::Tensor::scalar(1));
  }
  return inputs;
}

/// Every entry point of `module`; with noiseSample > 0, in Monte Carlo
/// arithmetic with that sample's draws.
FailureOr<Evaluations> evaluateAll(ModuleOp module, uint64_t seed, int noiseSample = 0) {
  Evaluations results;
  interp::ParamStore initial = interp::checkParams(module, seed);
  interp::Interpreter interpreter(module);
  if (noiseSample > 0)
    interpreter.setRoundingNoise(kUnitRoundoff,
                                 interp::hashName("rounding-noise", seed + noiseSample));
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

/// The Monte Carlo samples of one module, and how far they stray from its
/// plain evaluation.
struct Noise {
  std::vector<Evaluations> samples;
};

FailureOr<Noise> measureNoise(ModuleOp module, uint64_t seed) {
  Noise noise;
  for (int s = 1; s <= kNoiseSamples; ++s) {
    auto e = evaluateAll(module, seed, s);
    if (failed(e))
      return failure();
    noise.samples.push_back(std::move(*e));
  }
  return noise;
}

/// Picks one tensor (an output by index, or a parameter write by name) out
/// of an evaluation; null where it has none.
struct TensorRef {
  std::string fn;
  int output = -1; // or
  std::string param;
  const interp::Tensor *in(const Evaluations &e) const {
    auto it = e.find(fn);
    if (it == e.end())
      return nullptr;
    if (output >= 0)
      return size_t(output) < it->second.outputs.size() ? &it->second.outputs[output] : nullptr;
    auto p = it->second.params.find(param);
    return p == it->second.params.end() ? nullptr : &p->second;
  }
};

/// The largest deviation of element i over the samples (0 without noise).
double deviation(const Noise *noise, const TensorRef &ref, const interp::Tensor &plain, size_t i) {
  double worst = 0;
  if (!noise)
    return 0;
  for (const Evaluations &sample : noise->samples)
    if (const interp::Tensor *t = ref.in(sample); t && t->shape == plain.shape)
      worst = std::max(worst, double(std::abs(t->data[i] - plain.data[i])));
  return worst;
}

/// The worst element of a comparison, by how much of its allowance it uses;
/// `used` is INFINITY for a shape or NaN mismatch.
struct ElementDifference {
  double used = 0, rel = 0, allowedRel = 0;
  int64_t index = 0;
  double before = 0, after = 0;
  std::vector<int64_t> shape;
};

/// Of one tensor: the element nearest its allowance, and the element that
/// differs most relative to its scale.
struct TensorDifference {
  ElementDifference nearest, largest;
};

TensorDifference compareTensors(const interp::Tensor &a, const interp::Tensor &b, double tolerance,
                                const TensorRef &refA, const Noise *noiseA, const TensorRef &refB,
                                const Noise *noiseB) {
  if (a.shape != b.shape) {
    ElementDifference shape{INFINITY, INFINITY, 0, -1, 0, 0, a.shape};
    return {shape, shape};
  }
  double largest = 0;
  for (size_t i = 0; i < a.data.size(); ++i)
    if (!std::isnan(a.data[i]) && !std::isnan(b.data[i]))
      largest = std::max({largest, double(std::abs(a.data[i])), double(std::abs(b.data[i]))});
  TensorDifference worst;
  for (size_t i = 0; i < a.data.size(); ++i) {
    double x = a.data[i], y = b.data[i];
    if (std::isnan(x) != std::isnan(y)) {
      ElementDifference nan{INFINITY, INFINITY, 0, int64_t(i), x, y, a.shape};
      return {nan, nan};
    }
    double d = std::abs(x - y);
    if (std::isnan(d))
      continue;
    double scale = std::max({std::abs(x), std::abs(y), 1e-6 * largest, 1e-30});
    double allowed = tolerance * scale;
    if (noiseA || noiseB)
      allowed = std::max(
          allowed, kNoiseMargin * (deviation(noiseA, refA, a, i) + deviation(noiseB, refB, b, i)));
    ElementDifference e{d / allowed, d / scale, allowed / scale, int64_t(i), x, y, a.shape};
    if (i == 0 || e.used > worst.nearest.used)
      worst.nearest = e;
    if (i == 0 || e.rel > worst.largest.rel)
      worst.largest = e;
  }
  return worst;
}

std::string outputName(ModuleOp module, StringRef fn, size_t i) {
  auto f = module.lookupSymbol<func::FuncOp>(fn);
  if (f)
    if (auto names = f->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr))
      if (i < names.size())
        return "output " + names[i].cast<StringAttr>().getValue().str();
  return "output #" + std::to_string(i);
}

void keep(PassDifference &worst, const ElementDifference &d, StringRef fn,
          const std::string &tensor, bool byUse) {
  if (worst.entry.empty() || (byUse ? d.used > worst.used : d.rel > worst.relDiff)) {
    worst.entry = fn.str();
    worst.tensor = tensor;
    worst.index = d.index;
    worst.shape = d.shape;
    worst.before = d.before;
    worst.after = d.after;
    worst.relDiff = d.rel;
    worst.allowedRelDiff = d.allowedRel;
    worst.used = d.used;
  }
}

/// Both worst elements of a pass: nearest its allowance, and largest.
struct Worst {
  PassDifference nearest, largest;
};

void keepWorst(Worst &worst, const TensorDifference &d, StringRef fn, const std::string &tensor) {
  keep(worst.nearest, d.nearest, fn, tensor, true);
  keep(worst.largest, d.largest, fn, tensor, false);
}

/// The worst difference between the evaluations before and after a pass,
/// over every entry point both have: their outputs, and the parameters
/// they wrote. A new @grad or @train_step must give @forward's loss.
Worst compare(ModuleOp module, const Evaluations &before, const Evaluations &after,
              double tolerance, const Noise *noiseBefore, const Noise *noiseAfter) {
  Worst worst;
  for (auto &[fn, b] : before) {
    auto it = after.find(fn);
    if (it == after.end())
      continue;
    const Evaluation &a = it->second;
    if (b.outputs.size() != a.outputs.size()) {
      ElementDifference count{INFINITY, INFINITY, 0, -1, 0, 0, {}};
      keepWorst(worst, {count, count}, fn,
                "its outputs (" + std::to_string(b.outputs.size()) + " before, " +
                    std::to_string(a.outputs.size()) + " after)");
      continue;
    }
    for (size_t i = 0; i < b.outputs.size(); ++i) {
      TensorRef ref{fn, int(i), ""};
      keepWorst(
          worst,
          compareTensors(b.outputs[i], a.outputs[i], tolerance, ref, noiseBefore, ref, noiseAfter),
          fn, outputName(module, fn, i));
    }
    for (auto &[name, value] : b.params) {
      auto p = a.params.find(name);
      if (p == a.params.end())
        continue;
      TensorRef ref{fn, -1, name};
      keepWorst(worst,
                compareTensors(value, p->second, tolerance, ref, noiseBefore, ref, noiseAfter), fn,
                "parameter " + name);
    }
  }
  auto lossIndex = [&](StringRef fn) {
    auto f = module.lookupSymbol<func::FuncOp>(fn);
    if (auto names = f ? f->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr) : ArrayAttr())
      for (auto [i, n] : llvm::enumerate(names))
        if (n.cast<StringAttr>().getValue() == "loss")
          return int(i);
    return -1;
  };
  for (StringRef fn : {"grad", "train_step"})
    if (!before.count(fn.str()) && after.count(fn.str()) && after.count("forward")) {
      int l = lossIndex("forward"), m = lossIndex(fn);
      if (l >= 0 && m >= 0)
        keepWorst(worst,
                  compareTensors(after.at("forward").outputs[l], after.at(fn.str()).outputs[m],
                                 tolerance, {"forward", l, ""}, noiseAfter, {fn.str(), m, ""},
                                 noiseAfter),
                  fn, "output loss (against forward's)");
    }
  return worst;
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
    OwningOpRef<ModuleOp> previous = module.clone();
    PassManager pm(module.getContext());
    pm.addPass(std::move(pass));
    if (failed(pm.run(module)))
      return module.emitError() << "pass '" << name << "' failed";
    auto after = evaluateAll(module, seed);
    if (failed(after))
      return failure();
    ++result.checked;
    Worst worst = compare(module, *before, *after, tolerance, nullptr, nullptr);
    bool noise = false;
    if (worst.nearest.used > 1 && !std::isinf(worst.nearest.used)) {
      // Beyond the plain tolerance: is it rounding, moved elsewhere?
      auto noiseBefore = measureNoise(*previous, seed);
      auto noiseAfter = measureNoise(module, seed);
      if (failed(noiseBefore) || failed(noiseAfter))
        return failure();
      worst = compare(module, *before, *after, tolerance, &*noiseBefore, &*noiseAfter);
      noise = true;
      ++result.noiseMeasured;
    }
    for (PassDifference *d : {&worst.nearest, &worst.largest}) {
      d->pass = name;
      d->roundingBound = noise;
    }
    if (result.worst.pass.empty() || worst.nearest.used > result.worst.used)
      result.worst = worst.nearest;
    if (result.largest.pass.empty() || worst.largest.relDiff > result.largest.relDiff)
      result.largest = worst.largest;
    result.maxRelDiff = result.largest.relDiff;
    if (!(worst.nearest.used <= 1)) {
      result.diverging.push_back(name);
      result.differences.push_back(worst.nearest);
    }
    before = std::move(after);
  }
  return result;
}

} // namespace ra::check
