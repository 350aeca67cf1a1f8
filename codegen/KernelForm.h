//===- KernelForm.h - entry points as lists of kernel calls ------*- C++ -*-===//
//
// The form every code generator renders: for each entry point, the kernel
// calls in order, each a kernel family with static parameters (shapes, axes,
// constants) and references to buffers (arena offsets from ra-plan-memory,
// parameters, inputs). Two calls with equal keys are one kernel called twice:
// a 12-layer model has each distinct kernel once.
//
// Kernel formation today is one op, one kernel (GEMMs a library call); views
// (get_param, reshape, inputs) are no kernel. The fusion passes will change
// what an op is, not this form.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CODEGEN_KERNELFORM_H
#define RA_CODEGEN_KERNELFORM_H

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace ra::codegen {

/// Where parameters live in the flat parameter buffer (elements, 16-aligned).
struct ParamSlot {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0, elements = 0;
  bool trainable = true;
};
std::vector<ParamSlot> layoutParams(mlir::ModuleOp module);
int64_t paramBufferElements(const std::vector<ParamSlot> &slots);

struct BufferRef {
  enum Kind { Arena, Param, Input } kind = Arena;
  int64_t offset = 0; // bytes into the arena, or elements into the parameters
  int index = 0;      // input index
  bool isInt = false;
  int64_t elements = 0;
};

/// One step of a fused elementwise kernel's per-element body, in order: an
/// element of an input, a constant, or a unary or binary function (the names
/// of ra_math::Unary / Binary) of earlier steps.
struct FusedStep {
  enum Kind { Input, Constant, Unary, Binary } kind = Input;
  std::string fn;     // Unary/Binary: e.g. "Add", "Gelu"
  int a = -1, b = -1; // Unary/Binary: earlier steps
  int input = -1;     // Input: which operand
  int64_t modulo = 0; // Input: read at i (0), at 0 (1), or at i % modulo
  double value = 0;   // Constant
};

struct KernelCall {
  std::string family;          // e.g. "binary.add", "gemm", "attention"
  std::vector<int64_t> ints;   // static parameters
  std::vector<double> floats;  // static float parameters
  std::vector<FusedStep> body; // fused_elementwise: the per-element steps; the last is stored
  std::vector<BufferRef> operands, results;
  std::string origin; // FILE:LINE:COL of the op
  /// Family and static parameters: calls with equal keys share a kernel.
  std::string key() const;
};

struct TensorSig {
  std::string name;
  std::vector<int64_t> shape;
  bool isInt = false;
};

struct EntryPoint {
  std::string name;
  std::vector<TensorSig> inputs, outputs;
  std::vector<BufferRef> outputRefs;
  int64_t arenaBytes = 0;
  std::vector<KernelCall> calls;
};

/// For each input of `e`: the bound B its ids must lie in, [0, B), when
/// they index a table (embedding rows, cross-entropy classes), directly or
/// through layout copies; 0 for inputs that index nothing. The runtime checks
/// ids on the host before a call (on a GPU the kernels cannot report them).
std::vector<int64_t> inputIdBounds(const EntryPoint &e);

/// Forms every entry point of a module after ra-plan-memory. Reports (and
/// fails on) what the generators cannot render, such as a parameter read
/// after it was written.
mlir::FailureOr<std::vector<EntryPoint>> formKernels(mlir::ModuleOp module);

} // namespace ra::codegen

#endif // RA_CODEGEN_KERNELFORM_H
