//===- PositionMixing.h - ops that combine sequence positions ----*- C++ -*-===//
//
// Where @forward combines values of different positions other than through
// a causal attention or a causal mean. Two users, one list: the compile-time
// causality lint (passes/CheckCausality.cpp) warns about the ops that let a
// position see later tokens, and the inference-cache analysis
// (InferenceCache.h) refuses to derive decoding through any of them, since a
// decoder computes position i before later ones exist.
//
//===----------------------------------------------------------------------===//
#ifndef RA_ANALYSIS_POSITIONMIXING_H
#define RA_ANALYSIS_POSITIONMIXING_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>
#include <vector>

namespace ra {

struct PositionMixing {
  mlir::Operation *op;
  std::string reason; // "'ra.reduce_mean' over the sequence axis mixes every position"
  bool leak;          // a position sees later tokens (else: not followed by the analysis)
};

/// The ops feeding @forward's model outputs (not `report.NAME`) that mix
/// positions: reductions over a sequence axis and attention without its
/// causal mask (leaks), and products contracting a sequence axis or ops the
/// sequence-axes analysis cannot follow (neither provably causal nor a leak).
std::vector<PositionMixing> findPositionMixing(mlir::func::FuncOp forward);

} // namespace ra

#endif // RA_ANALYSIS_POSITIONMIXING_H
