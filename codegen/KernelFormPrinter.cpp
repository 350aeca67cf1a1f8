//===- KernelFormPrinter.cpp - the kernel form as text --------------------===//
//
// `racc compile --emit=kernels`: each entry point's signature, memory and
// calls, one per line with the family, its named static parameters, the
// distinct kernel it is (#N, the profiling id) and its buffers:
//
//   entry forward: 41 calls, 18 kernels, arena 278528 bytes, scratch 1024 bytes
//     inputs: tokens i32[2, 32], targets i32[2, 32]
//     #3 gemm{batch=1, m=64, n=192, k=64, trans_a=0, ...}(arena@0, param@1024) -> arena@8192
//        ; model.graph:12:9
//     outputs: loss = arena@0
//
// so that codegen gets FileCheck tests like the passes have.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelForm.h"

#include <fmt/format.h>

#include <map>
#include <set>

namespace ra::codegen {
namespace {

std::string buffer(const BufferRef &r) {
  std::string s;
  switch (r.kind) {
  case BufferRef::Arena:
    s = fmt::format("arena@{}", r.offset);
    break;
  case BufferRef::Param:
    s = fmt::format("param@{}", r.offset);
    break;
  case BufferRef::Input:
    s = fmt::format("input{}", r.index);
    break;
  }
  return r.dtype == ra_dtype::Dtype::F32 ? s : s + ":" + ra_dtype::name(r.dtype);
}

std::string buffers(const std::vector<BufferRef> &refs) {
  std::string s;
  for (size_t i = 0; i < refs.size(); ++i)
    s += (i ? ", " : "") + buffer(refs[i]);
  return s;
}

std::string field(const Field &f) {
  switch (f.kind) {
  case Field::Int:
  case Field::Bool:
    return fmt::format("{}={}", f.name, f.i);
  case Field::Float:
    return fmt::format("{}={:g}", f.name, f.f);
  case Field::Ints:
    return fmt::format("{}=[{}]", f.name, fmt::join(f.list, ", "));
  }
  return "";
}

std::string tensor(const TensorSig &t) {
  return fmt::format("{} {}[{}]", t.name, ra_dtype::name(t.dtype), fmt::join(t.shape, ", "));
}

} // namespace

std::string printKernelForm(const KernelProgram &program) {
  const std::vector<EntryPoint> &entries = program.entries;
  std::map<std::string, int> ids; // as the emitter numbers them: first call first
  for (const EntryPoint &e : entries)
    for (const KernelCall &c : e.calls)
      ids.emplace(c.key(), int(ids.size()));
  std::string s;
  for (const EntryPoint &e : entries) {
    std::set<std::string> distinct;
    for (const KernelCall &c : e.calls)
      distinct.insert(c.key());
    s += fmt::format("entry {}: {} calls, {} kernels, arena {} bytes, scratch {} bytes\n", e.name,
                     e.calls.size(), distinct.size(), e.arenaBytes, 4 * scratchFloats(e));
    std::vector<std::string> inputs;
    for (const TensorSig &t : e.inputs)
      inputs.push_back(tensor(t));
    s += fmt::format("  inputs: {}\n", fmt::join(inputs, ", "));
    for (const KernelCall &c : e.calls) {
      std::vector<std::string> params;
      for (const Field &f : fieldsOf(c.params))
        params.push_back(field(f));
      s += fmt::format("  #{} {}{{{}}}({})", ids.at(c.key()), c.name(), fmt::join(params, ", "),
                       buffers(c.operands));
      if (!c.results.empty())
        s += " -> " + buffers(c.results);
      s += fmt::format("  ; {}\n", c.origin);
      if (auto *fused = std::get_if<FusedParams>(&c.params))
        for (size_t k = 0; k < fused->body.size(); ++k)
          s += fmt::format("      v{} = {}\n", k,
                           fusedStepExpression(fused->body[k], StepSyntax::Text));
    }
    std::vector<std::string> outputs;
    for (size_t i = 0; i < e.outputs.size(); ++i)
      outputs.push_back(fmt::format("{} = {}", e.outputs[i].name, buffer(e.outputRefs[i])));
    s += fmt::format("  outputs: {}\n", fmt::join(outputs, ", "));
  }
  return s;
}

} // namespace ra::codegen
