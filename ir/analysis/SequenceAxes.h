//===- SequenceAxes.h - which axes of each value run over positions -*- C++ -*-===//
//
// Inferred from @forward's inputs ([batch, seq, ...]: axis 1) through every
// op: a transpose moves the axis, a matmul keeps its row (and column) axes, a
// reduction over it removes it, a score matrix has two. Used by the
// causality check (check/CausalCheck.cpp) and the compile-time causality
// lint (passes/CheckCausality.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef RA_ANALYSIS_SEQUENCEAXES_H
#define RA_ANALYSIS_SEQUENCEAXES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <set>

namespace ra {

/// What is known of a value: whether it depends on the inputs (`data`), and
/// which of its axes run over sequence positions. `tracked` is false where an
/// op moves positions in a way the analysis does not follow.
struct SeqInfo {
  bool data = false;
  bool tracked = true;
  std::set<int64_t> axes;
};

llvm::DenseMap<mlir::Value, SeqInfo> inferSequenceAxes(mlir::func::FuncOp forward);

/// The ops whose results reach an output of @forward other than a report
/// (`report.NAME`): a report may average over positions without a leak.
llvm::DenseSet<mlir::Operation *> opsFeedingModelOutputs(mlir::func::FuncOp forward);

} // namespace ra

#endif // RA_ANALYSIS_SEQUENCEAXES_H
