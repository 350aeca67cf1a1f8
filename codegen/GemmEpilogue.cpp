//===- GemmEpilogue.cpp - bias and residual folded into the GEMM ----------===//
//
// After fusion a projection is a gemm writing C, then a fused elementwise
// kernel computing C + bias (+ residual) into C's own buffer. Both backends
// can do the addition inside the GEMM: cuBLASLt's bias epilogue with the
// residual as its C input, and a CPU BLAS with beta = 1 over C filled with
// the bias and residual first. Folding happens on the kernel form, where both
// backends see it, so the CPU build checks the folded call against the
// interpreter as it checks every other.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelForm.h"

namespace ra::codegen {
namespace {

bool sameBuffer(const BufferRef &a, const BufferRef &b) {
  return a.kind == b.kind && a.offset == b.offset && a.index == b.index &&
         a.elements == b.elements && a.dtype == b.dtype;
}

/// The inputs of a body that is a sum of inputs and nothing else, as
/// (operand, modulo) pairs, or nothing.
std::optional<std::vector<std::pair<int, int64_t>>> summands(const FusedParams &f) {
  std::vector<std::pair<int, int64_t>> leaves;
  std::vector<int> uses(f.body.size(), 0);
  for (const FusedStep &s : f.body) {
    if (s.kind == FusedStep::Input)
      leaves.push_back({s.input, s.modulo});
    else if (s.kind == FusedStep::Binary && s.fn == "Add") {
      ++uses[s.a];
      ++uses[s.b];
    } else if (s.kind == FusedStep::Unary && s.fn.empty()) { // the store of a step
      ++uses[s.a];
    } else {
      return std::nullopt;
    }
  }
  // Each step but the last (the stored one) used exactly once: a tree.
  for (size_t i = 0; i + 1 < uses.size(); ++i)
    if (uses[i] != 1)
      return std::nullopt;
  return leaves;
}

/// The epilogue of `fused` over `gemm`'s result, with its operands (bias,
/// then residual), or Epilogue::None.
GemmShape::Epilogue epilogueOf(const KernelCall &gemm, const KernelCall &fused,
                               std::vector<BufferRef> &extra) {
  const auto &g = gemm.get<GemmShape>();
  const auto &f = fused.get<FusedParams>();
  const BufferRef &c = gemm.results[0];
  if (g.batch != 1 || g.epilogue != GemmShape::Epilogue::None || f.n != g.m * g.n ||
      !sameBuffer(fused.results[0], c))
    return GemmShape::Epilogue::None;
  auto leaves = summands(f);
  if (!leaves)
    return GemmShape::Epilogue::None;
  int product = -1, bias = -1, residual = -1;
  for (auto [input, modulo] : *leaves) {
    const BufferRef &r = fused.operands[input];
    if (modulo == 0 && sameBuffer(r, c) && product < 0)
      product = input;
    else if (modulo == g.n && bias < 0 && r.dtype == ra_dtype::Dtype::F32)
      bias = input;
    else if (modulo == 0 && residual < 0 && !sameBuffer(r, c) && r.dtype == ra_dtype::Dtype::F32)
      residual = input;
    else
      return GemmShape::Epilogue::None;
  }
  if (product < 0 || bias < 0)
    return GemmShape::Epilogue::None;
  extra = {fused.operands[bias]};
  if (residual < 0)
    return GemmShape::Epilogue::Bias;
  extra.push_back(fused.operands[residual]);
  return GemmShape::Epilogue::BiasResidual;
}

} // namespace

void foldGemmEpilogues(EntryPoint &entry) {
  std::vector<KernelCall> folded;
  auto &calls = entry.calls;
  for (size_t i = 0; i < calls.size(); ++i) {
    std::vector<BufferRef> extra;
    if (i + 1 < calls.size() && calls[i].family == Family::Gemm &&
        calls[i + 1].family == Family::FusedElementwise) {
      GemmShape::Epilogue e = epilogueOf(calls[i], calls[i + 1], extra);
      if (e != GemmShape::Epilogue::None) {
        KernelCall g = calls[i];
        std::get<GemmShape>(g.params).epilogue = e;
        g.operands.insert(g.operands.end(), extra.begin(), extra.end());
        folded.push_back(std::move(g));
        ++i; // the fused kernel is the GEMM's now
        continue;
      }
    }
    folded.push_back(std::move(calls[i]));
  }
  calls = std::move(folded);
}

} // namespace ra::codegen
