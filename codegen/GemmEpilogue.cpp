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
// The backward pass has two more, which are not next to their GEMMs:
// - a bias's gradient, the sum of dY over its rows, where a weight's
//   gradient X^T dY reads the same dY: cuBLASLt's BGRADA sums the GEMM's
//   operand as it reads it (fuse-weight-gradients makes the sum one);
// - the GELU's backward dC = gelu'(C) * dG over a GEMM's dG = dY W^T, which
//   the planner writes over dG (PlanMemory): cuBLASLt's DGELU, with C as aux.
// A call between the two that touches what the fold moves (the gradient's
// buffer, the product's operands, C) keeps them apart.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelForm.h"

#include <algorithm>

namespace ra::codegen {
namespace {

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
    } else if (s.isStore()) {
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

bool reads(const KernelCall &c, const BufferRef &r) {
  return std::any_of(c.operands.begin(), c.operands.end(),
                     [&](const BufferRef &o) { return overlaps(o, r); });
}
bool writes(const KernelCall &c, const BufferRef &r) {
  return std::any_of(c.results.begin(), c.results.end(),
                     [&](const BufferRef &o) { return overlaps(o, r); });
}

/// The calls strictly between positions i and j, in either order.
template <class F> bool noneBetween(const std::vector<KernelCall> &calls, size_t i, size_t j, F f) {
  for (size_t at = std::min(i, j) + 1; at < std::max(i, j); ++at)
    if (f(calls[at]))
      return false;
  return true;
}

bool plainGemm(const KernelCall &c) {
  if (c.family != Family::Gemm)
    return false;
  const auto &g = c.get<GemmShape>();
  return g.batch == 1 && g.epilogue == GemmShape::Epilogue::None;
}

/// The reduce.Sum that sums GEMM `i`'s B over its k rows into a gradient
/// the GEMM can write instead (BGRADA: A^T B with B as stored, k x n), or
/// -1. It may come before or after the GEMM; nothing between may write B or
/// touch the gradient's buffer.
int biasGradientOf(const std::vector<KernelCall> &calls, size_t i) {
  const KernelCall &gemm = calls[i];
  const auto &g = gemm.get<GemmShape>();
  if (!g.transposeA || g.transposeB)
    return -1;
  const BufferRef &b = gemm.operands[1];
  for (size_t j = 0; j < calls.size(); ++j) {
    const KernelCall &c = calls[j];
    if (c.family != Family::Reduce || c.get<ReduceParams>().fn != "Sum" ||
        c.get<ReduceParams>().bf16Input != g.bf16Inputs)
      continue;
    const AxisShape &axis = c.get<ReduceParams>().axis;
    if (axis.outer != 1 || axis.n != g.k || axis.inner != g.n || !sameBuffer(c.operands[0], b) ||
        b.elements != g.k * g.n)
      continue;
    const BufferRef &db = c.results[0];
    if (reads(gemm, db) || writes(gemm, db))
      continue;
    if (noneBetween(calls, i, j, [&](const KernelCall &x) {
          return writes(x, b) || reads(x, db) || writes(x, db);
        }))
      return int(j);
  }
  return -1;
}

/// The GELU's backward over GEMM `i`'s whole product, written in its place
/// (DGELU), or -1: the next call to touch the product, with nothing between
/// writing the GELU's input.
int geluGradientOf(const std::vector<KernelCall> &calls, size_t i) {
  const KernelCall &gemm = calls[i];
  const auto &g = gemm.get<GemmShape>();
  const BufferRef &product = gemm.results[0];
  for (size_t j = i + 1; j < calls.size(); ++j) {
    const KernelCall &c = calls[j];
    if (!reads(c, product) && !writes(c, product))
      continue;
    if (c.family != Family::Binary || c.get<ElementwiseParams>().fn != "GeluGrad" ||
        c.get<ElementwiseParams>().n != g.m * g.n || !sameBuffer(c.operands[1], product) ||
        !sameBuffer(c.results[0], product))
      return -1;
    const BufferRef &pre = c.operands[0];
    if (pre.elements != g.m * g.n || overlaps(pre, product) ||
        !noneBetween(calls, i, j, [&](const KernelCall &x) { return writes(x, pre); }))
      return -1;
    return int(j);
  }
  return -1;
}

/// The backward pass's folds: each plain GEMM takes the bias gradient or the
/// GELU's backward it can compute, and the call that did is dropped at once,
/// so that the next fold's checks see the GEMM's new results.
void foldBackwardEpilogues(std::vector<KernelCall> &calls) {
  for (size_t i = 0; i < calls.size(); ++i) {
    if (!plainGemm(calls[i]))
      continue;
    auto &shape = std::get<GemmShape>(calls[i].params);
    int j = biasGradientOf(calls, i);
    if (j >= 0) {
      shape.epilogue = GemmShape::Epilogue::BiasGrad;
      calls[i].results.push_back(calls[j].results[0]);
    } else if ((j = geluGradientOf(calls, i)) >= 0) {
      shape.epilogue = GemmShape::Epilogue::GeluGrad;
      calls[i].operands.push_back(calls[j].operands[0]);
    } else {
      continue;
    }
    calls.erase(calls.begin() + j);
    if (size_t(j) < i)
      --i;
  }
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
  foldBackwardEpilogues(calls);
}

} // namespace ra::codegen
