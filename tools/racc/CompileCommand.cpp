//===- CompileCommand.cpp - racc compile ----------------------------------===//
//
// Front end, default pipeline, then the artifact directory OUT.rac/:
//   manifest.json   format version, source, config, parameters (with their
//                   offsets in one flat f32 buffer), entry points, stats
//   ir/model.mlir   the IR after the pipeline
// Every file is written to a temporary name and renamed into place.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Driver.h"
#include "StatsReport.h"

#include "ir/analysis/ModelStats.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

namespace racc {

/// Bumped whenever a reader of manifest.json would misread an older one.
constexpr int kManifestFormatVersion = 1;
/// Parameters start on 64-byte boundaries in the flat buffer.
constexpr int64_t kParamAlignElements = 16;

static bool writeAtomically(const std::string &path, const std::string &contents) {
  llvm::Error err = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    os << contents;
    return llvm::Error::success();
  });
  if (err) {
    fail("cannot write '" + path + "': " + llvm::toString(std::move(err)));
    return false;
  }
  return true;
}

static nlohmann::ordered_json manifest(mlir::ModuleOp module, const ra::ModelStats &stats) {
  nlohmann::ordered_json params = nlohmann::ordered_json::array();
  int64_t offset = 0;
  for (const auto &p : stats.params) {
    params.push_back({{"name", p.name},
                      {"shape", p.shape},
                      {"init", p.init},
                      {"init_value", p.initValue},
                      {"decay", p.decay},
                      {"mechanism", p.mechanism},
                      {"offset", offset}});
    offset += (p.count + kParamAlignElements - 1) / kParamAlignElements * kParamAlignElements;
  }
  auto forward = ra::getForward(module);
  auto names = [](mlir::ArrayAttr a) {
    std::vector<std::string> v;
    if (a)
      for (auto s : a)
        v.push_back(s.cast<mlir::StringAttr>().str());
    return v;
  };
  auto report = statsToJson(stats);
  return {{"format_version", kManifestFormatVersion},
          {"source", stats.source},
          {"config", report["config"]},
          {"parameters", params},
          {"parameter_elements", offset},
          {"entry_points",
           {{{"name", "forward"},
             {"inputs", names(forward->getAttrOfType<mlir::ArrayAttr>("ra.inputs"))},
             {"outputs", names(forward->getAttrOfType<mlir::ArrayAttr>("ra.outputs"))}}}},
          {"stats",
           {{"parameters", stats.totalParams},
            {"flops_per_token", report["flops_per_token"]},
            {"inference_cache", report["inference_cache"]}}}};
}

int compileCommand(int argc, char **argv) {
  cxxopts::Options options("racc compile", "Compile a .graph model into an artifact");
  addModelOptions(options);
  options.add_options()("o,output", "Artifact directory (default: FILE's name with .rac, here)",
                        cxxopts::value<std::string>())(
      "emit",
      "Print IR to stdout instead of writing an artifact: mlir (after the pipeline) "
      "or mlir-raw (the front end's output)",
      cxxopts::value<std::string>())("print-ir-after-all",
                                     "Print the IR after every pass (to stderr)")(
      "print-ir-after", "Print the IR after PASS", cxxopts::value<std::vector<std::string>>())(
      "print-ir-before", "Print the IR before PASS", cxxopts::value<std::vector<std::string>>())(
      "dump-ir-dir", "Write the IR before the pipeline and after each pass to DIR/NN-PASS.mlir",
      cxxopts::value<std::string>());
  auto args = options.parse(argc, argv);
  std::string emit = args.count("emit") ? args["emit"].as<std::string>() : "";
  if (!emit.empty() && emit != "mlir" && emit != "mlir-raw")
    return fail("--emit takes mlir or mlir-raw, got '" + emit + "'");
  Session session;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  if (auto status = loadModel(args, options, session, module))
    return *status;
  std::string file = args["file"].as<std::string>();
  if (emit == "mlir-raw") {
    module->print(llvm::outs());
    return 0;
  }
  IrPrinting printing;
  printing.afterAll = args.count("print-ir-after-all") > 0;
  if (args.count("print-ir-after"))
    printing.after = args["print-ir-after"].as<std::vector<std::string>>();
  if (args.count("print-ir-before"))
    printing.before = args["print-ir-before"].as<std::vector<std::string>>();
  if (args.count("dump-ir-dir"))
    printing.dumpDir = args["dump-ir-dir"].as<std::string>();
  if (!session.runPipeline(*module, printing))
    return 1;
  if (emit == "mlir") {
    module->print(llvm::outs());
    return 0;
  }

  auto stats = ra::computeStats(*module);
  if (mlir::failed(stats))
    return 1;
  std::string out = args.count("output") ? args["output"].as<std::string>()
                                         : llvm::sys::path::stem(file).str() + ".rac";
  if (std::error_code ec = llvm::sys::fs::create_directories(out + "/ir"))
    return fail("cannot create '" + out + "': " + ec.message());
  std::string ir;
  llvm::raw_string_ostream irStream(ir);
  module->print(irStream);
  if (!writeAtomically(out + "/ir/model.mlir", irStream.str()) ||
      !writeAtomically(out + "/manifest.json", manifest(*module, *stats).dump(2) + "\n"))
    return 1;
  llvm::outs() << "racc: wrote " << out << " (" << stats->totalParams << " parameters)\n";
  return 0;
}

} // namespace racc
