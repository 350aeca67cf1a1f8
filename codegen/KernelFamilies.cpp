//===- KernelFamilies.cpp - what each kernel family is --------------------===//
//
// The one table of kernel families (name, which operand holds token ids,
// whether it writes parameters, the CUDA scratch it needs), and each
// parameter struct's fields, from which a call's key, profile name and
// printed form are made.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelForm.h"

#include "llvm/ADT/StringMap.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <map>

namespace ra::codegen {
namespace {

int64_t noScratch(const KernelCall &) { return 0; }
int64_t twoPerRow(const KernelCall &c) {
  return 2 * c.get<LayerNormParams>().row.rows; // mean and rstd of each row
}
int64_t onePerRow(const KernelCall &c) { return c.get<RowShape>().rows; } // the rows' losses
int64_t attentionGrad(const KernelCall &c) {
  return c.get<AttentionShape>().attentionGradScratch();
}
int64_t flashGrad(const KernelCall &c) {
  return c.get<AttentionShape>().flashAttentionGradScratch(c.family ==
                                                           Family::GatedFlashAttentionGrad);
}
int64_t headMean(const KernelCall &c) { return c.get<AttentionShape>().headMeanAttentionScratch(); }
int64_t cachedAttention(const KernelCall &c) { return c.get<CachedAttentionShape>().scratch(); }
/// A bf16 GEMM's rounded operands.
int64_t gemm(const KernelCall &c) {
  const auto &g = c.get<GemmShape>();
  return g.bf16Inputs ? ra_dtype::bf16StagingFloats(g.aElements(), g.bElements()) : 0;
}
int64_t headMeanGrad(const KernelCall &c) {
  return c.get<AttentionShape>().headMeanAttentionGradScratch();
}

struct Entry {
  FamilyInfo info;
  int64_t (*scratch)(const KernelCall &);
};

// In the order of `Family`.
const Entry kFamilies[] = {
    {{Family::Unary, "unary"}, noScratch},
    {{Family::Binary, "binary"}, noScratch},
    {{Family::Fill, "fill"}, noScratch},
    {{Family::Iota, "iota"}, noScratch},
    {{Family::SetParam, "set_param", -1}, noScratch},
    {{Family::Gather, "gather", -1, /*layout=*/true}, noScratch},
    {{Family::Slice, "slice", -1, /*layout=*/true}, noScratch},
    {{Family::ConcatPart, "concat_part", -1, /*layout=*/true}, noScratch},
    {{Family::Gemm, "gemm"}, gemm},
    {{Family::Reduce, "reduce"}, noScratch},
    {{Family::CausalMean, "causal_mean"}, noScratch},
    {{Family::Softmax, "softmax"}, noScratch},
    {{Family::LayerNorm, "layernorm"}, noScratch},
    {{Family::LayerNormGrad, "layernorm_grad"}, twoPerRow},
    {{Family::Embedding, "embedding", /*idOperand=*/1}, noScratch},
    {{Family::EmbeddingGrad, "embedding_grad", /*idOperand=*/0}, noScratch},
    {{Family::CrossEntropy, "cross_entropy", /*idOperand=*/1}, onePerRow},
    {{Family::CrossEntropyGrad, "cross_entropy_grad", /*idOperand=*/1}, noScratch},
    {{Family::CrossEntropyWithGrad, "cross_entropy_with_grad", /*idOperand=*/1}, onePerRow},
    {{Family::Attention, "attention"}, noScratch},
    {{Family::AttentionGrad, "attention_grad"}, attentionGrad},
    {{Family::FlashAttention, "flash_attention"}, noScratch},
    {{Family::FlashAttentionGrad, "flash_attention_grad"}, flashGrad},
    {{Family::GatedFlashAttention, "gated_flash_attention"}, noScratch},
    {{Family::GatedFlashAttentionGrad, "gated_flash_attention_grad"}, flashGrad},
    {{Family::HeadMeanAttention, "head_mean_attention"}, headMean},
    {{Family::HeadMeanAttentionGrad, "head_mean_attention_grad"}, headMeanGrad},
    {{Family::CachedAttention, "cached_attention"}, cachedAttention},
    {{Family::RunningMean, "running_mean"}, noScratch},
    {{Family::FusedElementwise, "fused_elementwise"}, noScratch},
};

const Entry &entryOf(Family family) {
  const Entry &e = kFamilies[static_cast<size_t>(family)];
  assert(e.info.family == family && "kFamilies is in the order of Family");
  return e;
}

Field intField(const char *name, int64_t v) {
  Field f;
  f.name = name;
  f.i = v;
  return f;
}
Field boolField(const char *name, bool v) {
  Field f = intField(name, v);
  f.kind = Field::Bool;
  return f;
}
Field floatField(const char *name, double v) {
  Field f = intField(name, 0);
  f.kind = Field::Float;
  f.f = v;
  return f;
}
Field listField(const char *name, std::vector<int64_t> v) {
  Field f = intField(name, 0);
  f.kind = Field::Ints;
  f.list = std::move(v);
  return f;
}

void axisFields(std::vector<Field> &f, const AxisShape &a) {
  f.push_back(intField("outer", a.outer));
  f.push_back(intField("n", a.n));
  f.push_back(intField("inner", a.inner));
}

// The fields of each parameter struct: their order is the order of the
// integers in a call's key and profile name.
std::vector<Field> fields(const ElementwiseParams &p) { return {intField("n", p.n)}; }
std::vector<Field> fields(const CopyParams &p) { return {intField("n", p.n)}; }
std::vector<Field> fields(const FillParams &p) {
  return {intField("n", p.n), floatField("value", p.value)};
}
std::vector<Field> fields(const IotaParams &p) {
  return {intField("n", p.n), intField("axis_size", p.axisSize), intField("inner", p.inner)};
}
std::vector<Field> fields(const GatherParams &p) {
  return {intField("rank", int64_t(p.dims.size())), listField("dims", p.dims),
          listField("strides", p.strides)};
}
std::vector<Field> fields(const ReduceParams &p) {
  std::vector<Field> f;
  axisFields(f, p.axis);
  if (p.bf16Input)
    f.push_back(boolField("bf16_input", true));
  return f;
}
std::vector<Field> fields(const CausalMeanParams &p) {
  std::vector<Field> f;
  axisFields(f, p.axis);
  f.push_back(boolField("grad", p.grad));
  return f;
}
std::vector<Field> fields(const SliceParams &p) {
  std::vector<Field> f;
  axisFields(f, p.axis);
  f.push_back(intField("start", p.start));
  f.push_back(intField("end", p.end));
  return f;
}
std::vector<Field> fields(const ConcatPartParams &p) {
  std::vector<Field> f;
  axisFields(f, p.axis);
  f.push_back(intField("offset", p.offset));
  f.push_back(intField("total", p.total));
  return f;
}
std::vector<Field> fields(const RowShape &p) {
  return {intField("rows", p.rows), intField("width", p.width)};
}
std::vector<Field> fields(const LayerNormParams &p) {
  return {intField("rows", p.row.rows), intField("width", p.row.width), floatField("eps", p.eps)};
}
std::vector<Field> fields(const GemmShape &p) {
  std::vector<Field> f = {intField("batch", p.batch),
                          intField("m", p.m),
                          intField("n", p.n),
                          intField("k", p.k),
                          boolField("trans_a", p.transposeA),
                          boolField("trans_b", p.transposeB),
                          listField("a_offsets", p.aOffsets),
                          listField("b_offsets", p.bOffsets)};
  if (p.bf16Inputs)
    f.push_back(boolField("bf16_inputs", true));
  // 1: + bias, 2: + residual, 3, 4: gelu, 5: bias gradient, 6: gelu's gradient
  if (p.epilogue != GemmShape::Epilogue::None)
    f.push_back(intField("epilogue", int64_t(p.epilogue)));
  return f;
}
std::vector<Field> fields(const LookupShape &p) {
  return {intField("ids", p.ids), intField("vocab", p.vocab), intField("width", p.width)};
}
std::vector<Field> fields(const AttentionShape &s) {
  std::vector<Field> f = {intField("b", s.b),
                          intField("h", s.h),
                          intField("tq", s.tq),
                          intField("tk", s.tk),
                          intField("e", s.e),
                          intField("dv", s.dv),
                          boolField("k_shared", s.kShared),
                          boolField("v_shared", s.vShared),
                          floatField("scale", s.scale),
                          boolField("causal", s.causal),
                          boolField("reciprocal", s.reciprocal),
                          intField("band", s.band)};
  if (s.bf16)
    f.push_back(boolField("bf16", true));
  return f;
}
std::vector<Field> fields(const CachedAttentionShape &s) {
  return {intField("b", s.b),
          intField("h", s.h),
          intField("tc", s.tc),
          intField("e", s.e),
          intField("dv", s.dv),
          boolField("k_shared", s.kShared),
          boolField("v_shared", s.vShared),
          floatField("scale", s.scale),
          boolField("reciprocal", s.reciprocal),
          intField("band", s.band),
          intField("ring", s.ring),
          intField("er", s.er),
          intField("block", s.block),
          intField("blocks", s.blocks),
          boolField("q_paged", s.qPaged),
          intField("cache_type", int64_t(s.cacheType))};
}
std::vector<Field> fields(const FusedParams &p) { return {intField("n", p.n)}; }

/// The function a family applies, for the families that take one.
const std::string *functionOf(const KernelParams &params) {
  if (auto *e = std::get_if<ElementwiseParams>(&params))
    return &e->fn;
  if (auto *r = std::get_if<ReduceParams>(&params))
    return &r->fn;
  return nullptr;
}

/// The Int, Bool and Ints fields, in order.
std::vector<int64_t> staticInts(const KernelCall &c) {
  std::vector<int64_t> ints;
  for (const Field &f : fieldsOf(c.params)) {
    if (f.kind == Field::Int || f.kind == Field::Bool)
      ints.push_back(f.i);
    else if (f.kind == Field::Ints)
      ints.insert(ints.end(), f.list.begin(), f.list.end());
  }
  return ints;
}

} // namespace

std::string fusedStepExpression(const FusedStep &st, StepSyntax syntax) {
  bool code = syntax == StepSyntax::Code;
  char buf[96];
  switch (st.kind) {
  case FusedStep::Input:
    if (st.modulo == 0)
      snprintf(buf, sizeof buf, "x%d[i]", st.input);
    else if (st.modulo == 1)
      snprintf(buf, sizeof buf, "x%d[0]", st.input);
    else
      snprintf(buf, sizeof buf, "x%d[i %% %lld]", st.input, (long long)st.modulo);
    return buf;
  case FusedStep::Constant:
    snprintf(buf, sizeof buf, "%g", st.value); // the code prints its own literal
    return buf;
  case FusedStep::Unary:
    if (st.isStore()) // of result 0, or of another where several are
      return (code ? "v" : "store v") + std::to_string(st.a) +
             (!code && st.result() > 0 ? " to result " + std::to_string(st.result()) : "");
    return (code ? "ra_math::apply<ra_math::Unary::" + st.fn + ">" : st.fn) + "(v" +
           std::to_string(st.a) + ")";
  case FusedStep::Binary:
    return (code ? "ra_math::apply<ra_math::Binary::" + st.fn + ">" : st.fn) + "(v" +
           std::to_string(st.a) + ", v" + std::to_string(st.b) + ")";
  }
  return "";
}

std::vector<Field> fieldsOf(const KernelParams &params) {
  return std::visit([](const auto &p) { return fields(p); }, params);
}

const FamilyInfo &familyInfo(Family family) { return entryOf(family).info; }

std::optional<Family> familyNamed(llvm::StringRef name) {
  for (const Entry &e : kFamilies)
    if (name == e.info.name)
      return e.info.family;
  return std::nullopt;
}

std::string KernelCall::name() const {
  std::string n = familyInfo(family).name;
  if (const std::string *fn = functionOf(params))
    n += "." + *fn;
  return n;
}

std::string KernelCall::key() const {
  std::string k = name();
  for (int64_t i : staticInts(*this))
    k += "," + std::to_string(i);
  char buf[96];
  for (const Field &f : fieldsOf(params))
    if (f.kind == Field::Float) {
      snprintf(buf, sizeof buf, ",%.17g", f.f);
      k += buf;
    }
  for (const BufferRef &r : operands)
    k += std::string(",") + ra_dtype::name(r.dtype);
  if (auto *fused = std::get_if<FusedParams>(&params))
    for (const FusedStep &s : fused->body) {
      snprintf(buf, sizeof buf, ";%d:%s:%d:%d:%d:%lld:%.17g", int(s.kind), s.fn.c_str(), s.a, s.b,
               s.input, (long long)s.modulo, s.value);
      k += buf;
    }
  return k;
}

std::string KernelCall::profileName() const {
  std::string n = name() + "(";
  std::vector<int64_t> ints = staticInts(*this);
  for (size_t i = 0; i < ints.size(); ++i)
    n += (i ? "," : "") + std::to_string(ints[i]);
  return n + ")";
}

int64_t GemmShape::aElements() const {
  return (*std::max_element(aOffsets.begin(), aOffsets.end()) + 1) * m * k;
}
int64_t GemmShape::bElements() const {
  return (*std::max_element(bOffsets.begin(), bOffsets.end()) + 1) * k * n;
}

int64_t idBound(const KernelCall &c) {
  if (familyInfo(c.family).idOperand < 0)
    return 0;
  if (auto *lookup = std::get_if<LookupShape>(&c.params))
    return lookup->vocab;
  return c.get<RowShape>().width; // the classes of a cross-entropy
}

int64_t cudaScratchFloats(const KernelCall &c) { return entryOf(c.family).scratch(c); }

int64_t scratchFloats(const EntryPoint &e) {
  int64_t most = 0;
  for (const KernelCall &c : e.calls)
    most = std::max(most, cudaScratchFloats(c));
  return most;
}

bool writesParameters(const EntryPoint &e) {
  for (const KernelCall &c : e.calls)
    for (const BufferRef &r : c.results)
      if (r.kind == BufferRef::Param)
        return true;
  return false;
}

std::vector<int64_t> inputIdBounds(const EntryPoint &e) {
  std::vector<int64_t> bounds(e.inputs.size(), 0);
  std::map<int64_t, int> fromInput; // int arena buffers copied from an input
  auto source = [&](const BufferRef &r) -> int {
    if (r.kind == BufferRef::Input)
      return r.index;
    auto it = r.kind == BufferRef::Arena ? fromInput.find(r.offset) : fromInput.end();
    return it == fromInput.end() ? -1 : it->second;
  };
  for (const KernelCall &c : e.calls) {
    const FamilyInfo &info = familyInfo(c.family);
    if (info.idOperand >= 0)
      if (int in = source(c.operands[info.idOperand]); in >= 0)
        bounds[in] = bounds[in] ? std::min(bounds[in], idBound(c)) : idBound(c);
    int from = info.layout && c.operands[0].isInt() ? source(c.operands[0]) : -1;
    for (const BufferRef &r : c.results)
      if (r.kind == BufferRef::Arena) {
        if (from >= 0)
          fromInput[r.offset] = from;
        else
          fromInput.erase(r.offset);
      }
  }
  return bounds;
}

} // namespace ra::codegen
