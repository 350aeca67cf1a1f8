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
#include "Artifact.h"
#include "Commands.h"
#include "CompileCache.h"
#include "Driver.h"
#include "StatsReport.h"

#include "abi/Abi.h"
#include "codegen/KernelForm.h"
#include "codegen/cpu/CpuSource.h"
#include "codegen/cuda/CudaSource.h"
#include "ir/RaDialect.h"
#include "ir/analysis/ModelStats.h"
#include "runtime/FileHash.h"
#include "runtime/SystemMemory.h"

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

/// Tensors as name, dtype, shape; with `bounds`, "id_bound" B for inputs
/// whose ids must lie in [0, B).
static nlohmann::ordered_json tensorsJson(const std::vector<ra::codegen::TensorSig> &sigs,
                                          const std::vector<int64_t> &bounds = {}) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (size_t i = 0; i < sigs.size(); ++i) {
    const auto &t = sigs[i];
    out.push_back({{"name", t.name}, {"dtype", ra_dtype::name(t.dtype)}, {"shape", t.shape}});
    if (i < bounds.size() && bounds[i] > 0)
      out.back()["id_bound"] = bounds[i];
  }
  return out;
}

/// SHA-256 and size of each library (and source) the manifest describes,
/// by path within the artifact: rarun refuses a library that differs.
static bool fileDigests(const std::string &dir, const std::vector<std::string> &paths,
                        nlohmann::ordered_json &out) {
  out = nlohmann::ordered_json::object();
  for (const std::string &p : paths) {
    if (!llvm::sys::fs::exists(dir + "/" + p))
      continue;
    ra::rt::FileDigest d;
    if (std::string err = ra::rt::hashFile(dir + "/" + p, d); !err.empty()) {
      fail(err);
      return false;
    }
    out[p] = {{"sha256", d.sha256}, {"bytes", d.bytes}};
  }
  return true;
}

static nlohmann::ordered_json manifest(mlir::ModuleOp module, const ra::ModelStats &stats,
                                       const ra::codegen::KernelProgram &program,
                                       const std::vector<std::string> &targets,
                                       const nlohmann::ordered_json &files) {
  const std::vector<ra::codegen::EntryPoint> &entries = program.entries;
  auto report = statsToJson(stats);
  std::map<std::string, const ra::ParamInfo *> info;
  for (const auto &p : stats.params)
    info[p.name] = &p;
  nlohmann::ordered_json params = nlohmann::ordered_json::array();
  const auto &slots = program.params;
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
  // @train_step and @apply: which parameter each entry of grad_norms is.
  for (auto &e : entryJson)
    if (auto fn = module.lookupSymbol<mlir::func::FuncOp>(e["name"].get<std::string>()))
      if (auto order = fn->getAttrOfType<mlir::ArrayAttr>(ra::RaDialect::kGradNormParamsAttr)) {
        std::vector<std::string> names;
        for (auto n : order)
          names.push_back(n.cast<mlir::StringAttr>().str());
        e["grad_norm_params"] = names;
      }
  // What @decode keeps between calls (runtime/DecodeCache.h reads it), or
  // why racc derived no decoding.
  nlohmann::ordered_json decoding = nlohmann::ordered_json::object();
  if (auto refused = module->getAttrOfType<mlir::StringAttr>(ra::RaDialect::kDecodingRefusedAttr))
    decoding["refused"] = refused.str();
  if (auto decode = module.lookupSymbol<mlir::func::FuncOp>("decode"))
    if (auto caches = decode->getAttrOfType<mlir::ArrayAttr>(ra::RaDialect::kCachesAttr)) {
      decoding["caches"] = nlohmann::ordered_json::array();
      for (auto c : caches.getAsRange<mlir::DictionaryAttr>()) {
        nlohmann::ordered_json entry;
        for (const char *key : {"name", "kind", "role", "origin"})
          entry[key] = c.getAs<mlir::StringAttr>(key).str();
        for (const char *key : {"axis", "slots", "elements"})
          entry[key] = c.getAs<mlir::IntegerAttr>(key).getInt();
        decoding["caches"].push_back(entry);
      }
      if (auto paging = decode->getAttrOfType<mlir::DictionaryAttr>(ra::RaDialect::kPagingAttr))
        decoding["paging"] = {
            {"block_positions", paging.getAs<mlir::IntegerAttr>("block_positions").getInt()},
            {"blocks", paging.getAs<mlir::IntegerAttr>("blocks").getInt()}};
    }
  return {{"format_version", ra::abi::kManifestFormatVersion},
          {"abi_version", ra::abi::kAbiVersion},
          {"racc_version", RACC_VERSION},
          {"source", stats.source},
          {"targets", targets},
          {"precision",
           module->hasAttr(ra::RaDialect::kMatmulPrecisionAttr)
               ? module->getAttrOfType<mlir::StringAttr>(ra::RaDialect::kMatmulPrecisionAttr).str()
               : std::string("f32")},
          {"config", report["config"]},
          {"parameter_elements", ra::codegen::paramBufferElements(slots)},
          {"parameters", params},
          {"entry_points", entryJson},
          {"decoding", decoding},
          {"files", files},
          {"stats",
           {{"parameters", stats.totalParams},
            {"flops_per_token", report["flops_per_token"]},
            {"inference_cache", report["inference_cache"]}}}};
}

/// runCompiler through the compile cache: on a hit (`hit` set) the library
/// is copied from it; a fresh one is stored.
static bool compileCached(const CompileCache &cache, const std::string &compiler,
                          const std::vector<std::string> &args,
                          const std::vector<std::string> &inputs, const std::string &output,
                          const std::string &staging, const std::string &log,
                          const std::string &what, double &seconds, bool &hit) {
  auto start = std::chrono::steady_clock::now();
  std::string key = cache.key(compiler, args, inputs, staging);
  if ((hit = cache.fetch(key, output))) {
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return true;
  }
  if (!runCompiler(compiler, args, log, what, seconds))
    return false;
  cache.store(key, output);
  return true;
}

/// "compiled in 12.3 s" or "from the compile cache in 0.0 s".
static std::string compiledHow(bool hit, double seconds) {
  return llvm::formatv("{0} in {1:f1} s", hit ? "from the compile cache" : "compiled", seconds)
      .str();
}

static std::string hostCompiler() {
  const char *env = std::getenv("RACC_CXX");
  return env && *env ? env : RACC_HOST_CXX;
}

/// `flags` followed by RACC_CXXFLAGS split at spaces: the sanitizer job
/// builds the generated kernels with ASan and UBSan as well.
static std::vector<std::string> withHostFlags(std::vector<std::string> flags) {
  if (const char *env = std::getenv("RACC_CXXFLAGS")) {
    llvm::SmallVector<llvm::StringRef> extra;
    llvm::StringRef(env).split(extra, ' ', -1, /*KeepEmpty=*/false);
    for (llvm::StringRef f : extra)
      flags.push_back(f.str());
  }
  return flags;
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

/// Prints the parameters' and each entry point's memory on one line, and
/// warns when one entry point needs more than this machine has.
static void reportMemory(const ra::codegen::KernelProgram &program) {
  auto mib = [](double bytes) { return bytes / (1 << 20); };
  double params = 4.0 * program.parameterElements();
  uint64_t physical = ra::rt::physicalMemoryBytes();
  std::string line =
      llvm::formatv("racc: memory: parameters and optimizer state {0:f1} MiB; arena", mib(params));
  double scratch = 0;
  for (const auto &e : program.entries) {
    line += llvm::formatv("{0} {1} {2:f1} MiB", &e == &program.entries[0] ? "" : ",", e.name,
                          mib(e.arenaBytes));
    scratch = std::max(scratch, 4.0 * ra::codegen::scratchFloats(e));
  }
  llvm::outs() << line << llvm::formatv("; CUDA scratch up to {0:f1} MiB\n", mib(scratch));
  for (const auto &e : program.entries) {
    double total = params + e.arenaBytes + 4.0 * ra::codegen::scratchFloats(e);
    if (physical && total > double(physical))
      llvm::errs() << llvm::formatv("racc: warning: {0} needs {1:f1} GiB (parameters, arena and "
                                    "scratch), more than this machine's {2:f1} GiB of memory\n",
                                    e.name, total / (1 << 30), double(physical) / (1 << 30));
  }
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
      cxxopts::value<std::string>()->default_value("cpu"))(
      "no-compile-cache",
      "Compile the kernels even when the compile cache holds them (RACC_CACHE_DIR=off: always)");
  addPipelineOptions(options);
  auto args = options.parse(argc, argv);
  std::string emit = args.count("emit") ? args["emit"].as<std::string>() : "";
  std::string target = args["target"].as<std::string>();
  const CompileCache cache =
      args.count("no-compile-cache") ? CompileCache::disabled() : CompileCache::fromEnvironment();
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
  std::string out = args.count("output") ? args["output"].as<std::string>()
                                         : llvm::sys::path::stem(file).str() + ".rac";
  std::optional<ArtifactStaging> stagingDir;
  if (emit.empty()) {
    stagingDir.emplace(out);
    if (!stagingDir->ok())
      return 1;
    // IR dumps into the artifact go where the artifact is being written.
    std::string prefix = llvm::StringRef(out).rtrim('/').str() + "/";
    if (llvm::StringRef(printing.dumpDir).startswith(prefix))
      printing.dumpDir = stagingDir->dir() + "/" + printing.dumpDir.substr(prefix.size());
  }
  ra::PipelineOptions pipeline;
  if (auto status = pipelineOptions(args, pipeline))
    return *status;
  if (!session.runPipeline(*module, printing, pipeline, /*withStats=*/emit.empty()))
    return 1;
  if (emit == "mlir") {
    module->print(llvm::outs());
    return 0;
  }
  auto program = ra::codegen::formKernels(*module);
  if (mlir::failed(program))
    return 1;
  if (emit == "kernels" || emit == "cpp" || emit == "cuda") {
    llvm::outs() << (emit == "kernels" ? ra::codegen::printKernelForm(*program)
                     : emit == "cpp"   ? ra::codegen::emitCpuSource(*program, file)
                                       : ra::codegen::emitCudaSource(*program, file));
    return 0;
  }
  reportMemory(*program);
  if (!session.recomputeDecision().empty())
    llvm::outs() << "racc: " << session.recomputeDecision() << "\n";
  if (pipeline.precision == "bf16")
    llvm::outs() << "racc: matmuls take bfloat16 operands and accumulate in float32 (--precision "
                    "bf16); parameters, optimizer state and every other op stay float32\n";
  ArtifactStaging &staging = *stagingDir;

  const ra::ModelStats *stats = &session.modelStats();
  // Everything is written into the staging directory, which replaces OUT
  // only when the artifact is complete.
  std::string dir = staging.dir();
  for (const char *sub : {"/ir", "/cpu"})
    if (std::error_code ec = llvm::sys::fs::create_directories(dir + sub))
      return fail("cannot create '" + dir + sub + "': " + ec.message());
  std::string ir;
  llvm::raw_string_ostream irStream(ir);
  module->print(irStream);
  if (!writeFileAtomically(dir + "/ir/model.mlir", irStream.str()))
    return 1;
  std::vector<std::string> targets;
  auto compiled = [&](bool ok) {
    if (!ok)
      staging.keep(); // for its compile logs
    return ok;
  };
  if (target == "cpu" || target == "all") {
    double seconds = 0;
    std::string cpu = dir + "/cpu";
    if (!writeFileAtomically(cpu + "/model.cpp", ra::codegen::emitCpuSource(*program, file)))
      return 1;
    std::vector<std::string> headers;
    for (const auto &[name, text] : ra::codegen::kCpuShippedHeaders) {
      headers.push_back(cpu + "/" + name);
      if (!writeFileAtomically(headers.back(), text))
        return 1;
    }
    // The shared kernels first (ra_cpu_library.o, once per machine through
    // the cache), then the model's own source, linked with them.
    if (!writeFileAtomically(cpu + "/ra_cpu_library.cpp", ra::codegen::cpuLibrarySource()))
      return 1;
    std::vector<std::string> libraryInputs = headers, inputs = headers;
    libraryInputs.push_back(cpu + "/ra_cpu_library.cpp");
    bool libraryHit = false, hit = false;
    double librarySeconds = 0;
    if (!compiled(compileCached(
            cache, hostCompiler(),
            withHostFlags({"-std=c++17", "-O3", "-march=native", "-fopenmp", "-fPIC", "-c", "-I",
                           cpu, "-o", cpu + "/ra_cpu_library.o", cpu + "/ra_cpu_library.cpp"}),
            libraryInputs, cpu + "/ra_cpu_library.o", dir, cpu + "/compile_library.log",
            "the shared CPU kernels", librarySeconds, libraryHit)))
      return 1;
    inputs.push_back(cpu + "/model.cpp");
    inputs.push_back(cpu + "/ra_cpu_library.o");
    if (!compiled(compileCached(
            cache, hostCompiler(),
            withHostFlags({"-std=c++17", "-O3", "-march=native", "-fopenmp", "-fPIC", "-shared",
                           "-DRA_CPU_KERNELS_PRECOMPILED", "-I", cpu, "-o", cpu + "/model.so",
                           cpu + "/model.cpp", cpu + "/ra_cpu_library.o", "-lopenblas"}),
            inputs, cpu + "/model.so", dir, cpu + "/compile.log", "the CPU kernels", seconds, hit)))
      return 1;
    seconds += librarySeconds;
    hit = hit && libraryHit;
    targets.push_back("cpu");
    size_t calls = 0;
    std::set<std::string> kernels;
    for (const auto &e : program->entries)
      for (const auto &c : e.calls) {
        ++calls;
        kernels.insert(c.key());
      }
    llvm::outs() << llvm::format("racc: cpu: %zu distinct kernels, %zu calls; %s\n", kernels.size(),
                                 calls, compiledHow(hit, seconds).c_str());
  }
  if (target == "cuda" || target == "all") {
    std::string cuda = dir + "/cuda";
    if (std::error_code ec = llvm::sys::fs::create_directories(cuda))
      return fail("cannot create '" + cuda + "': " + ec.message());
    if (!writeFileAtomically(cuda + "/model.cu", ra::codegen::emitCudaSource(*program, file)))
      return 1;
    std::vector<std::string> inputs = {cuda + "/model.cu"};
    for (const auto &[name, text] : ra::codegen::kCudaShippedHeaders) {
      inputs.push_back(cuda + "/" + name);
      if (!writeFileAtomically(inputs.back(), text))
        return 1;
    }
    double emuSeconds = 0, nvccSeconds = 0;
    bool emuHit = false, nvccHit = false;
    // The SIMT emulator's build: the CUDA source, compiled for the CPU.
    if (!compiled(compileCached(
            cache, hostCompiler(),
            withHostFlags({"-x", "c++", "-std=c++20", "-O2", "-fPIC", "-shared", "-pthread", "-I",
                           cuda, "-o", cuda + "/model_emu.so", cuda + "/model.cu", "-lopenblas"}),
            inputs, cuda + "/model_emu.so", dir, cuda + "/compile_emu.log",
            "the CUDA kernels for the emulator", emuSeconds, emuHit)))
      return 1;
    targets.push_back("cuda-emu");
    if (nvcc.empty()) {
      llvm::errs() << "racc: warning: no nvcc: the CUDA source is built for the emulator only\n";
    } else {
      // A library rarun loads for --device cuda: sm_80 and sm_90 code plus
      // PTX, the CUDA runtime linked in, cuBLAS found where nvcc's is.
      std::string lib64 = nvccLibDir(nvcc);
      if (!compiled(compileCached(cache, nvcc,
                                  {"-std=c++17",
                                   "-O3",
                                   "-I",
                                   cuda,
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
                                   cuda + "/model.so",
                                   cuda + "/model.cu",
                                   "-L",
                                   lib64,
                                   "-lcublas",
                                   "-lcublasLt",
                                   "-Xlinker",
                                   "-rpath=" + lib64},
                                  inputs, cuda + "/model.so", dir, cuda + "/compile_nvcc.log",
                                  "the CUDA kernels with nvcc", nvccSeconds, nvccHit)))
        return 1;
      targets.push_back("cuda");
    }
    llvm::outs() << llvm::format(
        "racc: cuda: emulator build %s, nvcc %s\n", compiledHow(emuHit, emuSeconds).c_str(),
        nvcc.empty() ? "absent"
                     : (compiledHow(nvccHit, nvccSeconds) + " (sm_80, sm_90, PTX)").c_str());
  }
  nlohmann::ordered_json files;
  if (!fileDigests(dir,
                   {"ir/model.mlir", "cpu/model.cpp", "cpu/model.so", "cuda/model.cu",
                    "cuda/model_emu.so", "cuda/model.so"},
                   files))
    return 1;
  if (!writeFileAtomically(dir + "/manifest.json",
                           manifest(*module, *stats, *program, targets, files).dump(2) + "\n") ||
      !staging.commit())
    return 1;
  llvm::outs() << "racc: wrote " << out << " (" << stats->totalParams << " parameters)\n";
  return 0;
}

} // namespace racc
