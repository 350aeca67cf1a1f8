//===- CheckCommand.cpp - racc check --------------------------------------===//
//
//   racc check FILE [-D k=v]... [--grad] [--passes] [--causal] [--json]
//
// With none of --grad, --passes, --causal, runs all three. Exit status 1 when
// a check fails.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Driver.h"
#include "tools/common/NumericOptions.h"

#include "check/Checks.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"

#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace racc {

using json = nlohmann::ordered_json;

namespace {
double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
/// "[3,17]" for flat index 65 of a [4,24] tensor; "[]" for a scalar.
std::string coordinates(const std::vector<int64_t> &shape, int64_t index) {
  if (index < 0)
    return "";
  std::vector<int64_t> coords(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    coords[d] = shape[d] ? index % shape[d] : 0;
    index = shape[d] ? index / shape[d] : 0;
  }
  return "[" +
         llvm::join(llvm::map_range(coords, [](int64_t c) { return std::to_string(c); }), ",") +
         "]";
}

json differenceJson(const ra::check::PassDifference &d) {
  return {{"pass", d.pass},
          {"entry", d.entry},
          {"tensor", d.tensor},
          {"index", d.index},
          {"element", coordinates(d.shape, d.index)},
          {"before", d.before},
          {"after", d.after},
          {"rel_diff", std::isinf(d.relDiff) ? json("inf") : json(d.relDiff)},
          {"allowed_rel_diff", d.allowedRelDiff},
          {"allowance_used", std::isinf(d.used) ? json("inf") : json(d.used)},
          {"rounding_bound", d.roundingBound}};
}

std::string differenceText(const ra::check::PassDifference &d) {
  if (d.index < 0)
    return fmt::format("{}: @{} {} changed shape", d.pass, d.entry, d.tensor);
  return fmt::format("{}: @{} {}{}: {:.12g} before, {:.12g} after (relative difference {:.2g}; "
                     "allowed {:.2g}{})",
                     d.pass, d.entry, d.tensor, coordinates(d.shape, d.index), d.before, d.after,
                     d.relDiff, d.allowedRelDiff,
                     d.roundingBound ? ": 1e-10 or a thousand times its float64 rounding noise"
                                     : "");
}

} // namespace

int checkCommand(int argc, char **argv) {
  cxxopts::Options options("racc check", "Check a model's gradients, passes and causality");
  addModelOptions(options);
  options.add_options()("grad", "Finite-difference check of every parameter's gradient (float64)")(
      "passes", "Check that every pass of the pipeline keeps the function the same")(
      "causal", "Check that no position's logits depend on later tokens")("json",
                                                                          "Print one JSON object");
  ra::tools::NumericOptions numbers(options);
  numbers.seed("seed", "Seed of the random parameters and inputs")
      .integer("samples", "Entries checked per large parameter", 4, 1)
      .real("step", "Finite-difference step, relative to max(1, |x|)", 1e-3, 0, true, 0.5)
      .real("tolerance", "Largest relative gradient error that passes", 1e-6, 0, true);
  addPipelineOptions(options);
  auto args = options.parse(argc, argv);
  numbers.enforce(args);
  ra::PipelineOptions pipeline;
  if (auto status = pipelineOptions(args, pipeline))
    return *status;
  // Rounding to bf16 has no derivative (the backward pass passes gradients
  // through it, as mixed precision does) and re-associating matmuls moves
  // where it happens: the model's math is checked in float32, and a bf16
  // build's kernels against the interpreter's rounding (CpuBackendTest).
  if (pipeline.precision != "f32")
    return fail("racc check works in float32: --precision " + pipeline.precision +
                " rounds matmul operands, which has no derivative for --grad and is not exact "
                "under the passes' re-associations; check the model without it");
  Session session;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  if (auto status = loadModel(args, options, session, module))
    return *status;
  bool all = !args.count("grad") && !args.count("passes") && !args.count("causal");
  bool doGrad = all || args.count("grad"), doPasses = all || args.count("passes");
  bool doCausal = all || args.count("causal");
  uint64_t seed = args["seed"].as<uint64_t>();
  double tolerance = args["tolerance"].as<double>();

  json report = json::object();
  std::string text;
  bool ok = true;

  if (doPasses) {
    auto start = std::chrono::steady_clock::now();
    mlir::OwningOpRef<mlir::ModuleOp> copy = module->clone();
    auto r = ra::check::passCheck(*copy, ra::defaultPipeline(pipeline), seed);
    if (mlir::failed(r))
      return 1;
    ok &= r->diverging.empty();
    json differences = json::array();
    for (auto &d : r->differences)
      differences.push_back(differenceJson(d));
    report["passes"] = {{"checked", r->checked},
                        {"diverging", r->diverging},
                        {"differences", differences},
                        {"max_rel_diff", r->maxRelDiff},
                        {"rounding_noise_measured", r->noiseMeasured},
                        {"worst", differenceJson(r->worst)},
                        {"largest", differenceJson(r->largest)},
                        {"seconds", secondsSince(start)}};
    text += fmt::format(
        "passes  {} passes checked; {}  (max relative difference {:.2g}{})\n", r->checked,
        r->diverging.empty() ? "none changes the function"
                             : "CHANGED BY: " + llvm::join(r->diverging, ", "),
        r->maxRelDiff,
        r->noiseMeasured ? fmt::format("; {} within float64 rounding noise", r->noiseMeasured)
                         : "");
    for (auto &d : r->differences)
      text += "        " + differenceText(d) + "\n";
  }

  // The causality check follows sequence axes through the model's own ops;
  // fusion reshapes activations (one GEMM over [B*T, D]) where positions can
  // no longer be told apart, so it runs on the unfused pipeline. The fusion
  // passes are checked equivalent by --passes.
  mlir::OwningOpRef<mlir::ModuleOp> unfused;
  if (doCausal) {
    unfused = module->clone();
    ra::PipelineOptions none;
    none.noFuse = true;
    if (!session.runPipeline(*unfused, {}, none))
      return 1;
  }
  if (doGrad) {
    if (!session.runPipeline(*module, {}, pipeline))
      return 1;
  }
  if (doGrad) {
    auto start = std::chrono::steady_clock::now();
    ra::check::GradCheckOptions gopts;
    gopts.seed = seed;
    gopts.samplesPerParam = int(args["samples"].as<int64_t>());
    gopts.step = args["step"].as<double>();
    auto r = ra::check::gradCheck(*module, gopts);
    if (mlir::failed(r))
      return 1;
    bool gradOk = r->maxRelError <= tolerance;
    ok &= gradOk;
    report["grad"] = {{"max_rel_error", r->maxRelError},
                      {"max_abs_error", r->maxAbsError},
                      {"checked", r->checked},
                      {"tolerance", tolerance},
                      {"ok", gradOk},
                      {"worst",
                       {{"param", r->worst.param},
                        {"index", r->worst.index},
                        {"analytic", r->worst.analytic},
                        {"numeric", r->worst.numeric}}},
                      {"seconds", secondsSince(start)}};
    text += fmt::format("grad    max relative error {:.3g} over {} entries (worst {}[{}]: {:.10g} "
                        "vs {:.10g} by finite differences)  {}\n",
                        r->maxRelError, r->checked, r->worst.param, r->worst.index,
                        r->worst.analytic, r->worst.numeric, gradOk ? "ok" : "FAILED");
  }
  if (doCausal) {
    auto start = std::chrono::steady_clock::now();
    auto r = ra::check::causalCheck(*unfused, seed);
    if (mlir::failed(r))
      return 1;
    ok &= r->ok;
    json leaks = json::array();
    for (auto &l : r->leaks)
      leaks.push_back({{"op", l.op}, {"location", l.location}, {"position", l.position}});
    report["causal"] = {{"ok", r->ok},
                        {"positions_checked", r->positionsChecked},
                        {"leaks", leaks},
                        {"seconds", secondsSince(start)}};
    text += fmt::format("causal  {} positions checked; {}\n", r->positionsChecked,
                        r->ok ? "no position sees a later token  ok" : "LEAKS:");
    for (auto &l : r->leaks)
      text += fmt::format("        future tokens reach position {} through {} at {}\n", l.position,
                          l.op, l.location);
  }

  if (args.count("json"))
    llvm::outs() << report.dump(2) << "\n";
  else
    llvm::outs() << text;
  return ok ? 0 : 1;
}

} // namespace racc
