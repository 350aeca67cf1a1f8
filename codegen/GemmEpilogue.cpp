//===- GemmEpilogue.cpp - bias, residual and GELU folded into the GEMM ----===//
//
// After fusion a projection is a gemm writing C, then a fused elementwise
// kernel computing C + bias (+ residual) into C's own buffer, and in the MLP
// a GELU of that C, in place (inference) or into another buffer (training,
// whose backward reads C). Both backends can do these inside the GEMM:
// cuBLASLt's bias epilogue with the residual as its C input (and its GELU
// epilogues, GELU_AUX_BIAS keeping C as its aux output), and a CPU BLAS with
// beta = 1 over C filled with the bias and residual first. Folding happens
// on the kernel form, where both backends see it, so the CPU build checks
// the folded call against the interpreter as it checks every other.
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
  // gelu(C + bias) stored in place: the sum below the GELU (inference's MLP).
  FusedParams sum = f;
  bool gelu = false;
  if (sum.body.size() >= 2) {
    const FusedStep &stored = sum.body[sum.body.size() - 2];
    if (sum.body.back().a == int(sum.body.size()) - 2 && stored.kind == FusedStep::Unary &&
        stored.fn == "Gelu" && stored.a == int(sum.body.size()) - 3) {
      gelu = true;
      sum.body.erase(sum.body.end() - 2);
      sum.body.back().a = int(sum.body.size()) - 2;
    }
  }
  auto leaves = summands(sum);
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
  if (gelu)
    return residual < 0 ? GemmShape::Epilogue::BiasGelu : GemmShape::Epilogue::None;
  if (residual < 0)
    return GemmShape::Epilogue::Bias;
  extra.push_back(fused.operands[residual]);
  return GemmShape::Epilogue::BiasResidual;
}

/// Whether `next` is the GELU of a bias-epilogue GEMM `g`'s whole result,
/// into another buffer.
bool geluOfResult(const KernelCall &g, const KernelCall &next) {
  if (next.family != Family::Unary || next.get<ElementwiseParams>().fn != "Gelu")
    return false;
  const auto &shape = g.get<GemmShape>();
  const BufferRef &c = g.results[0];
  return shape.epilogue == GemmShape::Epilogue::Bias &&
         next.get<ElementwiseParams>().n == shape.m * shape.n && sameBuffer(next.operands[0], c) &&
         !sameBuffer(next.results[0], c);
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
        ++i; // the fused kernel is the GEMM's now
        // The MLP's GELU right after its biased projection: G = gelu(C) too.
        if (i + 1 < calls.size() && geluOfResult(g, calls[i + 1])) {
          std::get<GemmShape>(g.params).epilogue = GemmShape::Epilogue::BiasGeluAux;
          g.results.push_back(calls[i + 1].results[0]);
          ++i;
        }
        folded.push_back(std::move(g));
        continue;
      }
    }
    folded.push_back(std::move(calls[i]));
  }
  calls = std::move(folded);
}

} // namespace ra::codegen
