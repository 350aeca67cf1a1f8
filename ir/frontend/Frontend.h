//===- Frontend.h - the .graph front end's entry points ----------*- C++ -*-===//
//
// Loads a `.graph` file and its imports, runs the program at compile time and
// returns a module in the `ra` dialect: the parameters as `ra.param` symbols
// and one `func.func @forward` from the declared inputs to the declared
// outputs. Calls and loops are expanded here; the call path of every op is
// kept in its location (CallSiteLoc), and parameters are named by it.
//
// Errors go through the context's diagnostic engine at FileLineColLoc
// locations whose file names are the buffers of `sources`, so a
// SourceMgrDiagnosticHandler on `sources` prints them with the source line.
//
//===----------------------------------------------------------------------===//
#ifndef RA_FRONTEND_FRONTEND_H
#define RA_FRONTEND_FRONTEND_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ra::graph {

struct FrontendOptions {
  /// `-D name=value` overrides, in command-line order.
  std::vector<std::pair<std::string, std::string>> defines;
  /// Imports are refused when false (the fuzzer reads no files).
  bool allowImports = true;
};

/// Limits that turn a runaway or absurd program into an error, not a hang.
constexpr int64_t kMaxSourceBytes = 16 << 20;
constexpr int kMaxCallDepth = 64;
constexpr int kMaxImportDepth = 32;
constexpr int64_t kMaxLoopTrips = 100000;
constexpr int64_t kMaxOps = 2000000;
constexpr int64_t kMaxTensorElements = int64_t(1) << 36;

mlir::OwningOpRef<mlir::ModuleOp> compileGraphFile(mlir::MLIRContext &ctx, llvm::SourceMgr &sources,
                                                   llvm::StringRef path,
                                                   const FrontendOptions &options = {});

mlir::OwningOpRef<mlir::ModuleOp> compileGraphBuffer(mlir::MLIRContext &ctx,
                                                     llvm::SourceMgr &sources,
                                                     std::unique_ptr<llvm::MemoryBuffer> buffer,
                                                     const FrontendOptions &options = {});

/// Registers the dialects the front end produces.
void registerFrontendDialects(mlir::MLIRContext &ctx);

} // namespace ra::graph

#endif // RA_FRONTEND_FRONTEND_H
