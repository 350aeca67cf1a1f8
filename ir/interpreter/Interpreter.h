//===- Interpreter.h - the reference interpreter of the ra dialect -*- C++ -*-===//
//
// Evaluates a function of an ra module op by op, in float64, float32 or
// extended precision (each op computes in long double and rounds its results). It is the oracle:
// gradient checks by finite differences, the check that passes keep the function the same, and the
// agreement of generated code all compare against it.
//
//===----------------------------------------------------------------------===//
#ifndef RA_INTERPRETER_INTERPRETER_H
#define RA_INTERPRETER_INTERPRETER_H

#include "abi/Init.h"
#include "ir/interpreter/Tensor.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <vector>

namespace ra::interp {

/// F64 and F32 round every op's results as an implementation in that type
/// would; Extended keeps long double throughout (finite differences use it:
/// their rounding noise is then a thousand times below float64's).
enum class Precision { F64, F32, Extended };

class Interpreter {
public:
  explicit Interpreter(mlir::ModuleOp module, Precision precision = Precision::F64)
      : module(module), precision(precision) {}

  /// Runs `function` on `inputs`. Parameters are read from `params`;
  /// `ra.set_param` writes land there when the function returns. Errors (a
  /// token id out of range, a missing parameter) are emitted as diagnostics.
  mlir::FailureOr<std::vector<Tensor>> run(llvm::StringRef function,
                                           const std::vector<Tensor> &inputs, ParamStore &params);

  /// Called after every op with its results: the causality check watches
  /// where a perturbation first shows.
  std::function<void(mlir::Operation *, const std::vector<Tensor> &)> observer;

  /// Called after each op of the function's body with (ops done, ops in all).
  std::function<void(size_t, size_t)> progress;

  /// Monte Carlo arithmetic (Parker, 1997): with u > 0, every float element
  /// an op produces is multiplied by (1 + u * xi), xi uniform in [-1, 1),
  /// before its rounding. At u = 2^-53 a run is one sample of what float64
  /// rounding at every op boundary does to each output: the pass check
  /// measures with it how far a rewrite that rounds elsewhere may move an
  /// ill-conditioned element.
  void setRoundingNoise(double unitRoundoff, uint64_t seed) {
    noise = unitRoundoff;
    noiseSeed = seed;
  }

private:
  mlir::ModuleOp module;
  Precision precision;
  double noise = 0;
  uint64_t noiseSeed = 0;
};

/// The most memory a run of `function` holds at once: its live values
/// (each freed after its last use), the parameter store and the copies its
/// parameter writes hold, in the interpreter's element type.
mlir::FailureOr<uint64_t> peakValueBytes(mlir::ModuleOp module, llvm::StringRef function);

/// Parameters at their declared initializers, drawn from `seed`. Each
/// parameter's draw depends only on the seed and its name.
ParamStore initParams(mlir::ModuleOp module, uint64_t seed);

/// initParams, with every trainable parameter not drawn from normal(std)
/// (gains at 1, biases at 0, constants) moved off its special value by
/// normal(0, 0.1); optimizer state stays at its initializer.
/// (A check at b = 0 cannot tell `x + b` from `x - b`.)
ParamStore checkParams(mlir::ModuleOp module, uint64_t seed);

/// Random inputs for `function`: floats normal(0, 1); integers (token ids)
/// uniform over the smallest vocabulary they index (an embedding table's
/// rows, a cross-entropy's classes).
std::vector<Tensor> randomInputs(mlir::ModuleOp module, llvm::StringRef function, uint64_t seed);

/// The number of valid ids for an integer value: the smallest table or
/// class count it reaches through layout ops; 1 when it reaches none.
int64_t idRange(mlir::Value ids);

using ra::hashName;
using ra::Rng;

} // namespace ra::interp

#endif // RA_INTERPRETER_INTERPRETER_H
