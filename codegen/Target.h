//===- Target.h - what a backend's renderer provides -------------*- C++ -*-===//
//
// Generated source is one skeleton for every backend (SourceEmitter.cpp:
// the ABI functions, the profiling table, an `extern "C"` function per entry
// point calling each kernel in order) and the calls of the kernel families
// (FamilyCalls.cpp), rendered for a Target: its kernels' namespace and the
// few things only it does (cpu/CpuTarget.cpp, cuda/CudaTarget.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef RA_CODEGEN_TARGET_H
#define RA_CODEGEN_TARGET_H

#include "codegen/KernelForm.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ra::codegen {

/// Each distinct kernel's profiling id, by key, in order of first call.
using KernelIds = std::map<std::string, int>;

class Target {
public:
  virtual ~Target() = default;
  /// The namespace of the kernel functions: ra_cpu or ra_cuda.
  virtual const char *ns() const = 0;
  /// The header the source includes (and the artifact ships).
  virtual const char *header() const = 0;
  /// Definitions before the kernels' header (what it compiles).
  virtual std::string beforeHeader(const std::vector<EntryPoint> &) const { return ""; }
  /// Kernels and definitions before the `extern "C"` block: each distinct
  /// fused elementwise kernel's definition, once (SourceEmitter.cpp).
  virtual std::string preamble(const std::vector<EntryPoint> &entries, const KernelIds &ids) const;
  /// The definition of the fused elementwise kernel `ra_fused_ID`.
  virtual std::string fusedDefinition(const KernelCall &, int id) const = 0;
  /// ABI functions beside ra_abi_version.
  virtual std::string abiFunctions() const { return ""; }
  /// What precedes an entry point's definition (attributes).
  virtual const char *entryAttributes() const { return ""; }
  /// The start of an entry point's body.
  virtual std::string entryPrologue(const EntryPoint &) const { return ""; }
  /// Before a call whose family reads token ids: their check.
  virtual std::string idCheck(const KernelCall &) const { return ""; }
  /// The scratch argument of the families that sum in a fixed order.
  virtual std::string scratchArgument() const { return ""; }
  /// The call of a family this target renders itself (set_param,
  /// fused_elementwise), or nullopt for the shared rendering.
  virtual std::optional<std::string> ownCall(const KernelCall &, int id) const = 0;
  /// After each call.
  virtual std::string afterCall(const KernelCall &) const { return ""; }
  /// How an output is copied out: std::memcpy or ra_cuda::copy.
  virtual const char *copyFunction() const = 0;
  /// After the outputs are copied.
  virtual std::string entryEpilogue() const { return ""; }
  /// Whether the `extern "C"` entry point `ra_NAME` wraps the kernel calls,
  /// which are then `static int ra_NAME_eager(...)`: the wrapper's body
  /// (entryWrapper), e.g. to replay them as a CUDA graph.
  virtual bool wrapsEntries() const { return false; }
  virtual std::string entryWrapper(const EntryPoint &) const { return ""; }

  /// `ns()::name`.
  std::string qualified(const std::string &name) const { return std::string(ns()) + "::" + name; }
};

/// The translation unit of `entries` for `target`: an `extern "C"` function
/// per entry point with abi::EntryFn's signature, returning 0 or 1 with a
/// message in `error`.
std::string emitSource(const KernelProgram &program, const std::string &source,
                       const Target &target);

/// The call of a kernel family in the shared form: its function in
/// target.ns() with the call's pointers and static parameters.
std::string familyCall(const KernelCall &call, const Target &target);

// Pieces of rendering the targets share.

/// A buffer as a C++ pointer expression into P (parameters), A (arena) or in.
std::string pointer(const BufferRef &r, bool isConst);
inline std::string operandPointer(const KernelCall &c, size_t i) {
  return pointer(c.operands[i], true);
}
inline std::string resultPointer(const KernelCall &c, size_t i) {
  return pointer(c.results[i], false);
}
/// A float literal C++ reads back exactly: `1.0f`, `1e-05f`, `-0.5f`.
std::string floatLiteral(double v);
/// `text` as the inside of a C string literal.
std::string cEscaped(const std::string &text);
/// A fused elementwise kernel's per-element statements, reading inputs x0,
/// x1, ... at element i and storing the last step to o[i]: the same text
/// for the CPU loop and the CUDA kernel (ra_math is shared by both).
std::string fusedBody(const KernelCall &c);
/// The name of a fused kernel's result r in its body: o, o1, o2, ...
std::string fusedResultName(int result);
/// A fused kernel's parameters (`const float *x0, ..., float *o, float
/// *o1, ...`) and a call's arguments for them.
std::string fusedParameters(const KernelCall &c);
std::string fusedArguments(const KernelCall &c);

} // namespace ra::codegen

#endif // RA_CODEGEN_TARGET_H
