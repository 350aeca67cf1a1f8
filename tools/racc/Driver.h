//===- Driver.h - what every racc command shares ------------------*- C++ -*-===//
//
// Context set-up, diagnostics, loading a model with -D overrides, and running
// the default pipeline with the IR printing options.
//
//===----------------------------------------------------------------------===//
#ifndef RACC_DRIVER_H
#define RACC_DRIVER_H

#include "ir/analysis/ModelStats.h"
#include "passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <cxxopts.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace racc {

struct IrPrinting {
  bool afterAll = false;
  std::vector<std::string> after, before; // pass arguments, e.g. "cse"
  std::string dumpDir;                    // one numbered file per pass
};

/// Owns the context and the sources a command works on. Diagnostics print as
/// `FILE:LINE:COL: error: ...` with the source line and a caret; those with
/// no location as `racc: error: ...`.
class Session {
public:
  Session();
  ~Session();

  /// Parses `-D name=value` strings; reports malformed ones.
  bool parseDefines(const std::vector<std::string> &raw);
  /// The model at `path`, elaborated; null after an error.
  mlir::OwningOpRef<mlir::ModuleOp> load(const std::string &path);
  /// Runs the default pipeline; false after an error. With `withStats`, it
  /// also takes the model's statistics as the pipeline reaches its first
  /// fusion pass (or memory planning), and fails if it cannot.
  bool runPipeline(mlir::ModuleOp module, const IrPrinting &printing = {},
                   const ra::PipelineOptions &pipeline = {}, bool withStats = false);
  /// The statistics of the last runPipeline with `withStats`: parameters,
  /// the cache and the model's FLOPs before fusion, the same for a fused and
  /// an unfused build (so MFU is model FLOPs over time: a fused build gets
  /// no credit for the work it recomputes).
  const ra::ModelStats &modelStats() const { return *stats; }
  /// What the last runPipeline decided for --recompute auto, as a sentence
  /// (empty when nothing was decided).
  const std::string &recomputeDecision() const { return recomputeNote; }

  mlir::MLIRContext &context() { return ctx; }

private:
  mlir::MLIRContext ctx;
  llvm::SourceMgr sources;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> sourceHandler;
  mlir::DiagnosticEngine::HandlerID plainHandler = 0;
  std::vector<std::pair<std::string, std::string>> defines;
  std::optional<ra::ModelStats> stats;
  std::string recomputeNote;

  /// `options` with --recompute auto decided (`autoRecomputes`): the
  /// pipeline runs once without the pass on a copy of `module`, and the
  /// pass recomputes only if that copy's largest arena exceeds the budget.
  std::optional<ra::PipelineOptions> resolveRecompute(mlir::ModuleOp module,
                                                      ra::PipelineOptions options);
};

/// Adds the options every command on a model takes: FILE, -D, --help.
void addModelOptions(cxxopts::Options &options);

/// --no-fuse, --disable-pass NAME and decoding's paging, --block-positions and
/// --cache-blocks (racc compile, racc check).
void addPipelineOptions(cxxopts::Options &options);
/// The pipeline options they ask for, or the exit status of an error.
std::optional<int> pipelineOptions(const cxxopts::ParseResult &args, ra::PipelineOptions &out);

/// Marks `module` with the matmul precision `options` ask for
/// (ra.matmul_precision), which the interpreter and the code generators
/// read; runPipeline does it first.
void markPrecision(mlir::ModuleOp module, const ra::PipelineOptions &options);

/// The common start of such a command: prints --help, checks FILE, applies
/// -D and loads the model into `module`. Returns the exit status when the
/// command should stop there.
std::optional<int> loadModel(const cxxopts::ParseResult &args, const cxxopts::Options &options,
                             Session &session, mlir::OwningOpRef<mlir::ModuleOp> &module);

/// Prints `racc: error: message` to stderr and returns 1 (the exit status).
int fail(const std::string &message);

} // namespace racc

#endif // RACC_DRIVER_H
