//===- GraphFuzzer.cpp - libFuzzer target for the .graph front end --------===//
//
// Feeds arbitrary bytes to the front end as a .graph file (imports off) and
// checks its contract: it never crashes or hangs; when it fails it has
// reported an error; when it succeeds the module verifies.
//
// Build with clang and -DRACC_FUZZ=ON (scripts/fuzz.sh graph); racc-fuzz-replay-graph
// runs the same function over the corpus in every test run.
//
//===----------------------------------------------------------------------===//
#include "ir/frontend/Frontend.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::MLIRContext *ctx = [] {
    auto *c = new mlir::MLIRContext(mlir::MLIRContext::Threading::DISABLED);
    ra::graph::registerFrontendDialects(*c);
    return c;
  }();
  int errors = 0;
  mlir::ScopedDiagnosticHandler handler(ctx, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error)
      ++errors;
    return mlir::success();
  });
  llvm::SourceMgr sources;
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.graph");
  ra::graph::FrontendOptions options;
  options.allowImports = false;
  auto module = ra::graph::compileGraphBuffer(*ctx, sources, std::move(buffer), options);
  if (!module && errors == 0) {
    std::fprintf(stderr, "front end failed without reporting an error\n");
    std::abort();
  }
  if (module && (errors != 0 || mlir::failed(mlir::verify(*module)))) {
    std::fprintf(stderr, "front end returned a module that does not verify\n");
    std::abort();
  }
  return 0;
}
