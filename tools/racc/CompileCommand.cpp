//===- CompileCommand.cpp - racc compile ----------------------------------===//
//
// Front end, default pipeline, then the artifact directory OUT.rac/:
//   manifest.json   format and ABI versions, source, config, parameters and
//                   optimizer state (offsets in one flat f32 buffer), entry
//                   points (inputs, outputs, arena bytes, kernels), stats
//   ir/model.mlir   the IR after the pipeline
//   cpu/model.cpp   the generated kernels' glue, with cpu/ra_cpu_kernels.h
//   cpu/model.so    compiled by the host C++ compiler (RACC_CXX overrides)
// Every file is written to a temporary name and renamed into place.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Driver.h"
#include "StatsReport.h"

#include "abi/Abi.h"
#include "codegen/KernelForm.h"
#include "codegen/cpu/CpuSource.h"
#include "codegen/cuda/CudaSource.h"
#include "ir/RaDialect.h"
#include "ir/analysis/ModelStats.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Program.h"

#include <chrono>
#include <map>
#include <set>

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

namespace racc {

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

/// Tensors as name, dtype, shape; with `bounds`, "id_bound" B for inputs
/// whose ids must lie in [0, B).
static nlohmann::ordered_json tensorsJson(const std::vector<ra::codegen::TensorSig> &sigs,
                                          const std::vector<int64_t> &bounds = {}) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (size_t i = 0; i < sigs.size(); ++i) {
    const auto &t = sigs[i];
    out.push_back({{"name", t.name}, {"dtype", t.isInt ? "i32" : "f32"}, {"shape", t.shape}});
    if (i < bounds.size() && bounds[i] > 0)
      out.back()["id_bound"] = bounds[i];
  }
  return out;
}

static nlohmann::ordered_json manifest(mlir::ModuleOp module, const ra::ModelStats &stats,
                                       const std::vector<ra::codegen::EntryPoint> &entries,
                                       const std::vector<std::string> &targets) {
  auto report = statsToJson(stats);
  std::map<std::string, const ra::ParamInfo *> info;
  for (const auto &p : stats.params)
    info[p.name] = &p;
  nlohmann::ordered_json params = nlohmann::ordered_json::array();
  auto slots = ra::codegen::layoutParams(module);
  for (const auto &slot : slots) {
    nlohmann::ordered_json p = {{"name", slot.name},
                                {"shape", slot.shape},
                                {"offset", slot.offset},
                                {"trainable", slot.trainable}};
    auto param = module.lookupSymbol<ra::ParamOp>(slot.name);
    p["init"] = param.getInit().str();
    p["init_value"] = param.getInitValue().convertToDouble();
    p["decay"] = param.getDecay();
    p["mechanism"] = param.getMechanism().str();
    params.push_back(p);
  }
  nlohmann::ordered_json entryJson = nlohmann::ordered_json::array();
  for (const auto &e : entries) {
    std::set<std::string> kernels;
    for (const auto &c : e.calls)
      kernels.insert(c.key());
    entryJson.push_back({{"name", e.name},
                         {"symbol", "ra_" + e.name},
                         {"inputs", tensorsJson(e.inputs, ra::codegen::inputIdBounds(e))},
                         {"outputs", tensorsJson(e.outputs)},
                         {"arena_bytes", e.arenaBytes},
                         {"scratch_bytes", 4 * ra::codegen::scratchFloats(e)},
                         {"writes_parameters", ra::codegen::writesParameters(e)},
                         {"kernel_calls", e.calls.size()},
                         {"kernels", kernels.size()}});
  }
  if (auto step = module.lookupSymbol<mlir::func::FuncOp>("train_step"))
    if (auto order = step->getAttrOfType<mlir::ArrayAttr>(ra::RaDialect::kGradNormParamsAttr)) {
      std::vector<std::string> names;
      for (auto n : order)
        names.push_back(n.cast<mlir::StringAttr>().str());
      for (auto &e : entryJson)
        if (e["name"] == "train_step")
          e["grad_norm_params"] = names;
    }
  return {{"format_version", ra::abi::kManifestFormatVersion},
          {"abi_version", ra::abi::kAbiVersion},
          {"source", stats.source},
          {"targets", targets},
          {"config", report["config"]},
          {"parameter_elements", ra::codegen::paramBufferElements(slots)},
          {"parameters", params},
          {"entry_points", entryJson},
          {"stats",
           {{"parameters", stats.totalParams},
            {"flops_per_token", report["flops_per_token"]},
            {"inference_cache", report["inference_cache"]}}}};
}

/// Runs a compiler, its output in `log`; false (reported) when it fails.
static bool runCompiler(const std::string &name, std::vector<std::string> args,
                        const std::string &log, const std::string &what, double &seconds) {
  auto program = llvm::sys::findProgramByName(name);
  if (!program) {
    fail("cannot find '" + name + "' to compile " + what);
    return false;
  }
  llvm::sys::fs::remove(log); // a fresh log: redirection appends
  std::vector<llvm::StringRef> argv = {*program};
  for (const std::string &a : args)
    argv.push_back(a);
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, llvm::StringRef(log),
                                                llvm::StringRef(log)};
  auto start = std::chrono::steady_clock::now();
  std::string err;
  int rc = llvm::sys::ExecuteAndWait(*program, argv, std::nullopt, redirects, 0, 0, &err);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (rc != 0) {
    fail("compiling " + what + " failed" + (err.empty() ? "" : ": " + err) + "; see " + log);
    return false;
  }
  return true;
}

static std::string hostCompiler() {
  const char *env = std::getenv("RACC_CXX");
  return env && *env ? env : RACC_HOST_CXX;
}

/// nvcc: RACC_NVCC (`none`: as if absent), else /usr/local/cuda/bin/nvcc,
/// else on PATH; "" if none.
static std::string findNvcc() {
  if (const char *env = std::getenv("RACC_NVCC"); env && *env)
    return std::string(env) == "none" ? "" : env;
  if (llvm::sys::fs::can_execute("/usr/local/cuda/bin/nvcc"))
    return "/usr/local/cuda/bin/nvcc";
  auto onPath = llvm::sys::findProgramByName("nvcc");
  return onPath ? *onPath : "";
}

/// The CUDA libraries beside nvcc: BIN/../lib64.
static std::string nvccLibDir(const std::string &nvcc) {
  auto program = llvm::sys::findProgramByName(nvcc);
  llvm::SmallString<256> real;
  if (llvm::sys::fs::real_path(program ? *program : nvcc, real))
    real = program ? *program : nvcc;
  llvm::SmallString<256> dir(llvm::sys::path::parent_path(real));
  llvm::sys::path::remove_filename(dir); // bin
  llvm::sys::path::append(dir, "lib64");
  return std::string(dir);
}

int compileCommand(int argc, char **argv) {
  cxxopts::Options options("racc compile", "Compile a .graph model into an artifact");
  addModelOptions(options);
  options.add_options()("o,output", "Artifact directory (default: FILE's name with .rac, here)",
                        cxxopts::value<std::string>())(
      "emit",
      "Print to stdout instead of writing an artifact: mlir (the IR after the pipeline), "
      "mlir-raw (the front end's output), kernels (the kernel form), cpp (the CPU source) or "
      "cuda (the CUDA source)",
      cxxopts::value<std::string>())("print-ir-after-all",
                                     "Print the IR after every pass (to stderr)")(
      "print-ir-after", "Print the IR after PASS", cxxopts::value<std::vector<std::string>>())(
      "print-ir-before", "Print the IR before PASS", cxxopts::value<std::vector<std::string>>())(
      "dump-ir-dir", "Write the IR before the pipeline and after each pass to DIR/NN-PASS.mlir",
      cxxopts::value<std::string>())(
      "target",
      "cpu (C++ with OpenMP and OpenBLAS, compiled here), cuda (CUDA with cuBLAS, built by nvcc, "
      "and its emulator build), all (both) or none (IR and manifest only)",
      cxxopts::value<std::string>()->default_value("cpu"));
  addFusionOptions(options);
  auto args = options.parse(argc, argv);
  std::string emit = args.count("emit") ? args["emit"].as<std::string>() : "";
  std::string target = args["target"].as<std::string>();
  if (target != "cpu" && target != "cuda" && target != "all" && target != "none")
    return fail("--target takes cpu, cuda, all or none, got '" + target + "'");
  std::string nvcc = findNvcc();
  if (target == "cuda" && nvcc.empty())
    return fail("--target cuda needs nvcc (the CUDA toolkit at /usr/local/cuda, or RACC_NVCC)");
  const std::set<std::string> emits = {"mlir", "mlir-raw", "kernels", "cpp", "cuda"};
  if (!emit.empty() && !emits.count(emit))
    return fail("--emit takes mlir, mlir-raw, kernels, cpp or cuda, got '" + emit + "'");
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
  ra::PipelineOptions pipeline;
  if (auto status = fusionOptions(args, pipeline))
    return *status;
  if (!session.runPipeline(*module, printing, pipeline, /*withStats=*/emit.empty()))
    return 1;
  if (emit == "mlir") {
    module->print(llvm::outs());
    return 0;
  }
  auto entries = ra::codegen::formKernels(*module);
  if (mlir::failed(entries))
    return 1;
  if (emit == "kernels" || emit == "cpp" || emit == "cuda") {
    llvm::outs() << (emit == "kernels" ? ra::codegen::printKernelForm(*entries)
                     : emit == "cpp"   ? ra::codegen::emitCpuSource(*entries, file)
                                       : ra::codegen::emitCudaSource(*entries, file));
    return 0;
  }

  const ra::ModelStats *stats = &session.modelStats();
  std::string out = args.count("output") ? args["output"].as<std::string>()
                                         : llvm::sys::path::stem(file).str() + ".rac";
  for (const char *sub : {"/ir", "/cpu"})
    if (std::error_code ec = llvm::sys::fs::create_directories(out + sub))
      return fail("cannot create '" + out + sub + "': " + ec.message());
  std::string ir;
  llvm::raw_string_ostream irStream(ir);
  module->print(irStream);
  if (!writeAtomically(out + "/ir/model.mlir", irStream.str()))
    return 1;
  std::vector<std::string> targets;
  if (target == "cpu" || target == "all") {
    double seconds = 0;
    if (!writeAtomically(out + "/cpu/model.cpp", ra::codegen::emitCpuSource(*entries, file)))
      return 1;
    for (const auto &[name, text] : ra::codegen::kCpuShippedHeaders)
      if (!writeAtomically(out + "/cpu/" + name, text))
        return 1;
    if (!runCompiler(hostCompiler(),
                     {"-std=c++17", "-O3", "-march=native", "-fopenmp", "-fPIC", "-shared", "-I",
                      out + "/cpu", "-o", out + "/cpu/model.so", out + "/cpu/model.cpp",
                      "-lopenblas"},
                     out + "/cpu/compile.log", "the CPU kernels", seconds))
      return 1;
    targets.push_back("cpu");
    size_t calls = 0;
    std::set<std::string> kernels;
    for (const auto &e : *entries)
      for (const auto &c : e.calls) {
        ++calls;
        kernels.insert(c.key());
      }
    llvm::outs() << llvm::format("racc: cpu: %zu distinct kernels, %zu calls; compiled in %.1f s\n",
                                 kernels.size(), calls, seconds);
  }
  if (target == "cuda" || target == "all") {
    std::string dir = out + "/cuda";
    if (std::error_code ec = llvm::sys::fs::create_directories(dir))
      return fail("cannot create '" + dir + "': " + ec.message());
    if (!writeAtomically(dir + "/model.cu", ra::codegen::emitCudaSource(*entries, file)))
      return 1;
    for (const auto &[name, text] : ra::codegen::kCudaShippedHeaders)
      if (!writeAtomically(dir + "/" + name, text))
        return 1;
    double emuSeconds = 0, nvccSeconds = 0;
    // The SIMT emulator's build: the CUDA source, compiled for the CPU.
    if (!runCompiler(hostCompiler(),
                     {"-x", "c++", "-std=c++20", "-O2", "-fPIC", "-shared", "-pthread", "-I", dir,
                      "-o", dir + "/model_emu.so", dir + "/model.cu", "-lopenblas"},
                     dir + "/compile_emu.log", "the CUDA kernels for the emulator", emuSeconds))
      return 1;
    targets.push_back("cuda-emu");
    if (nvcc.empty()) {
      llvm::errs() << "racc: warning: no nvcc: the CUDA source is built for the emulator only\n";
    } else {
      // A library rarun loads for --device cuda: sm_80 and sm_90 code plus
      // PTX, the CUDA runtime linked in, cuBLAS found where nvcc's is.
      std::string lib64 = nvccLibDir(nvcc);
      if (!runCompiler(nvcc,
                       {"-std=c++17",
                        "-O3",
                        "-I",
                        dir,
                        "-gencode",
                        "arch=compute_80,code=sm_80",
                        "-gencode",
                        "arch=compute_90,code=sm_90",
                        "-gencode",
                        "arch=compute_90,code=compute_90",
                        "-shared",
                        "-Xcompiler",
                        "-fPIC",
                        "-o",
                        dir + "/model.so",
                        dir + "/model.cu",
                        "-L",
                        lib64,
                        "-lcublas",
                        "-Xlinker",
                        "-rpath=" + lib64},
                       dir + "/compile_nvcc.log", "the CUDA kernels with nvcc", nvccSeconds))
        return 1;
      targets.push_back("cuda");
    }
    llvm::outs() << llvm::format(
        "racc: cuda: emulator build %.1f s, nvcc %s\n", emuSeconds,
        nvcc.empty() ? "absent"
                     : llvm::formatv("{0:f1} s (sm_80, sm_90, PTX)", nvccSeconds).str().c_str());
  }
  // The manifest last: an artifact with a manifest is complete.
  if (!writeAtomically(out + "/manifest.json",
                       manifest(*module, *stats, *entries, targets).dump(2) + "\n"))
    return 1;
  llvm::outs() << "racc: wrote " << out << " (" << stats->totalParams << " parameters)\n";
  return 0;
}

} // namespace racc
