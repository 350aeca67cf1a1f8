//===- TestUtil.h - compiling .graph text in unit tests ----------*- C++ -*-===//
#ifndef RACC_TEST_UNIT_TESTUTIL_H
#define RACC_TEST_UNIT_TESTUTIL_H

#include "ir/frontend/Frontend.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <string>
#include <vector>

namespace racc::test {

/// Compiles `source` (or the file `path`) and records every diagnostic as
/// "LINE:COL: message" (line 0 for locations outside a file).
struct Compiled {
  mlir::MLIRContext ctx;
  llvm::SourceMgr sources;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::vector<std::string> errors;

  explicit Compiled(const std::string &source,
                    std::vector<std::pair<std::string, std::string>> defines = {},
                    bool isPath = false) {
    mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
      if (d.getSeverity() != mlir::DiagnosticSeverity::Error)
        return mlir::success();
      mlir::Location loc = d.getLocation();
      while (auto cs = loc.dyn_cast<mlir::CallSiteLoc>())
        loc = cs.getCallee();
      std::string where = "0:0";
      if (auto fl = loc.dyn_cast<mlir::FileLineColLoc>())
        where = std::to_string(fl.getLine()) + ":" + std::to_string(fl.getColumn());
      errors.push_back(where + ": " + d.str());
      return mlir::success();
    });
    ra::graph::FrontendOptions options;
    options.defines = std::move(defines);
    if (isPath) {
      module = ra::graph::compileGraphFile(ctx, sources, source, options);
    } else {
      options.allowImports = false;
      module = ra::graph::compileGraphBuffer(
          ctx, sources, llvm::MemoryBuffer::getMemBufferCopy(source, "test.graph"), options);
    }
  }
};

} // namespace racc::test

#endif // RACC_TEST_UNIT_TESTUTIL_H
