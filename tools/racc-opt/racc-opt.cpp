//===- racc-opt.cpp - mlir-opt for the ra dialect -------------------------===//
//
// Runs any registered pass or pipeline on `.mlir` input, the MLIR way of
// testing one pass at a time: `racc-opt --canonicalize file.mlir`.
//
//===----------------------------------------------------------------------===//
#include "ir/RaDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<ra::RaDialect, mlir::func::FuncDialect>();
  mlir::registerTransformsPasses();
  ra::registerPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "racc-opt: the ra dialect's optimizer driver", registry));
}
