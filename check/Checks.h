//===- Checks.h - the checks of `racc check` ----------------------*- C++ -*-===//
//
// Three questions a researcher asks of every new variant, each answered by
// running the reference interpreter:
//   - gradCheck:   are the derivatives right? (finite differences, float64)
//   - passCheck:   does every pass keep the function the same?
//   - causalCheck: can a position see the future?
//
//===----------------------------------------------------------------------===//
#ifndef RA_CHECK_CHECKS_H
#define RA_CHECK_CHECKS_H

#include "passes/Passes.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace ra::check {

struct GradCheckOptions {
  uint64_t seed = 0;
  /// Entries checked per parameter: all of a small one, this many sampled of
  /// a large one.
  int samplesPerParam = 4;
  /// Finite-difference step, relative to max(1, |x|).
  double step = 1e-3;
};

struct GradCheckEntry {
  std::string param;
  int64_t index = 0;
  double analytic = 0, numeric = 0, relError = 0;
};

struct GradCheckResult {
  double maxRelError = 0;
  double maxAbsError = 0;
  int64_t checked = 0;
  GradCheckEntry worst;
};

/// Compares @grad of `module` (after ra-autodiff, evaluated in float64)
/// with five-point central differences of @forward's loss in extended
/// precision, at parameters drawn from their initializers (gains and biases
/// jittered off 1 and 0) and random inputs. The relative error of an entry
/// is |a - n| / max(|a|, |n|, 1e-6 * scale), with `scale` the largest
/// gradient entry checked: an entry a million times smaller than the largest
/// one is compared absolutely.
mlir::FailureOr<GradCheckResult> gradCheck(mlir::ModuleOp module, const GradCheckOptions &options);

/// Where two evaluations differ most, by how much of its allowance an
/// element uses: the entry point, the output (by its .graph name) or the
/// parameter it wrote, the element and the two values.
struct PassDifference {
  std::string pass;           // the pass after which it was seen
  std::string entry;          // e.g. train_step
  std::string tensor;         // "output loss" or "parameter h.0.attn.w_q"
  int64_t index = 0;          // flat, row-major; -1 when the shapes differ
  std::vector<int64_t> shape; // the tensor's shape before the pass
  double before = 0, after = 0;
  double relDiff = 0;         // |after - before| / scale
  double allowedRelDiff = 0;  // what the element was allowed, / scale
  double used = 0;            // relDiff / allowedRelDiff: above 1 fails
  bool roundingBound = false; // the allowance includes the measured rounding noise
};

struct PassCheckResult {
  int checked = 0;                         // passes run
  std::vector<std::string> diverging;      // passes that changed a function
  std::vector<PassDifference> differences; // one per diverging pass, its worst element
  double maxRelDiff = 0;
  PassDifference worst;   // the element nearest its allowance, of any pass
  PassDifference largest; // the element that differs most relative to its scale
  int noiseMeasured = 0;  // passes whose difference needed the rounding-noise bound
};

/// Runs `pipeline` on `module` one pass at a time, evaluating every entry
/// point before and after each pass on the same random inputs and
/// parameters; a pass that changes any output or parameter update beyond
/// what it is allowed is diverging. As in gradCheck, an element is compared
/// relative to its scale, max(|before|, |after|, 1e-6 * the tensor's largest
/// magnitude), and allowed `tolerance` of it; an element that differs by
/// more is allowed a thousand times the float64 rounding noise measured on
/// it by Monte Carlo arithmetic, before and after the pass (PassCheck.cpp
/// derives it; docs/checks.md explains it). A pass that creates @grad is
/// also checked to give @forward's loss.
mlir::FailureOr<PassCheckResult> passCheck(mlir::ModuleOp module,
                                           const std::vector<PassFactory> &pipeline, uint64_t seed,
                                           double tolerance = 1e-10);

struct CausalLeak {
  std::string op;       // e.g. ra.reduce_mean
  std::string location; // FILE:LINE:COL of the op
  int64_t position = 0; // the last unperturbed position
};

struct CausalCheckResult {
  bool ok = true;
  int positionsChecked = 0;
  std::vector<CausalLeak> leaks;
};

/// Perturbs the tokens after position p (for several p) and checks that
/// nothing at positions <= p moves: the logits there, and every
/// intermediate value along its sequence axis. A leak is reported at the
/// first op whose past part changes.
mlir::FailureOr<CausalCheckResult> causalCheck(mlir::ModuleOp module, uint64_t seed);

} // namespace ra::check

#endif // RA_CHECK_CHECKS_H
