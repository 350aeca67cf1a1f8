//===- CpuTarget.cpp - what only the CPU renderer does --------------------===//
//
// Token ids checked on the way into the kernels that index a table (the
// CPU can report them; see idCheck), fused elementwise kernels as one
// OpenMP loop function per distinct kernel (a training step calls a few
// hundred of them thousands of times, AdamW's update once per parameter:
// inlined at every call they made the generated source 20x larger and its
// compile minutes long), parameter writes as memcpy, and the GEMM rate
// rarun bench measures MFU against.
//
//===----------------------------------------------------------------------===//
#include "codegen/Target.h"
#include "codegen/cpu/CpuSource.h"

#include <fmt/format.h>

namespace ra::codegen {
namespace {

/// One fused elementwise kernel: its length is static, its buffers are
/// arguments (`o` may be one of the inputs: updates in place).
std::string fusedFunction(const KernelCall &c, int id) {
  std::string params;
  for (size_t k = 0; k < c.operands.size(); ++k)
    params += fmt::format("const float *x{}, ", k);
  int64_t n = c.get<FusedParams>().n;
  return fmt::format("static void ra_fused_{}({}float *o) {{\n"
                     "#pragma omp parallel for simd if ({} > ra_cpu::kParallelMin)\n"
                     "  for (int64_t i = 0; i < {}; ++i) {{\n{}  }}\n}}\n",
                     id, params, n, n, fusedBody(c));
}

class CpuTarget : public Target {
public:
  const char *ns() const override { return "ra_cpu"; }
  const char *header() const override { return "ra_cpu_kernels.h"; }
  /// Entry points unoptimized, the kernels they call optimized (ra_cpu_common.h).
  const char *entryAttributes() const override { return "RA_ENTRY_POINT "; }
  std::string fusedDefinition(const KernelCall &c, int id) const override {
    return fusedFunction(c, id);
  }
  std::string abiFunctions() const override {
    return "\n// The GEMM rate rarun bench measures MFU against (float32 here).\n"
           "double ra_gemm_tflops(int n, int, char *, int64_t) { return ra_cpu::gemmTflops(n); }\n";
  }
  /// Sets the error and returns when an id lies outside the table.
  std::string idCheck(const KernelCall &c) const override {
    const BufferRef &ids = c.operands[familyInfo(c.family).idOperand];
    return fmt::format("  if (int64_t bad = {4}({0}, {1}, {2}); bad >= 0) {{\n"
                       "    snprintf(error, errorSize, \"token id %d at position %lld is outside "
                       "the vocabulary "
                       "[0, {2}) (%s)\", (int){0}[bad], (long long)bad, \"{3}\");\n"
                       "    return 1;\n  }}\n",
                       pointer(ids, true), ids.elements, idBound(c), cEscaped(c.origin),
                       qualified("badId"));
  }
  std::optional<std::string> ownCall(const KernelCall &c, int id) const override {
    if (c.family == Family::SetParam)
      return fmt::format("  std::memcpy({}, {}, {} * sizeof(float));\n", resultPointer(c, 0),
                         operandPointer(c, 0), c.get<CopyParams>().n);
    if (c.family == Family::FusedElementwise) {
      std::string args;
      for (size_t k = 0; k < c.operands.size(); ++k)
        args += operandPointer(c, k) + ", ";
      return fmt::format("  ra_fused_{}({}{});\n", id, args, resultPointer(c, 0));
    }
    return std::nullopt;
  }
  const char *copyFunction() const override { return "std::memcpy"; }
};

} // namespace

std::string emitCpuSource(const KernelProgram &program, const std::string &source) {
  return emitSource(program, source, CpuTarget());
}

} // namespace ra::codegen
