//===- CudaTarget.cpp - what only the CUDA renderer does ------------------===//
//
// A __global__ kernel per distinct fused elementwise body (a grid-stride
// loop over the same per-element statements as the CPU loop), the scratch
// buffer after the arena for the kernels that sum in a fixed order, device
// copies, a failure check after every call that names the kernel's op, and
// each entry point replayed as a CUDA graph after its first call.
// Token ids are device memory: the runtime checks them on the host before
// upload (codegen::inputIdBounds), so the source has no id check.
//
//===----------------------------------------------------------------------===//
#include "abi/Abi.h"
#include "codegen/Target.h"
#include "codegen/cuda/CudaSource.h"

#include <fmt/format.h>

#include <set>
#include <tuple>

namespace ra::codegen {
namespace {

/// The kernel of a fused body, named by its profiling id.
std::string fusedKernel(const KernelCall &c, int id) {
  return fmt::format("__global__ void ra_fused_{}({}, int64_t n) {{\n"
                     "  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;\n"
                     "       i += int64_t(gridDim.x) * blockDim.x) {{\n{}  }}\n}}\n",
                     id, fusedParameters(c), fusedBody(c));
}

std::string failureCheck(const std::string &what) {
  return fmt::format("  if (ra_cuda::failed()) return ra_cuda::report(error, errorSize, \"{}\");\n",
                     cEscaped(what));
}

/// The tensor-core attention forms (padded e, padded dv, RA's term) the
/// entry points use: only these are compiled (ra_cuda_tc_attention.cuh).
std::string tensorCoreForms(const std::vector<EntryPoint> &entries) {
  std::set<std::tuple<int, int, bool>> forms;
  for (const EntryPoint &e : entries)
    for (const KernelCall &c : e.calls)
      if (c.family == Family::Attention || c.family == Family::FlashAttention ||
          c.family == Family::GatedFlashAttention || c.family == Family::FlashAttentionGrad ||
          c.family == Family::GatedFlashAttentionGrad) {
        const AttentionShape &s = c.get<AttentionShape>();
        int ep = AttentionShape::tensorCoreWidth(s.e), dp = AttentionShape::tensorCoreWidth(s.dv);
        if (s.bf16 && ep && dp)
          forms.insert({ep, dp, s.reciprocal});
      } else if (c.family == Family::HeadMeanAttention ||
                 c.family == Family::HeadMeanAttentionGrad) {
        // Its value never enters the tensor-core kernels: the narrowest dv.
        const AttentionShape &s = c.get<AttentionShape>();
        if (int ep = AttentionShape::tensorCoreWidth(s.e); s.bf16 && ep)
          forms.insert({ep, 32, s.reciprocal});
      }
  std::string list;
  for (auto [ep, dp, ra] : forms)
    list += fmt::format(" X({}, {}, {})", ep, dp, ra ? "true" : "false");
  return "// The tensor-core attention forms this model uses (--precision bf16).\n"
         "#define RA_TC_FORMS(X)" +
         list + "\n";
}

class CudaTarget : public Target {
public:
  const char *ns() const override { return "ra_cuda"; }
  const char *header() const override { return "ra_cuda_device.cuh"; }
  std::string beforeHeader(const std::vector<EntryPoint> &entries) const override {
    return tensorCoreForms(entries);
  }
  /// The fused kernels, before the entry points (they have C++ linkage).
  std::string fusedDefinition(const KernelCall &c, int id) const override {
    return fusedKernel(c, id);
  }
  /// Scratch for fixed-order sums, after the planned arena.
  std::string entryPrologue(const EntryPoint &e) const override {
    return fmt::format("  float *S = reinterpret_cast<float *>(A + {});\n  (void)S;\n",
                       abi::scratchOffset(e.arenaBytes));
  }
  std::string scratchArgument() const override { return ", S"; }
  std::optional<std::string> ownCall(const KernelCall &c, int id) const override {
    if (c.family == Family::SetParam)
      return fmt::format("  ra_cuda::copy({}, {}, {} * sizeof(float));\n", resultPointer(c, 0),
                         operandPointer(c, 0), c.get<CopyParams>().n);
    if (c.family == Family::FusedElementwise) {
      int64_t n = c.get<FusedParams>().n;
      return fmt::format("  RA_LAUNCH(ra_fused_{}, dim3(ra_cuda::gridFor({})), "
                         "dim3(ra_cuda::kThreads), 0, {}, int64_t({}));\n",
                         id, n, fusedArguments(c), n);
    }
    return std::nullopt;
  }
  /// Launch and cuBLAS failures stop the entry point, naming the kernel's op.
  std::string afterCall(const KernelCall &c) const override { return failureCheck(c.origin); }
  const char *copyFunction() const override { return "ra_cuda::copy"; }
  std::string entryEpilogue() const override { return failureCheck("the outputs"); }
  /// Replayed as a CUDA graph after its first call (ra_cuda_graphs.cuh).
  bool wrapsEntries() const override { return true; }
  std::string entryWrapper(const EntryPoint &e) const override {
    return fmt::format("  return ra_cuda::graphs::call(\"{0}\", ra_{0}_eager, {1}, {2}, P, A, in, "
                       "out, error, errorSize);\n",
                       e.name, e.inputs.size(), e.outputs.size());
  }
};

} // namespace

std::string emitCudaSource(const KernelProgram &program, const std::string &source) {
  return emitSource(program, source, CudaTarget());
}

} // namespace ra::codegen
