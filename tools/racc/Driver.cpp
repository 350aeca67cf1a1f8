//===- Driver.cpp - what every racc command shares ------------------------===//
#include "Driver.h"

#include "abi/ra_dtype.h"
#include "ir/RaDialect.h"
#include "ir/frontend/Frontend.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

namespace racc {

int fail(const std::string &message) {
  llvm::errs() << "racc: error: " << message << "\n";
  return 1;
}

Session::Session() {
  // Module-scope IR printing needs a single-threaded context.
  ctx.disableMultithreading();
  // A diagnostic names the .graph line; printing the operation would print
  // the whole module for one that sits on the module (seen: 56 MB).
  ctx.printOpOnDiagnostic(false);
  ra::graph::registerFrontendDialects(ctx);
  sourceHandler = std::make_unique<mlir::SourceMgrDiagnosticHandler>(sources, &ctx);
  // Registered last, so it sees diagnostics first: those without a file
  // location (command-line errors) print plainly; the rest go on to the
  // source manager's handler, which shows the line and a caret.
  plainHandler = ctx.getDiagEngine().registerHandler([](mlir::Diagnostic &d) {
    if (!d.getLocation().isa<mlir::UnknownLoc>())
      return mlir::failure();
    const char *kind = d.getSeverity() == mlir::DiagnosticSeverity::Error     ? "error"
                       : d.getSeverity() == mlir::DiagnosticSeverity::Warning ? "warning"
                                                                              : "note";
    llvm::errs() << "racc: " << kind << ": " << d.str() << "\n";
    return mlir::success();
  });
}

Session::~Session() { ctx.getDiagEngine().eraseHandler(plainHandler); }

bool Session::parseDefines(const std::vector<std::string> &raw) {
  for (const std::string &d : raw) {
    auto [name, value] = llvm::StringRef(d).split('=');
    if (name.empty() || value.empty() || !llvm::StringRef(d).contains('=')) {
      fail("-D expects name=value, got '" + d + "'");
      return false;
    }
    defines.push_back({name.trim().str(), value.trim().str()});
  }
  return true;
}

mlir::OwningOpRef<mlir::ModuleOp> Session::load(const std::string &path) {
  ra::graph::FrontendOptions options;
  options.defines = defines;
  return ra::graph::compileGraphFile(ctx, sources, path, options);
}

void addModelOptions(cxxopts::Options &options) {
  options.positional_help("FILE");
  options.add_options()("D,define", "Override a config: -D name=value",
                        cxxopts::value<std::vector<std::string>>())("h,help", "Show this help")(
      "file", "The .graph model", cxxopts::value<std::string>());
  options.parse_positional({"file"});
}

void addPipelineOptions(cxxopts::Options &options) {
  options.add_options()("no-fuse", "Run none of the fusion passes")(
      "disable-pass",
      "Skip the fusion pass NAME (repeatable; fusion passes: " +
          llvm::join(ra::fusionPassNames(), ", ") + ")",
      cxxopts::value<std::vector<std::string>>())(
      "recompute",
      "When recompute-activations recomputes the MLP's activations in the backward pass: auto "
      "(only when the training step's arena would otherwise exceed --memory-budget), always or "
      "never",
      cxxopts::value<std::string>()->default_value("auto"))(
      "memory-budget", "MiB of arena a training step may take before --recompute auto recomputes",
      cxxopts::value<int64_t>()->default_value("4096"))(
      "precision",
      "The matmuls' operands: f32, or bf16 (rounded to bfloat16, float32 accumulation: the "
      "GPU's tensor cores; parameters, optimizer state and every other op stay float32)",
      cxxopts::value<std::string>()->default_value("f32"));
  options.add_options("Decoding")(
      "block-positions", "Positions per block of the paged decoding caches (at most the window)",
      cxxopts::value<int64_t>()->default_value("128"))(
      "cache-blocks",
      "Blocks in each paged cache's pool, shared by all sequences (default: every "
      "sequence's whole window)",
      cxxopts::value<int64_t>()->default_value("0"))(
      "cache-dtype",
      "Element type of the decoding caches' keys, values and queries: f32, f16 or bf16 (half "
      "the bytes; running sums stay f32)",
      cxxopts::value<std::string>()->default_value("f32"));
}

std::optional<int> pipelineOptions(const cxxopts::ParseResult &args, ra::PipelineOptions &out) {
  out.noFuse = args.count("no-fuse") > 0;
  if (args.count("disable-pass"))
    out.disabled = args["disable-pass"].as<std::vector<std::string>>();
  for (const std::string &name : out.disabled)
    if (!llvm::is_contained(ra::fusionPassNames(), name))
      return fail("--disable-pass: '" + name + "' is not a fusion pass (" +
                  llvm::join(ra::fusionPassNames(), ", ") + ")");
  const std::string recompute = args["recompute"].as<std::string>();
  if (recompute == "auto")
    out.recompute = ra::Recompute::Auto;
  else if (recompute == "always")
    out.recompute = ra::Recompute::Always;
  else if (recompute == "never")
    out.recompute = ra::Recompute::Never;
  else
    return fail("--recompute must be auto, always or never, got '" + recompute + "'");
  const int64_t budget = args["memory-budget"].as<int64_t>();
  if (budget < 1 || budget > (int64_t(1) << 40))
    return fail("--memory-budget must be from 1 to 2^40 MiB, got " + std::to_string(budget));
  out.memoryBudgetBytes = budget << 20;
  out.precision = args["precision"].as<std::string>();
  if (out.precision != "f32" && out.precision != "bf16")
    return fail("--precision must be f32 or bf16, got '" + out.precision + "'");
  out.blockPositions = args["block-positions"].as<int64_t>();
  out.cacheBlocks = args["cache-blocks"].as<int64_t>();
  if (out.blockPositions < 1)
    return fail("--block-positions must be at least 1, got " + std::to_string(out.blockPositions));
  out.cacheDtype = args["cache-dtype"].as<std::string>();
  if (ra_dtype::Dtype t; !ra_dtype::parse(out.cacheDtype.c_str(), t) || t == ra_dtype::Dtype::I32)
    return fail("--cache-dtype must be f32, f16 or bf16, got '" + out.cacheDtype + "'");
  if (out.cacheBlocks < 0)
    return fail("--cache-blocks must be at least 1 (or 0, the default: every sequence's whole "
                "window), got " +
                std::to_string(out.cacheBlocks));
  return std::nullopt;
}

std::optional<int> loadModel(const cxxopts::ParseResult &args, const cxxopts::Options &options,
                             Session &session, mlir::OwningOpRef<mlir::ModuleOp> &module) {
  if (args.count("help")) {
    llvm::outs() << options.help() << "\n";
    return 0;
  }
  if (!args.count("file"))
    return fail(options.program() + " needs a .graph file\n" + options.help());
  if (args.count("define") && !session.parseDefines(args["define"].as<std::vector<std::string>>()))
    return 1;
  module = session.load(args["file"].as<std::string>());
  if (!module)
    return 1;
  return std::nullopt;
}

namespace {
/// Writes the IR before the pipeline and after each pass to DIR/NN-pass.mlir.
/// The first file that cannot be written is reported once and fails the
/// command: a dump with holes is not what was asked for.
class DumpToDirectory : public mlir::PassInstrumentation {
public:
  explicit DumpToDirectory(std::string dir) : dir(std::move(dir)) {}
  bool ok() const { return !broken; }
  bool write(llvm::StringRef name, mlir::Operation *op) {
    if (broken)
      return false;
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, fmt::format("{:02}-{}.mlir", counter++, name.str()));
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (!ec) {
      op->print(os);
      os.close();
      if (os.has_error())
        ec = os.error();
      os.clear_error();
    }
    if (ec) {
      fail("--dump-ir-dir: cannot write '" + path.str().str() + "': " + ec.message());
      broken = true;
    }
    return !broken;
  }
  void runAfterPass(mlir::Pass *pass, mlir::Operation *op) override {
    write(pass->getArgument(), op);
  }

private:
  std::string dir;
  int counter = 0;
  bool broken = false;
};
} // namespace

namespace {
/// Computes the model's statistics before the first fusion pass, or before
/// memory planning when no fusion pass runs.
class ModelStatsCapture : public mlir::PassInstrumentation {
public:
  ModelStatsCapture(std::optional<ra::ModelStats> &out, bool &failed) : out(out), failed(failed) {}
  void runBeforePass(mlir::Pass *pass, mlir::Operation *op) override {
    std::string name = pass->getArgument().str();
    if (out || failed ||
        (name != "ra-plan-memory" && !llvm::is_contained(ra::fusionPassNames(), name)))
      return;
    auto s = ra::computeStats(mlir::cast<mlir::ModuleOp>(op));
    if (mlir::succeeded(s))
      out = std::move(*s);
    else
      failed = true;
  }

private:
  std::optional<ra::ModelStats> &out;
  bool &failed;
};
} // namespace

/// The largest arena of any entry point, after ra-plan-memory.
static int64_t largestArena(mlir::ModuleOp module) {
  int64_t most = 0;
  for (auto fn : module.getOps<mlir::func::FuncOp>())
    if (auto a = fn->getAttrOfType<mlir::IntegerAttr>(ra::RaDialect::kArenaBytesAttr))
      most = std::max(most, a.getInt());
  return most;
}

std::optional<ra::PipelineOptions> Session::resolveRecompute(mlir::ModuleOp module,
                                                             ra::PipelineOptions options) {
  recomputeNote.clear();
  if (options.recompute != ra::Recompute::Auto || options.noFuse ||
      llvm::is_contained(options.disabled, "recompute-activations"))
    return options;
  // Plan a copy without the pass: its arena decides.
  mlir::OwningOpRef<mlir::ModuleOp> trial = module.clone();
  ra::PipelineOptions without = options;
  without.recompute = ra::Recompute::Never;
  mlir::PassManager pm(&ctx);
  ra::buildDefaultPipeline(pm, without);
  {
    // The real run repeats the passes' warnings; only errors matter here.
    mlir::ScopedDiagnosticHandler quiet(&ctx, [](mlir::Diagnostic &d) {
      return mlir::success(d.getSeverity() != mlir::DiagnosticSeverity::Error);
    });
    if (mlir::failed(pm.run(*trial)))
      return std::nullopt;
  }
  const int64_t arena = largestArena(*trial);
  const bool needed = arena > options.memoryBudgetBytes;
  options.autoRecomputes = needed;
  recomputeNote = fmt::format("activations {}: the largest arena is {:.1f} MiB without "
                              "recomputing them, {} the {} MiB --memory-budget",
                              needed ? "recomputed" : "kept", arena / double(1 << 20),
                              needed ? "over" : "within", options.memoryBudgetBytes >> 20);
  return options;
}

void markPrecision(mlir::ModuleOp module, const ra::PipelineOptions &options) {
  if (options.precision == "f32")
    module->removeAttr(ra::RaDialect::kMatmulPrecisionAttr);
  else
    module->setAttr(ra::RaDialect::kMatmulPrecisionAttr,
                    mlir::StringAttr::get(module.getContext(), options.precision));
}

bool Session::runPipeline(mlir::ModuleOp module, const IrPrinting &printing,
                          const ra::PipelineOptions &requested, bool withStats) {
  markPrecision(module, requested);
  std::optional<ra::PipelineOptions> resolved = resolveRecompute(module, requested);
  if (!resolved)
    return false;
  const ra::PipelineOptions &pipeline = *resolved;
  mlir::PassManager pm(&ctx);
  ra::buildDefaultPipeline(pm, pipeline);
  stats.reset();
  bool statsFailed = false;
  if (withStats)
    pm.addInstrumentation(std::make_unique<ModelStatsCapture>(stats, statsFailed));

  DumpToDirectory *dumper = nullptr; // owned by pm
  std::vector<std::string> known;
  for (mlir::Pass &p : pm.getPasses())
    known.push_back(p.getArgument().str());
  for (const auto *names : {&printing.after, &printing.before})
    for (const std::string &n : *names)
      if (!llvm::is_contained(known, n)) {
        fail("no pass named '" + n + "' in the pipeline (" + llvm::join(known, ", ") + ")");
        return false;
      }

  if (printing.afterAll || !printing.after.empty() || !printing.before.empty()) {
    auto after = printing.after;
    auto before = printing.before;
    bool all = printing.afterAll;
    pm.enableIRPrinting(
        [before](mlir::Pass *p, mlir::Operation *) {
          return llvm::is_contained(before, p->getArgument().str());
        },
        [after, all](mlir::Pass *p, mlir::Operation *) {
          return all || llvm::is_contained(after, p->getArgument().str());
        },
        /*printModuleScope=*/true, /*printAfterOnlyOnChange=*/false);
  }
  if (!printing.dumpDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(printing.dumpDir)) {
      fail("cannot create '" + printing.dumpDir + "': " + ec.message());
      return false;
    }
    auto dump = std::make_unique<DumpToDirectory>(printing.dumpDir);
    if (!dump->write("frontend", module))
      return false;
    dumper = dump.get();
    pm.addInstrumentation(std::move(dump));
  }
  if (mlir::failed(pm.run(module)))
    return false;
  if (dumper && !dumper->ok())
    return false;
  return !withStats || (stats && !statsFailed);
}

} // namespace racc
