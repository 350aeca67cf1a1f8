//===- FamilyCalls.cpp - the call of each kernel family -------------------===//
//
// A table from kernel family to the call that renders it, shared by the CPU
// and CUDA targets: both provide a function of the same name and arguments
// in their namespace (ra_cpu, ra_cuda); the CUDA ones that sum in a fixed
// order take the scratch buffer too. Buffers become pointers into the arena,
// the parameters or the inputs.
//
//===----------------------------------------------------------------------===//
#include "codegen/Target.h"

#include <fmt/format.h>

#include <cmath>
#include <functional>

namespace ra::codegen {

std::string pointer(const BufferRef &r, bool isConst) {
  const char *type = r.dtype == ra_dtype::Dtype::I32 ? "int32_t"
                     : r.dtype == ra_dtype::Dtype::F16 || r.dtype == ra_dtype::Dtype::BF16
                         ? "uint16_t"
                         : "float";
  const char *c = isConst ? "const " : "";
  switch (r.kind) {
  case BufferRef::Arena:
    return fmt::format("reinterpret_cast<{}{} *>(A + {})", c, type, r.offset);
  case BufferRef::Param:
    return fmt::format("(P + {})", r.offset);
  case BufferRef::Input:
    return fmt::format("static_cast<{}{} *>(in[{}])", c, type, r.index);
  }
  return "nullptr";
}

std::string floatLiteral(double v) {
  if (std::isinf(v))
    return v > 0 ? "INFINITY" : "-INFINITY";
  std::string s = fmt::format("{:.9g}", v);
  if (s.find_first_of(".en") == std::string::npos)
    s += ".0";
  return s + "f";
}

std::string cEscaped(const std::string &text) {
  std::string s;
  for (char ch : text) {
    if (ch == '"' || ch == '\\')
      s += '\\';
    if (ch == '\n')
      s += "\\n";
    else
      s += ch;
  }
  return s;
}

std::string fusedBody(const KernelCall &c) {
  const auto &body = c.get<FusedParams>().body;
  std::string s;
  for (size_t k = 0; k < body.size(); ++k) {
    const FusedStep &st = body[k];
    std::string value = st.kind == FusedStep::Constant ? floatLiteral(st.value)
                                                       : fusedStepExpression(st, StepSyntax::Code);
    s += fmt::format("      const float v{} = {};\n", k, value);
    if (st.isStore())
      s += fmt::format("      {}[i] = v{};\n", fusedResultName(st.result()), k);
  }
  return s;
}

std::string fusedResultName(int result) { return result ? "o" + std::to_string(result) : "o"; }

std::string fusedParameters(const KernelCall &c) {
  std::string params;
  for (size_t k = 0; k < c.operands.size(); ++k)
    params += fmt::format("const float *x{}, ", k); // a result may be one of them: in place
  for (size_t r = 0; r < c.results.size(); ++r)
    params += fmt::format("{}float *{}", r ? ", " : "", fusedResultName(int(r)));
  return params;
}

std::string fusedArguments(const KernelCall &c) {
  std::string args;
  for (size_t k = 0; k < c.operands.size(); ++k)
    args += operandPointer(c, k) + ", ";
  for (size_t r = 0; r < c.results.size(); ++r)
    args += (r ? ", " : "") + resultPointer(c, r);
  return args;
}

namespace {

std::string list(const std::vector<int64_t> &v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + std::to_string(v[i]);
  return s;
}

std::string axis(const AxisShape &a) { return fmt::format("{}, {}, {}", a.outer, a.n, a.inner); }

const char *boolean(bool b) { return b ? "true" : "false"; }

using Renderer = std::function<std::string(const KernelCall &, const Target &)>;

std::string in(const KernelCall &c, size_t i) { return operandPointer(c, i); }
std::string out(const KernelCall &c, size_t i) { return resultPointer(c, i); }

/// `ns::AttentionShape{...}`: the attention kernels' first argument.
std::string attentionShape(const KernelCall &c, const Target &t) {
  const AttentionShape &s = c.get<AttentionShape>();
  return fmt::format("{}::AttentionShape{{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}}}",
                     t.ns(), s.b, s.h, s.tq, s.tk, s.e, s.dv, boolean(s.kShared),
                     boolean(s.vShared), floatLiteral(s.scale), boolean(s.causal),
                     boolean(s.reciprocal), s.band, boolean(s.bf16));
}

// Every attention family's operands start with q, k, v and, with RA's
// term, alpha; its results with dq, dk, dv for the backward ones, d alpha
// last of all.
std::string qkv(const KernelCall &c, const Target &t) {
  bool ra = c.get<AttentionShape>().reciprocal;
  return fmt::format("{}, {}, {}, {}, {}", attentionShape(c, t), in(c, 0), in(c, 1), in(c, 2),
                     ra ? in(c, 3) : "nullptr");
}
/// The k-th operand after q, k, v (and alpha).
std::string after(const KernelCall &c, size_t k) {
  return in(c, (c.get<AttentionShape>().reciprocal ? 4 : 3) + k);
}
std::string grads(const KernelCall &c) {
  bool ra = c.get<AttentionShape>().reciprocal;
  return fmt::format("{}, {}, {}, {}", out(c, 0), out(c, 1), out(c, 2),
                     ra ? out(c, c.results.size() - 1) : "nullptr");
}

const std::map<Family, Renderer> &renderers() {
  static const std::map<Family, Renderer> table = [] {
    std::map<Family, Renderer> t;
    t[Family::Binary] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<ElementwiseParams>();
      return fmt::format("  {}<ra_math::Binary::{}>({}, {}, {}, {});\n", tg.qualified("binary"),
                         p.fn, in(c, 0), in(c, 1), out(c, 0), p.n);
    };
    t[Family::Unary] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<ElementwiseParams>();
      return fmt::format("  {}<ra_math::Unary::{}>({}, {}, {});\n", tg.qualified("unary"), p.fn,
                         in(c, 0), out(c, 0), p.n);
    };
    t[Family::Reduce] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<ReduceParams>();
      return fmt::format("  {}<{}::Reduce::{}>({}, {}, {}{});\n", tg.qualified("reduce"), tg.ns(),
                         p.fn, in(c, 0), out(c, 0), axis(p.axis), p.bf16Input ? ", true" : "");
    };
    t[Family::Fill] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<FillParams>();
      return fmt::format("  {}({}, {}, {});\n", tg.qualified("fill"), out(c, 0),
                         floatLiteral(p.value), p.n);
    };
    t[Family::Iota] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<IotaParams>();
      return fmt::format("  {}({}, {}, {}, {});\n", tg.qualified("iota"), out(c, 0), p.n,
                         p.axisSize, p.inner);
    };
    t[Family::Gather] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<GatherParams>();
      std::string type = c.operands[0].isInt() ? "int32_t" : "float";
      return fmt::format("  {{\n    static const int64_t dims[] = {{{}}}, strides[] = {{{}}};\n"
                         "    {}<{}>({}, {}, {}, dims, strides);\n  }}\n",
                         list(p.dims), list(p.strides), tg.qualified("gather"), type, in(c, 0),
                         out(c, 0), p.dims.size());
    };
    t[Family::Slice] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<SliceParams>();
      return fmt::format("  {}({}, {}, {}, {}, {});\n", tg.qualified("slice"), in(c, 0), out(c, 0),
                         axis(p.axis), p.start, p.end);
    };
    t[Family::ConcatPart] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<ConcatPartParams>();
      return fmt::format("  {}({}, {}, {}, {}, {});\n", tg.qualified("concatPart"), in(c, 0),
                         out(c, 0), axis(p.axis), p.offset, p.total);
    };
    t[Family::Gemm] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<GemmShape>();
      if (p.epilogue == GemmShape::Epilogue::BiasGeluAux ||
          p.epilogue == GemmShape::Epilogue::BiasGelu) {
        // gelu(AB + bias) into the last result, AB + bias kept in the first (aux) or not.
        bool aux = p.epilogue == GemmShape::Epilogue::BiasGeluAux;
        return fmt::format("  {}({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}{});\n",
                           tg.qualified("gemmBiasGelu"), in(c, 0), in(c, 1), in(c, 2),
                           aux ? out(c, 0) : "nullptr", out(c, aux ? 1 : 0), p.m, p.n, p.k,
                           boolean(p.transposeA), boolean(p.transposeB), boolean(p.bf16Inputs),
                           p.aElements(), p.bElements(), tg.scratchArgument());
      }
      if (p.epilogue == GemmShape::Epilogue::BiasGrad ||
          p.epilogue == GemmShape::Epilogue::GeluGrad) {
        // The backward's: C and the sums of B's rows (the bias gradient), or
        // C = gelu'(pre) * AB with pre the third operand.
        bool biasGrad = p.epilogue == GemmShape::Epilogue::BiasGrad;
        return fmt::format("  {}({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}{});\n",
                           tg.qualified(biasGrad ? "gemmBiasGrad" : "gemmGeluGrad"), in(c, 0),
                           in(c, 1), biasGrad ? out(c, 0) : in(c, 2), out(c, biasGrad ? 1 : 0), p.m,
                           p.n, p.k, boolean(p.transposeA), boolean(p.transposeB),
                           boolean(p.bf16Inputs), p.aElements(), p.bElements(),
                           tg.scratchArgument());
      }
      if (p.epilogue != GemmShape::Epilogue::None) {
        // One product (batch 1) plus bias [+ residual]; bf16 operands rounded as below.
        bool residual = p.epilogue == GemmShape::Epilogue::BiasResidual;
        return fmt::format("  {}({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}{});\n",
                           tg.qualified("gemmBias"), in(c, 0), in(c, 1), in(c, 2),
                           residual ? in(c, 3) : "nullptr", out(c, 0), p.m, p.n, p.k,
                           boolean(p.transposeA), boolean(p.transposeB), boolean(p.bf16Inputs),
                           p.aElements(), p.bElements(), tg.scratchArgument());
      }
      // bf16: the operands rounded into scratch (their element counts), then the product.
      std::string bf16 = p.bf16Inputs ? fmt::format(", {}, {}{}", p.aElements(), p.bElements(),
                                                    tg.scratchArgument())
                                      : "";
      return fmt::format("  {{\n    static const int64_t ao[] = {{{}}}, bo[] = {{{}}};\n"
                         "    {}({}, {}, {}, {}, ao, bo, {}, {}, {}, {}, {}{});\n  }}\n",
                         list(p.aOffsets), list(p.bOffsets),
                         tg.qualified(p.bf16Inputs ? "gemmBf16" : "gemm"), in(c, 0), in(c, 1),
                         out(c, 0), p.batch, p.m, p.n, p.k, boolean(p.transposeA),
                         boolean(p.transposeB), bf16);
    };
    t[Family::CausalMean] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<CausalMeanParams>();
      return fmt::format("  {}({}, {}, {}, {});\n", tg.qualified("causalMean"), in(c, 0), out(c, 0),
                         axis(p.axis), boolean(p.grad));
    };
    t[Family::Softmax] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<RowShape>();
      return fmt::format("  {}({}, {}, {}, {});\n", tg.qualified("softmax"), in(c, 0), out(c, 0),
                         p.rows, p.width);
    };
    t[Family::LayerNorm] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<LayerNormParams>();
      return fmt::format("  {}({}, {}, {}, {}, {}, {}, {});\n", tg.qualified("layerNorm"), in(c, 0),
                         in(c, 1), in(c, 2), out(c, 0), p.row.rows, p.row.width,
                         floatLiteral(p.eps));
    };
    t[Family::LayerNormGrad] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<LayerNormParams>();
      return fmt::format("  {}({}, {}, {}, {}, {}, {}, {}, {}, {}{});\n",
                         tg.qualified("layerNormGrad"), in(c, 0), in(c, 1), in(c, 2), out(c, 0),
                         out(c, 1), out(c, 2), p.row.rows, p.row.width, floatLiteral(p.eps),
                         tg.scratchArgument());
    };
    t[Family::Embedding] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<LookupShape>();
      return fmt::format("  {}({}, {}, {}, {}, {});\n", tg.qualified("embedding"), in(c, 0),
                         in(c, 1), out(c, 0), p.ids, p.width);
    };
    t[Family::EmbeddingGrad] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<LookupShape>();
      return fmt::format("  {}({}, {}, {}, {}, {}, {});\n", tg.qualified("embeddingGrad"), in(c, 0),
                         in(c, 1), out(c, 0), p.ids, p.vocab, p.width);
    };
    t[Family::CrossEntropy] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<RowShape>();
      return fmt::format("  {}({}, {}, {}, {}, {}{});\n", tg.qualified("crossEntropy"), in(c, 0),
                         in(c, 1), out(c, 0), p.rows, p.width, tg.scratchArgument());
    };
    t[Family::CrossEntropyGrad] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<RowShape>();
      return fmt::format("  {}({}, {}, {}, {}, {}, {});\n", tg.qualified("crossEntropyGrad"),
                         in(c, 0), in(c, 1), in(c, 2), out(c, 0), p.rows, p.width);
    };
    t[Family::CrossEntropyWithGrad] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<RowShape>();
      return fmt::format("  {}({}, {}, {}, {}, {}, {}, {}{});\n",
                         tg.qualified("crossEntropyWithGrad"), in(c, 0), in(c, 1), in(c, 2),
                         out(c, 0), out(c, 1), p.rows, p.width, tg.scratchArgument());
    };
    t[Family::Attention] = [](const KernelCall &c, const Target &tg) {
      return fmt::format("  {}({}, {});\n", tg.qualified("attention"), qkv(c, tg), out(c, 0));
    };
    t[Family::AttentionGrad] = [](const KernelCall &c, const Target &tg) {
      return fmt::format("  {}({}, {}, {}{});\n", tg.qualified("attentionGrad"), qkv(c, tg),
                         after(c, 0), grads(c), tg.scratchArgument());
    };
    t[Family::FlashAttention] = [](const KernelCall &c, const Target &tg) {
      return fmt::format("  {}({}, {}, {});\n", tg.qualified("flashAttention"), qkv(c, tg),
                         out(c, 0), out(c, 1));
    };
    // Operands after alpha: result, lse, grad.
    t[Family::FlashAttentionGrad] = [](const KernelCall &c, const Target &tg) {
      return fmt::format("  {}({}, {}, {}, {}, {}{});\n", tg.qualified("flashAttentionGrad"),
                         qkv(c, tg), after(c, 0), after(c, 1), after(c, 2), grads(c),
                         tg.scratchArgument());
    };
    // Operands after alpha: gate; results gated, ungated, lse.
    t[Family::GatedFlashAttention] = [](const KernelCall &c, const Target &tg) {
      return fmt::format("  {}({}, {}, {}, {}, {});\n", tg.qualified("flashAttention"), qkv(c, tg),
                         out(c, 1), out(c, 2), after(c, 0), out(c, 0));
    };
    // Operands after alpha: gate, ungated, lse, grad; results dq, dk, dv,
    // dgate, (dalpha).
    t[Family::GatedFlashAttentionGrad] = [](const KernelCall &c, const Target &tg) {
      return fmt::format("  {}({}, {}, {}, {}, {}{}, {}, {});\n",
                         tg.qualified("flashAttentionGrad"), qkv(c, tg), after(c, 1), after(c, 2),
                         after(c, 3), grads(c), tg.scratchArgument(), after(c, 0), out(c, 3));
    };
    // Operands after alpha: lse; result mean.
    t[Family::HeadMeanAttention] = [](const KernelCall &c, const Target &tg) {
      return fmt::format("  {}({}, {}, {}{});\n", tg.qualified("headMeanAttention"), qkv(c, tg),
                         after(c, 0), out(c, 0), tg.scratchArgument());
    };
    // Operands after alpha: lse, grad; results dq, dk, dv, (dalpha).
    t[Family::HeadMeanAttentionGrad] = [](const KernelCall &c, const Target &tg) {
      return fmt::format("  {}({}, {}, {}, {}{});\n", tg.qualified("headMeanAttentionGrad"),
                         qkv(c, tg), after(c, 0), after(c, 1), grads(c), tg.scratchArgument());
    };
    // Operands q, k_past, k_new, v_past, v_new, lengths (alpha, q_past, k_recip)
    // (block_table).
    t[Family::CachedAttention] = [](const KernelCall &c, const Target &tg) {
      const CachedAttentionShape &s = c.get<CachedAttentionShape>();
      std::string shape = fmt::format(
          "{}::CachedAttentionShape{{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, "
          "ra_dtype::Dtype({})}}",
          tg.ns(), s.b, s.h, s.tc, s.e, s.dv, boolean(s.kShared), boolean(s.vShared),
          floatLiteral(s.scale), boolean(s.reciprocal), s.band, s.ring, s.er, s.block, s.blocks,
          boolean(s.qPaged), int(s.cacheType));
      bool ra = s.reciprocal;
      std::string table = s.block > 0 ? in(c, ra ? 9 : 6) : "nullptr";
      return fmt::format("  {}({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}{});\n",
                         tg.qualified("cachedAttention"), shape, in(c, 0), in(c, 1), in(c, 2),
                         in(c, 3), in(c, 4), in(c, 5), ra ? in(c, 6) : "nullptr",
                         ra ? in(c, 7) : "nullptr", ra ? in(c, 8) : "nullptr", table, out(c, 0),
                         tg.scratchArgument());
    };
    t[Family::RunningMean] = [](const KernelCall &c, const Target &tg) {
      const auto &p = c.get<RowShape>();
      return fmt::format("  {}({}, {}, {}, {}, {}, {});\n", tg.qualified("runningMean"), in(c, 0),
                         in(c, 1), in(c, 2), out(c, 0), p.rows, p.width);
    };
    return t;
  }();
  return table;
}

} // namespace

std::string familyCall(const KernelCall &c, const Target &target) {
  auto it = renderers().find(c.family);
  if (it == renderers().end())
    return fmt::format("#error no {} kernel for {}\n", target.ns(), c.name());
  return it->second(c, target);
}

} // namespace ra::codegen
