//===- InterpretCommand.cpp - racc interpret ------------------------------===//
//
//   racc interpret FILE [-D k=v]... [--entry forward|grad|train_step] [--seed S]
//                  [--precision f64|f32] [--steps N] [--lr LR] --dump DIR
//
// Runs an entry point in the reference interpreter on seeded random
// parameters and inputs (those of `racc check`) and writes them and the
// outputs to DIR as .npy files, with DIR/index.json naming each. An
// independent implementation (test/reference/) can recompute the outputs.
// With --entry train_step, N steps run on the same batch (step = 1..N) and
// the parameters after the last are dumped as `updated.NAME`.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Driver.h"
#include "Npy.h"
#include "tools/common/NumericOptions.h"

#include "ir/RaDialect.h"
#include "ir/interpreter/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FileSystem.h"

#include "runtime/Npy.h"
#include "runtime/Safetensors.h"
#include "runtime/SystemMemory.h"

#include <chrono>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace racc {

namespace {
/// `racc interpret: @train_step step 1/3, op 1200/5400 (22%), 35 s` on
/// stderr: rewritten in place on a terminal, a line every 30 s otherwise,
/// and nothing for a run shorter than 2 s.
class ProgressLine {
public:
  ProgressLine(std::string entry, int steps) : entry(std::move(entry)), steps(steps) {}
  int step = 1;

  void update(size_t done, size_t total) {
    double seconds = elapsed();
    if (seconds < 2 || seconds - lastShown < (tty ? 0.25 : 30))
      return;
    lastShown = seconds;
    std::string line =
        fmt::format("racc interpret: @{}{}, op {}/{} ({:.0f}%), {:.0f} s", entry,
                    steps > 1 ? fmt::format(" step {}/{}", step, steps) : "", done, total,
                    100.0 * double(done) / double(std::max<size_t>(total, 1)), seconds);
    if (tty)
      llvm::errs() << "\r" << line;
    else
      llvm::errs() << line << "\n";
    shown = true;
  }
  void finish() {
    if (shown && tty)
      llvm::errs() << "\n";
  }

private:
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::string entry;
  int steps;
  bool tty = isatty(STDERR_FILENO);
  bool shown = false;
  double lastShown = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};
/// Replaces the seeded parameters with a checkpoint's: every trainable
/// parameter must be there with its shape; optimizer state is taken if
/// present (a weights-only checkpoint has none).
std::string loadParams(mlir::ModuleOp module, const std::string &path,
                       ra::interp::ParamStore &params) {
  ra::rt::SafetensorsFile file;
  if (std::string err = file.open(path, "checkpoint"); !err.empty())
    return err;
  for (const ra::rt::SafetensorsEntry &e : file.entries())
    if (!params.count(e.name))
      return file.named() + " holds tensor '" + e.name + "', which the model does not have";
  std::vector<float> values;
  for (auto p : module.getOps<ra::ParamOp>()) {
    std::string name = p.getSymName().str();
    const ra::rt::SafetensorsEntry *e = file.find(name);
    if (!e) {
      if (p.getTrainable())
        return file.named() + " lacks tensor '" + name + "' that the model needs";
      continue;
    }
    ra::interp::Tensor &t = params[name];
    if (e->shape != t.shape)
      return fmt::format("{}: tensor '{}' has shape {}, the model's is {}", file.named(), name,
                         nlohmann::json(e->shape).dump(), nlohmann::json(t.shape).dump());
    values.resize(e->elements());
    if (std::string err = file.read(*e, values.data()); !err.empty())
      return err;
    std::copy(values.begin(), values.end(), t.data.begin());
  }
  return "";
}

/// Replaces a seeded input with a .npy array of exactly its shape.
std::string loadInput(const std::string &path, ra::interp::Tensor &input) {
  ra::rt::NpyArray array;
  if (std::string err = ra::rt::readNpy(path, array); !err.empty())
    return err;
  if (array.shape != input.shape)
    return fmt::format("'{}' has shape {}: the model's forward takes {}", path,
                       nlohmann::json(array.shape).dump(), nlohmann::json(input.shape).dump());
  if (input.isInteger && !array.integer)
    return fmt::format("'{}' holds {} values: token ids are integers", path, array.descr);
  std::copy(array.values.begin(), array.values.end(), input.data.begin());
  return "";
}

} // namespace

int interpretCommand(int argc, char **argv) {
  cxxopts::Options options("racc interpret",
                           "Run an entry point in the reference interpreter and dump it");
  addModelOptions(options);
  options.add_options()("entry", "forward, grad or train_step",
                        cxxopts::value<std::string>()->default_value("grad"))(
      "precision", "f64 or f32", cxxopts::value<std::string>()->default_value("f64"))(
      "dump", "Directory for the .npy files", cxxopts::value<std::string>())(
      "ckpt",
      "Parameters from a safetensors checkpoint (weights-only or full) instead of seeded "
      "random ones",
      cxxopts::value<std::string>())(
      "tokens", "Token ids (.npy, the forward's [batch, seq]) instead of random ones",
      cxxopts::value<std::string>())("targets",
                                     "Targets (.npy, [batch, seq]) instead of random ones",
                                     cxxopts::value<std::string>());
  ra::tools::NumericOptions numbers(options);
  numbers.integer("steps", "train_step: how many steps", 1, 1)
      .real("lr", "train_step: the learning rate", 1e-3, 0, true)
      .seed("seed", "Seed of the random parameters and inputs");
  auto args = options.parse(argc, argv);
  numbers.enforce(args);
  Session session;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  if (auto status = loadModel(args, options, session, module))
    return *status;
  if (!args.count("dump"))
    return fail("racc interpret needs --dump DIR");
  std::string entry = args["entry"].as<std::string>();
  std::string precision = args["precision"].as<std::string>();
  if (precision != "f64" && precision != "f32")
    return fail("--precision takes f64 or f32, got '" + precision + "'");
  if (!session.runPipeline(*module))
    return 1;
  auto fn = module->lookupSymbol<mlir::func::FuncOp>(entry);
  if (!fn || (entry != "forward" && entry != "grad" && entry != "train_step"))
    return fail("no entry point '" + entry +
                "' (forward, or grad and train_step for a model with a loss)");

  int steps = entry == "train_step" ? int(args["steps"].as<int64_t>()) : 1;
  auto peak = ra::interp::peakValueBytes(*module, entry);
  if (mlir::failed(peak))
    return 1;
  // Said first: a large config runs for minutes in tens of GB (seen: the
  // README's example, 11 minutes and 17 GB, silently).
  llvm::errs() << fmt::format("racc interpret: @{} runs {} ops{} and holds up to {} in the "
                              "interpreter's {}-byte floats\n",
                              entry, fn.getBody().front().getOperations().size() - 1,
                              steps > 1 ? fmt::format(" {} times", steps) : "",
                              ra::rt::formatBytes(double(*peak)), sizeof(ra::interp::Real));
  if (uint64_t memory = ra::rt::physicalMemoryBytes(); memory && *peak > memory)
    llvm::errs() << fmt::format("racc interpret: warning: that is more than this machine's {} of "
                                "memory; interpret a smaller config\n",
                                ra::rt::formatBytes(double(memory)));
  uint64_t seed = args["seed"].as<uint64_t>();
  ra::interp::ParamStore params = ra::interp::checkParams(*module, seed);
  auto inputs = ra::interp::randomInputs(*module, "forward", seed);
  if (args.count("ckpt"))
    if (std::string err = loadParams(*module, args["ckpt"].as<std::string>(), params); !err.empty())
      return fail(err);
  auto forwardFn = module->lookupSymbol<mlir::func::FuncOp>("forward");
  auto inputNames = forwardFn->getAttrOfType<mlir::ArrayAttr>(ra::RaDialect::kInputsAttr);
  for (const char *option : {"tokens", "targets"}) {
    if (!args.count(option))
      continue;
    size_t i = 0;
    while (i < inputs.size() && inputNames[i].cast<mlir::StringAttr>().str() != option)
      ++i;
    if (i == inputs.size())
      return fail(fmt::format("--{}: the model's forward has no input '{}'", option, option));
    if (std::string err = loadInput(args[option].as<std::string>(), inputs[i]); !err.empty())
      return fail(err);
  }
  ra::interp::Interpreter interpreter(*module, precision == "f32" ? ra::interp::Precision::F32
                                                                  : ra::interp::Precision::F64);
  ra::interp::ParamStore written = params;
  mlir::FailureOr<std::vector<ra::interp::Tensor>> outputs;
  ProgressLine progressLine(entry, steps);
  interpreter.progress = [&](size_t done, size_t total) { progressLine.update(done, total); };
  for (int step = 1; step <= steps; ++step) {
    progressLine.step = step;
    auto stepInputs = inputs;
    if (entry == "train_step") {
      stepInputs.push_back(ra::interp::Tensor::scalar(args["lr"].as<double>()));
      stepInputs.push_back(ra::interp::Tensor::scalar(step));
    }
    outputs = interpreter.run(entry, stepInputs, written);
    if (mlir::failed(outputs))
      return 1;
  }
  progressLine.finish();

  std::string dir = args["dump"].as<std::string>();
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return fail("cannot create '" + dir + "': " + ec.message());
  nlohmann::ordered_json index = {{"entry", entry}, {"precision", precision}, {"steps", steps}};
  if (entry == "train_step")
    index["lr"] = args["lr"].as<double>();
  auto dump = [&](const std::string &kind, const std::string &name,
                  const ra::interp::Tensor &t) -> bool {
    std::string file = kind + "." + name + ".npy";
    std::string err = writeNpy(dir + "/" + file, t);
    if (!err.empty()) {
      fail(err);
      return false;
    }
    index[kind].push_back({{"name", name}, {"file", file}});
    return true;
  };
  for (auto p : module->getOps<ra::ParamOp>()) {
    if (!p.getTrainable())
      continue;
    std::string name = p.getSymName().str();
    if (!dump("param", name, params[name]))
      return 1;
    index["param"].back()["decay"] = p.getDecay();
    if (entry == "train_step" && !dump("updated", name, written[name]))
      return 1;
  }
  for (auto [i, t] : llvm::enumerate(inputs))
    if (!dump("input", inputNames[i].cast<mlir::StringAttr>().str(), t))
      return 1;
  auto outputNames = fn->getAttrOfType<mlir::ArrayAttr>(ra::RaDialect::kOutputsAttr);
  for (auto [i, t] : llvm::enumerate(*outputs))
    if (!dump("output", outputNames[i].cast<mlir::StringAttr>().str(), t))
      return 1;
  index["config"] = nlohmann::ordered_json::object();
  if (auto config = (*module)->getAttrOfType<mlir::DictionaryAttr>(ra::RaDialect::kConfigAttr)) {
    for (auto a : config) {
      if (auto i = a.getValue().dyn_cast<mlir::IntegerAttr>())
        index["config"][a.getName().str()] = i.getInt();
      else if (auto f = a.getValue().dyn_cast<mlir::FloatAttr>())
        index["config"][a.getName().str()] = f.getValueAsDouble();
    }
  }
  std::error_code ec;
  llvm::raw_fd_ostream os(dir + "/index.json", ec);
  if (ec)
    return fail("cannot write '" + dir + "/index.json': " + ec.message());
  os << index.dump(2) << "\n";
  return 0;
}

} // namespace racc
