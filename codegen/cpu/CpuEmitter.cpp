//===- CpuEmitter.cpp - C++ source for the CPU from the kernel form -------===//
//
// A table from kernel family to the call that renders it; buffers become
// pointers into the arena, the parameters or the inputs.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/CpuEmitter.h"
#include "abi/Abi.h"
#include "abi/ra_attention_shape.h"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>

namespace ra::codegen {
namespace {

/// The kernel namespace of the backend being rendered: ra_cpu or ra_cuda.
thread_local const char *kNs = "ra_cpu";
thread_local bool kCuda = false;

std::string ns(const std::string &name) { return std::string(kNs) + "::" + name; }

std::string ptr(const BufferRef &r, bool isConst) {
  const char *type = r.isInt ? "int32_t" : "float";
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

/// A float literal C++ reads back exactly: `1.0f`, `1e-05f`, `-0.5f`.
std::string floatLiteral(double v) {
  if (std::isinf(v))
    return v > 0 ? "INFINITY" : "-INFINITY";
  std::string s = fmt::format("{:.9g}", v);
  if (s.find_first_of(".en") == std::string::npos)
    s += ".0";
  return s + "f";
}

std::string in(const KernelCall &c, size_t i) { return ptr(c.operands[i], true); }
std::string out(const KernelCall &c, size_t i) { return ptr(c.results[i], false); }

std::string list(const std::vector<int64_t> &v, size_t begin, size_t end) {
  std::string s;
  for (size_t i = begin; i < end; ++i)
    s += (i > begin ? ", " : "") + std::to_string(v[i]);
  return s;
}

/// `text` as the inside of a C string literal.
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

/// An id check before a kernel that indexes a table: sets the error and
/// returns. CUDA ids are device memory, so the runtime checks them on the host
/// before upload (codegen::inputIdBounds), and the CUDA source has no check.
std::string idCheck(const std::string &ids, int64_t n, int64_t vocab, const KernelCall &c) {
  if (kCuda)
    return "";
  return fmt::format("  if (int64_t bad = {4}({0}, {1}, {2}); bad >= 0) {{\n"
                     "    snprintf(error, errorSize, \"token id %d at position %lld is outside the "
                     "vocabulary "
                     "[0, {2}) (%s)\", (int){0}[bad], (long long)bad, \"{3}\");\n"
                     "    return 1;\n  }}\n",
                     ids, n, vocab, cEscaped(c.origin), ns("badId"));
}

/// The AttentionShape of an attention family's call (KernelForm's ints).
ra_attention::AttentionShape attentionShapeOf(const KernelCall &c) {
  return {c.ints[0],          c.ints[1],      c.ints[2],      c.ints[3],
          c.ints[4],          c.ints[5],      c.ints[6] != 0, c.ints[7] != 0,
          float(c.floats[0]), c.ints[8] != 0, c.ints[9] != 0, c.ints[10]};
}

/// Scratch for the CUDA families that sum in a fixed order.
std::string scratchArg() { return kCuda ? ", S" : ""; }

/// A fused elementwise kernel's per-element statements, reading inputs
/// x0, x1, ... at element i and storing the last step to o[i]. The same text
/// for the CPU loop and the CUDA kernel: ra_math is shared by both.
std::string fusedBody(const KernelCall &c) {
  std::string s;
  for (size_t k = 0; k < c.body.size(); ++k) {
    const FusedStep &st = c.body[k];
    std::string value;
    switch (st.kind) {
    case FusedStep::Input:
      value = st.modulo == 0   ? fmt::format("x{}[i]", st.input)
              : st.modulo == 1 ? fmt::format("x{}[0]", st.input)
                               : fmt::format("x{}[i % {}]", st.input, st.modulo);
      break;
    case FusedStep::Constant:
      value = floatLiteral(st.value);
      break;
    case FusedStep::Unary:
      value = st.fn.empty() ? fmt::format("v{}", st.a)
                            : fmt::format("ra_math::apply<ra_math::Unary::{}>(v{})", st.fn, st.a);
      break;
    case FusedStep::Binary:
      value = fmt::format("ra_math::apply<ra_math::Binary::{}>(v{}, v{})", st.fn, st.a, st.b);
      break;
    }
    s += fmt::format("      const float v{} = {};\n", k, value);
  }
  return s + fmt::format("      o[i] = v{};\n", c.body.size() - 1);
}

/// The input pointers of a fused kernel: `const float *x0 = ..., ...`.
std::string fusedPointers(const KernelCall &c) {
  std::string s;
  for (size_t k = 0; k < c.operands.size(); ++k)
    s += fmt::format("    const float *x{} = {};\n", k, in(c, k));
  return s + fmt::format("    float *o = {};\n", out(c, 0));
}

/// The CUDA kernel of each fused key, named by its profiling id.
thread_local const std::map<std::string, int> *kKernelIds = nullptr;

std::string fusedCudaKernel(const KernelCall &c, int id) {
  std::string params;
  for (size_t k = 0; k < c.operands.size(); ++k)
    params += fmt::format("const float *x{}, ", k); // o may be one of them: in place
  return fmt::format("__global__ void ra_fused_{}({}float *o, int64_t n) {{\n"
                     "  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;\n"
                     "       i += int64_t(gridDim.x) * blockDim.x) {{\n{}  }}\n}}\n",
                     id, params, fusedBody(c));
}

using Renderer = std::function<std::string(const KernelCall &)>;

const std::map<std::string, Renderer> &renderers() {
  static const std::map<std::string, Renderer> table = [] {
    std::map<std::string, Renderer> t;
    for (const char *op : {"Add", "Sub", "Mul", "Div", "Max", "Ge", "GeluGrad"})
      t[std::string("binary.") + op] = [op](const KernelCall &c) {
        return fmt::format("  {}<ra_math::Binary::{}>({}, {}, {}, {});\n", ns("binary"), op,
                           in(c, 0), in(c, 1), out(c, 0), c.ints[0]);
      };
    for (const char *op : {"Neg", "Exp", "Log", "Tanh", "Sigmoid", "Sqrt", "Rsqrt", "Gelu"})
      t[std::string("unary.") + op] = [op](const KernelCall &c) {
        return fmt::format("  {}<ra_math::Unary::{}>({}, {}, {});\n", ns("unary"), op, in(c, 0),
                           out(c, 0), c.ints[0]);
      };
    for (const char *op : {"Sum", "Mean", "Max"})
      t[std::string("reduce.") + op] = [op](const KernelCall &c) {
        return fmt::format("  {}<{}::Reduce::{}>({}, {}, {});\n", ns("reduce"), kNs, op, in(c, 0),
                           out(c, 0), list(c.ints, 0, 3));
      };
    t["fill"] = [](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {});\n", ns("fill"), out(c, 0), floatLiteral(c.floats[0]),
                         c.ints[0]);
    };
    t["iota"] = [](const KernelCall &c) {
      return fmt::format("  {}({}, {});\n", ns("iota"), out(c, 0), list(c.ints, 0, 3));
    };
    t["set_param"] = [](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {} * sizeof(float));\n",
                         kCuda ? "ra_cuda::copy" : "std::memcpy", out(c, 0), in(c, 0), c.ints[0]);
    };
    t["gather"] = [](const KernelCall &c) {
      int64_t rank = c.ints[0];
      std::string type = c.operands[0].isInt ? "int32_t" : "float";
      return fmt::format("  {{\n    static const int64_t dims[] = {{{}}}, strides[] = {{{}}};\n"
                         "    {}<{}>({}, {}, {}, dims, strides);\n  }}\n",
                         list(c.ints, 1, 1 + rank), list(c.ints, 1 + rank, 1 + 2 * rank),
                         ns("gather"), type, in(c, 0), out(c, 0), rank);
    };
    t["slice"] = [](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {});\n", ns("slice"), in(c, 0), out(c, 0),
                         list(c.ints, 0, 5));
    };
    t["concat_part"] = [](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {});\n", ns("concatPart"), in(c, 0), out(c, 0),
                         list(c.ints, 0, 5));
    };
    t["gemm"] = [](const KernelCall &c) {
      int64_t count = c.ints[0];
      return fmt::format("  {{\n    static const int64_t ao[] = {{{}}}, bo[] = {{{}}};\n"
                         "    {}({}, {}, {}, {}, ao, bo, {}, {}, {}, {}, {});\n  }}\n",
                         list(c.ints, 6, 6 + count), list(c.ints, 6 + count, 6 + 2 * count),
                         ns("gemm"), in(c, 0), in(c, 1), out(c, 0), count, c.ints[1], c.ints[2],
                         c.ints[3], c.ints[4] ? "true" : "false", c.ints[5] ? "true" : "false");
    };
    t["causal_mean"] = [](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {}, {});\n", ns("causalMean"), in(c, 0), out(c, 0),
                         list(c.ints, 0, 3), c.ints[3] ? "true" : "false");
    };
    t["softmax"] = [](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {}, {});\n", ns("softmax"), in(c, 0), out(c, 0), c.ints[0],
                         c.ints[1]);
    };
    t["layernorm"] = [](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {}, {}, {}, {}, {});\n", ns("layerNorm"), in(c, 0), in(c, 1),
                         in(c, 2), out(c, 0), c.ints[0], c.ints[1], floatLiteral(c.floats[0]));
    };
    t["layernorm_grad"] = [](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {}, {}, {}, {}, {}, {}, {}{});\n", ns("layerNormGrad"),
                         in(c, 0), in(c, 1), in(c, 2), out(c, 0), out(c, 1), out(c, 2), c.ints[0],
                         c.ints[1], floatLiteral(c.floats[0]), scratchArg());
    };
    t["embedding"] = [](const KernelCall &c) {
      return idCheck(in(c, 1), c.ints[0], c.ints[1], c) +
             fmt::format("  {}({}, {}, {}, {}, {});\n", ns("embedding"), in(c, 0), in(c, 1),
                         out(c, 0), c.ints[0], c.ints[2]);
    };
    t["embedding_grad"] = [](const KernelCall &c) {
      return idCheck(in(c, 0), c.ints[0], c.ints[1], c) +
             fmt::format("  {}({}, {}, {}, {});\n", ns("embeddingGrad"), in(c, 0), in(c, 1),
                         out(c, 0), list(c.ints, 0, 3));
    };
    t["cross_entropy"] = [](const KernelCall &c) {
      return idCheck(in(c, 1), c.ints[0], c.ints[1], c) +
             fmt::format("  {}({}, {}, {}, {}, {}{});\n", ns("crossEntropy"), in(c, 0), in(c, 1),
                         out(c, 0), c.ints[0], c.ints[1], scratchArg());
    };
    t["cross_entropy_grad"] = [](const KernelCall &c) {
      return idCheck(in(c, 1), c.ints[0], c.ints[1], c) +
             fmt::format("  {}({}, {}, {}, {}, {}, {});\n", ns("crossEntropyGrad"), in(c, 0),
                         in(c, 1), in(c, 2), out(c, 0), c.ints[0], c.ints[1]);
    };
    t["cross_entropy_with_grad"] = [](const KernelCall &c) {
      return idCheck(in(c, 1), c.ints[0], c.ints[1], c) +
             fmt::format("  {}({}, {}, {}, {}, {}, {}, {}{});\n", ns("crossEntropyWithGrad"),
                         in(c, 0), in(c, 1), in(c, 2), out(c, 0), out(c, 1), c.ints[0], c.ints[1],
                         scratchArg());
    };
    auto shape = [](const KernelCall &c) {
      return fmt::format("{}::AttentionShape{{{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, "
                         "{}, {}}}",
                         kNs, c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4], c.ints[5],
                         c.ints[6] ? "true" : "false", c.ints[7] ? "true" : "false",
                         floatLiteral(c.floats[0]), c.ints[8] ? "true" : "false",
                         c.ints[9] ? "true" : "false", c.ints[10]);
    };
    // Every attention family's operands start with q, k, v and, when the op
    // has RA's term (ints[9]), alpha; its results with dq, dk, dv for the
    // backward ones, d alpha last of all.
    auto qkv = [shape](const KernelCall &c) {
      return fmt::format("{}, {}, {}, {}, {}", shape(c), in(c, 0), in(c, 1), in(c, 2),
                         c.ints[9] ? in(c, 3) : "nullptr");
    };
    auto after = [](const KernelCall &c, size_t k) { return in(c, (c.ints[9] ? 4 : 3) + k); };
    auto grads = [](const KernelCall &c) {
      return fmt::format("{}, {}, {}, {}", out(c, 0), out(c, 1), out(c, 2),
                         c.ints[9] ? out(c, c.results.size() - 1) : "nullptr");
    };
    t["attention"] = [qkv](const KernelCall &c) {
      return fmt::format("  {}({}, {});\n", ns("attention"), qkv(c), out(c, 0));
    };
    t["attention_grad"] = [qkv, after, grads](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {}{});\n", ns("attentionGrad"), qkv(c), after(c, 0),
                         grads(c), scratchArg());
    };
    t["flash_attention"] = [qkv](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {});\n", ns("flashAttention"), qkv(c), out(c, 0), out(c, 1));
    };
    // Operands after alpha: result, lse, grad.
    t["flash_attention_grad"] = [qkv, after, grads](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {}, {}, {}{});\n", ns("flashAttentionGrad"), qkv(c),
                         after(c, 0), after(c, 1), after(c, 2), grads(c), scratchArg());
    };
    // Operands after alpha: gate; results gated, ungated, lse.
    t["gated_flash_attention"] = [qkv, after](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {}, {}, {});\n", ns("flashAttention"), qkv(c), out(c, 1),
                         out(c, 2), after(c, 0), out(c, 0));
    };
    // Operands after alpha: gate, ungated, lse, grad; results dq, dk, dv,
    // dgate, (dalpha).
    t["gated_flash_attention_grad"] = [qkv, after, grads](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {}, {}, {}{}, {}, {});\n", ns("flashAttentionGrad"), qkv(c),
                         after(c, 1), after(c, 2), after(c, 3), grads(c), scratchArg(), after(c, 0),
                         out(c, 3));
    };
    // Operands after alpha: lse; result mean.
    t["head_mean_attention"] = [qkv, after](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {}{});\n", ns("headMeanAttention"), qkv(c), after(c, 0),
                         out(c, 0), scratchArg());
    };
    // Operands after alpha: lse, grad; results dq, dk, dv, (dalpha).
    t["head_mean_attention_grad"] = [qkv, after, grads](const KernelCall &c) {
      return fmt::format("  {}({}, {}, {}, {}{});\n", ns("headMeanAttentionGrad"), qkv(c),
                         after(c, 0), after(c, 1), grads(c), scratchArg());
    };
    t["fused_elementwise"] = [](const KernelCall &c) {
      if (kCuda) {
        std::string args;
        for (size_t k = 0; k < c.operands.size(); ++k)
          args += in(c, k) + ", ";
        return fmt::format("  RA_LAUNCH(ra_fused_{}, dim3(ra_cuda::gridFor({})), "
                           "dim3(ra_cuda::kThreads), 0, {}{}, int64_t({}));\n",
                           kKernelIds->at(c.key()), c.ints[0], args, out(c, 0), c.ints[0]);
      }
      return fmt::format("  {{\n{}#pragma omp parallel for simd if ({} > ra_cpu::kParallelMin)\n"
                         "    for (int64_t i = 0; i < {}; ++i) {{\n{}    }}\n  }}\n",
                         fusedPointers(c), c.ints[0], c.ints[0], fusedBody(c));
    };
    return t;
  }();
  return table;
}

} // namespace

int64_t scratchFloats(const EntryPoint &e) {
  int64_t most = 0;
  for (const KernelCall &c : e.calls) {
    int64_t need = 0;
    if (c.family == "layernorm_grad")
      need = 2 * c.ints[0];
    else if (c.family == "cross_entropy" || c.family == "cross_entropy_with_grad")
      need = c.ints[0];
    else if (c.family == "attention_grad")
      need = attentionShapeOf(c).attentionGradScratch();
    else if (c.family == "flash_attention_grad" || c.family == "gated_flash_attention_grad")
      need = attentionShapeOf(c).flashAttentionGradScratch(c.family != "flash_attention_grad");
    else if (c.family == "head_mean_attention")
      need = attentionShapeOf(c).headMeanAttentionScratch();
    else if (c.family == "head_mean_attention_grad")
      need = attentionShapeOf(c).headMeanAttentionGradScratch();
    most = std::max(most, need);
  }
  return most;
}

static std::string kernelName(const KernelCall &c) {
  std::string name = c.family + "(";
  for (size_t i = 0; i < c.ints.size(); ++i)
    name += (i ? "," : "") + std::to_string(c.ints[i]);
  return name + ")";
}

std::string emitSource(const std::vector<EntryPoint> &entries, const std::string &source,
                       Backend backend) {
  kCuda = backend == Backend::Cuda;
  kNs = kCuda ? "ra_cuda" : "ra_cpu";
  std::string s =
      fmt::format("// Generated by racc from {}. Do not edit.\n"
                  "#include \"{}\"\n\n"
                  "extern \"C\" {{\n\nint ra_abi_version(void) {{ return {}; }}\n",
                  source, kCuda ? "ra_cuda_device.cuh" : "ra_cpu_kernels.h", abi::kAbiVersion);
  if (!kCuda) // the CUDA library's is in ra_cuda_device.cuh
    s += "\n// The GEMM rate rarun bench measures MFU against (float32 here).\n"
         "double ra_gemm_tflops(int n, int, char *, int64_t) { return ra_cpu::gemmTflops(n); }\n";
  // Profiling ids: one per distinct kernel, in order of first call.
  std::map<std::string, int> ids;
  std::vector<std::string> names;
  for (const EntryPoint &e : entries)
    for (const KernelCall &c : e.calls)
      if (ids.emplace(c.key(), int(ids.size())).second)
        names.push_back(kernelName(c));
  // CUDA: a kernel for each distinct fused elementwise body, before the
  // entry points (they have C++ linkage).
  kKernelIds = &ids;
  if (kCuda) {
    std::set<int> emitted;
    std::string kernels;
    for (const EntryPoint &e : entries)
      for (const KernelCall &c : e.calls)
        if (c.family == "fused_elementwise" && emitted.insert(ids[c.key()]).second)
          kernels += fusedCudaKernel(c, ids[c.key()]);
    if (!kernels.empty()) {
      size_t at = s.find("extern \"C\" {");
      s.insert(at, "// Fused elementwise kernels (fuse-elementwise).\n" + kernels + "\n");
    }
  }
  s += "\n// Per-kernel time for rarun bench --profile (codegen/ra_profile.h).\n"
       "static const char *const ra_kernel_names[] = {\n";
  for (const std::string &n : names)
    s += fmt::format("    \"{}\",\n", n);
  s += fmt::format(
      "}};\n"
      "void ra_profile_enable(int on) {{ ra_profile::enable(on != 0); }}\n"
      "/// The kernels' names, total seconds and calls since enabled; returns the count.\n"
      "int64_t ra_profile_read(const char **names, double *seconds, int64_t *calls, "
      "int64_t capacity) {{\n"
      "  int64_t n = {0} < capacity ? {0} : capacity;\n"
      "  for (int64_t i = 0; i < n; ++i) {{\n"
      "    names[i] = ra_kernel_names[i];\n"
      "    seconds[i] = ra_profile::seconds[i];\n"
      "    calls[i] = ra_profile::calls[i];\n"
      "  }}\n"
      "  return {0};\n}}\n",
      names.size());
  for (const EntryPoint &e : entries) {
    s += fmt::format("\n// {}: {} kernel calls, arena {} bytes\n"
                     "int ra_{}(float *P, char *A, const void *const *in, void *const *out, "
                     "char *error, int64_t errorSize) {{\n",
                     e.name, e.calls.size(), e.arenaBytes, e.name);
    if (kCuda) // scratch for fixed-order sums, after the planned arena
      s += fmt::format("  float *S = reinterpret_cast<float *>(A + {});\n  (void)S;\n",
                       abi::scratchOffset(e.arenaBytes));
    for (const KernelCall &c : e.calls) {
      auto it = renderers().find(c.family);
      s += fmt::format("  {{ RA_PROFILED({});\n", ids[c.key()]);
      s += it == renderers().end() ? fmt::format("#error no CPU kernel for {}\n", c.family)
                                   : it->second(c);
      s += "  }\n";
      // Launch and cuBLAS failures stop the entry point, naming the kernel and op.
      if (kCuda)
        s += fmt::format("  if (ra_cuda::failed()) return ra_cuda::report(error, errorSize, "
                         "\"{}\");\n",
                         cEscaped(c.origin));
    }
    for (size_t i = 0; i < e.outputRefs.size(); ++i)
      s += fmt::format("  {}(out[{}], {}, {} * 4);\n", kCuda ? "ra_cuda::copy" : "std::memcpy", i,
                       ptr(e.outputRefs[i], true), e.outputRefs[i].elements);
    if (kCuda)
      s += "  if (ra_cuda::failed()) return ra_cuda::report(error, errorSize, \"the outputs\");\n";
    s += "  (void)P; (void)A; (void)in; (void)error; (void)errorSize;\n  return 0;\n}\n";
  }
  return s + "\n} // extern \"C\"\n";
}

std::string emitCpuSource(const std::vector<EntryPoint> &entries, const std::string &source) {
  return emitSource(entries, source, Backend::Cpu);
}

} // namespace ra::codegen
