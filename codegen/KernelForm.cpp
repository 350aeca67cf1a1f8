//===- KernelForm.cpp - entry points as lists of kernel calls -------------===//
#include "codegen/KernelForm.h"

#include <map>

#include "ir/IRUtils.h"
#include "ir/RaDialect.h"
#include "ir/Shapes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace ra::codegen {

std::vector<ParamSlot> layoutParams(ModuleOp module) {
  std::vector<ParamSlot> slots;
  int64_t offset = 0;
  for (auto p : module.getOps<ParamOp>()) {
    ParamSlot s;
    s.name = p.getSymName().str();
    auto shape = p.getTensorType().getShape();
    s.shape.assign(shape.begin(), shape.end());
    s.elements = p.getTensorType().getNumElements();
    s.offset = offset;
    s.trainable = p.getTrainable();
    offset += (s.elements + 15) / 16 * 16;
    slots.push_back(s);
  }
  return slots;
}

int64_t paramBufferElements(const std::vector<ParamSlot> &slots) {
  return slots.empty() ? 0 : slots.back().offset + (slots.back().elements + 15) / 16 * 16;
}

std::string KernelCall::key() const {
  std::string k = family;
  for (int64_t i : ints)
    k += "," + std::to_string(i);
  for (double f : floats) {
    char buf[32];
    snprintf(buf, sizeof buf, ",%.17g", f);
    k += buf;
  }
  for (const BufferRef &r : operands)
    k += r.isInt ? ",i" : ",f";
  for (const FusedStep &s : body) {
    char buf[96];
    snprintf(buf, sizeof buf, ";%d:%s:%d:%d:%d:%lld:%.17g", int(s.kind), s.fn.c_str(), s.a, s.b,
             s.input, (long long)s.modulo, s.value);
    k += buf;
  }
  return k;
}

namespace {

int64_t numel(Value v) { return v.getType().cast<ShapedType>().getNumElements(); }

bool isInt(Value v) { return v.getType().cast<ShapedType>().getElementType().isInteger(32); }

/// [rows, width]: a row-wise op's view of its input (width = the last axis).
std::vector<int64_t> rowsAndWidth(Value v) {
  int64_t width = shapeOf(v).back();
  return {numel(v) / width, width};
}

/// [outer, n, inner] around `axis`.
std::vector<int64_t> split(const std::vector<int64_t> &shape, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i)
    outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i)
    inner *= shape[i];
  return {outer, shape[axis], inner};
}

class Former {
public:
  Former(ModuleOp module) {
    for (const ParamSlot &s : layoutParams(module))
      params[s.name] = s;
  }

  FailureOr<EntryPoint> form(func::FuncOp fn);

private:
  BufferRef ref(Value v) { return refs.lookup(v); }
  LogicalResult formOp(Operation *op, EntryPoint &entry);
  LogicalResult formFused(FusedElementwiseOp f, std::vector<KernelCall> &calls) {
    KernelCall c = call(f, "fused_elementwise");
    auto result = f.getType().cast<ShapedType>();
    c.ints = {result.getNumElements()};
    Block &body = f.getBody().front();
    llvm::DenseMap<Value, int> step;
    for (auto [i, arg] : llvm::enumerate(body.getArguments())) {
      FusedStep s;
      s.input = int(i);
      auto in = f.getInputs()[i].getType().cast<ShapedType>();
      switch (fusedInputKind(in, result)) {
      case FusedInputKind::Full:
        s.modulo = 0;
        break;
      case FusedInputKind::Scalar:
        s.modulo = 1;
        break;
      default:
        s.modulo = in.getNumElements();
      }
      step[arg] = int(c.body.size());
      c.body.push_back(s);
    }
    for (Operation &op : body) {
      if (isa<YieldOp>(op)) {
        // The stored value must be the last step.
        FusedStep s;
        s.kind = FusedStep::Unary;
        s.fn = "";
        s.a = step.lookup(op.getOperand(0));
        c.body.push_back(s);
        break;
      }
      FusedStep s;
      if (auto k = dyn_cast<ConstantOp>(op)) {
        s.kind = FusedStep::Constant;
        s.value = k.getValue().convertToDouble();
      } else {
        const ElementwiseFunction *fn = elementwiseFunction(&op);
        if (!fn)
          return op.emitError("code generation: no fused form of '") << op.getName() << "'";
        s.kind = fn->binary ? FusedStep::Binary : FusedStep::Unary;
        s.fn = fn->name;
        s.a = step.lookup(op.getOperand(0));
        if (s.kind == FusedStep::Binary)
          s.b = step.lookup(op.getOperand(1));
      }
      step[op.getResult(0)] = int(c.body.size());
      c.body.push_back(s);
    }
    calls.push_back(c);
    return success();
  }

  KernelCall call(Operation *op, std::string family) {
    KernelCall c;
    c.family = std::move(family);
    c.origin = sourceLocation(op);
    for (Value v : op->getOperands())
      c.operands.push_back(ref(v));
    for (Value v : op->getResults())
      c.results.push_back(ref(v));
    return c;
  }

  llvm::StringMap<ParamSlot> params;
  llvm::DenseMap<Value, BufferRef> refs;
};

FailureOr<EntryPoint> Former::form(func::FuncOp fn) {
  EntryPoint entry;
  entry.name = fn.getName().str();
  auto arena = fn->getAttrOfType<IntegerAttr>(ra::RaDialect::kArenaBytesAttr);
  if (!arena)
    return fn.emitError("code generation needs ra-plan-memory to have run");
  entry.arenaBytes = arena.getInt();
  auto inputNames = fn->getAttrOfType<ArrayAttr>(ra::RaDialect::kInputsAttr);
  auto outputNames = fn->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr);
  for (BlockArgument arg : fn.getArguments()) {
    BufferRef r;
    r.kind = BufferRef::Input;
    r.index = arg.getArgNumber();
    r.isInt = isInt(arg);
    r.elements = numel(arg);
    refs[arg] = r;
    entry.inputs.push_back(
        {inputNames ? inputNames[r.index].cast<StringAttr>().str() : "", shapeOf(arg), r.isInt});
  }
  // A parameter written by set_param must not be read after: the write is in place.
  llvm::DenseMap<Operation *, int64_t> index;
  int64_t n = 0;
  for (Operation &op : fn.getBody().front())
    index[&op] = n++;
  llvm::StringMap<int64_t> lastRead;
  for (auto get : fn.getBody().front().getOps<GetParamOp>())
    for (Operation *user : get->getUsers())
      lastRead[get.getName()] = std::max(lastRead.lookup(get.getName()), index[user]);
  for (auto set : fn.getBody().front().getOps<SetParamOp>())
    if (lastRead.lookup(set.getName()) > index[set])
      return set.emitError("code generation: parameter '")
             << set.getName() << "' is read after it is written";

  for (Operation &op : fn.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        entry.outputRefs.push_back(ref(v));
        entry.outputs.push_back(
            {outputNames ? outputNames[i].cast<StringAttr>().str() : "", shapeOf(v), isInt(v)});
      }
      break;
    }
    // Assign the results their buffers, then form the kernel.
    auto offsets = op.getAttrOfType<DenseI64ArrayAttr>(ra::RaDialect::kOffsetsAttr);
    for (auto [i, r] : llvm::enumerate(op.getResults())) {
      if (auto get = dyn_cast<GetParamOp>(op)) {
        BufferRef p;
        p.kind = BufferRef::Param;
        p.offset = params[get.getName()].offset;
        p.elements = numel(r);
        refs[r] = p;
      } else if (auto reshape = dyn_cast<ReshapeOp>(op)) {
        BufferRef p = ref(reshape.getInput());
        refs[r] = p;
      } else if (auto slice = dyn_cast<SliceOp>(op); slice && isView(&op)) {
        // A range of the leading axis: the same buffer, further in.
        BufferRef p = ref(slice.getInput());
        p.offset += slice.getStart() * (numel(slice.getInput()) / shapeOf(slice.getInput())[0]) * 4;
        p.elements = numel(r);
        refs[r] = p;
      } else {
        if (!offsets || offsets[i] < 0)
          return op.emitError("code generation: no arena offset for a result");
        BufferRef a;
        a.kind = BufferRef::Arena;
        a.offset = offsets[i];
        a.isInt = isInt(r);
        a.elements = numel(r);
        refs[r] = a;
      }
    }
    if (failed(formOp(&op, entry)))
      return failure();
  }
  return entry;
}

LogicalResult Former::formOp(Operation *op, EntryPoint &entry) {
  auto &calls = entry.calls;
  auto elementwise = [&](StringRef family) {
    KernelCall c = call(op, family.str());
    c.ints = {numel(op->getResult(0))};
    calls.push_back(c);
    return success();
  };
  if (const ElementwiseFunction *fn = elementwiseFunction(op))
    return elementwise((fn->binary ? "binary." : "unary.") + std::string(fn->name));
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<GetParamOp, ReshapeOp>([](Operation *) { return success(); })
      .Case([&](SetParamOp set) {
        KernelCall c = call(op, "set_param");
        BufferRef target;
        target.kind = BufferRef::Param;
        target.offset = params[set.getName()].offset;
        target.elements = numel(set.getValue());
        c.results.push_back(target);
        c.ints = {numel(set.getValue())};
        calls.push_back(c);
        return success();
      })
      .Case([&](ConstantOp k) {
        KernelCall c = call(op, "fill");
        c.ints = {numel(k.getResult())};
        c.floats = {k.getValue().convertToDouble()};
        calls.push_back(c);
        return success();
      })
      .Case([&](IotaOp i) {
        KernelCall c = call(op, "iota");
        auto s = split(shapeOf(i.getResult()), i.getAxis());
        c.ints = {numel(i.getResult()), s[1], s[2]};
        calls.push_back(c);
        return success();
      })
      .Case([&](FusedElementwiseOp f) { return formFused(f, calls); })
      .Case([&](BroadcastOp b) {
        // A gather with stride 0 on broadcast dims: [rank, out dims..., in strides...]
        auto in = shapeOf(b.getInput()), out = shapeOf(b.getResult());
        std::vector<int64_t> strides(out.size(), 0);
        int64_t stride = 1;
        for (int64_t i = (int64_t)in.size() - 1; i >= 0; --i) {
          size_t o = out.size() - in.size() + i;
          strides[o] = in[i] == 1 ? 0 : stride;
          stride *= in[i];
        }
        KernelCall c = call(op, "gather");
        c.ints = {(int64_t)out.size()};
        c.ints.insert(c.ints.end(), out.begin(), out.end());
        c.ints.insert(c.ints.end(), strides.begin(), strides.end());
        calls.push_back(c);
        return success();
      })
      .Case([&](TransposeOp t) {
        auto in = shapeOf(t.getInput()), out = shapeOf(t.getResult());
        std::vector<int64_t> inStrides(in.size(), 1), strides;
        for (int64_t i = (int64_t)in.size() - 2; i >= 0; --i)
          inStrides[i] = inStrides[i + 1] * in[i + 1];
        for (int64_t p : t.getPermutation())
          strides.push_back(inStrides[p]);
        KernelCall c = call(op, "gather");
        c.ints = {(int64_t)out.size()};
        c.ints.insert(c.ints.end(), out.begin(), out.end());
        c.ints.insert(c.ints.end(), strides.begin(), strides.end());
        calls.push_back(c);
        return success();
      })
      .Case([&](SliceOp s) {
        if (isView(s))
          return success(); // a range of the leading axis: a view, no kernel
        KernelCall c = call(op, "slice");
        c.ints = split(shapeOf(s.getInput()), s.getAxis());
        c.ints.push_back(s.getStart());
        c.ints.push_back(s.getEnd());
        calls.push_back(c);
        return success();
      })
      .Case([&](ConcatOp cc) {
        int64_t offset = 0, total = shapeOf(cc.getResult())[cc.getAxis()];
        for (Value in : cc.getInputs()) {
          KernelCall c = call(op, "concat_part");
          c.operands = {ref(in)};
          c.ints = split(shapeOf(in), cc.getAxis());
          c.ints.push_back(offset);
          c.ints.push_back(total);
          offset += shapeOf(in)[cc.getAxis()];
          calls.push_back(c);
        }
        return success();
      })
      .Case([&](MatmulOp m) {
        auto a = shapeOf(m.getLhs()), b = shapeOf(m.getRhs()), out = shapeOf(m.getResult());
        bool ta = m.getTransposeLhs(), tb = m.getTransposeRhs();
        int64_t M = out[out.size() - 2], N = out.back();
        int64_t K = ta ? a[a.size() - 2] : a.back();
        std::vector<int64_t> batch(out.begin(), out.end() - 2);
        int64_t count = 1;
        for (int64_t d : batch)
          count *= d;
        KernelCall c = call(op, "gemm");
        // x @ W with a 2-D weight: one GEMM over all rows.
        if (b.size() == 2 && !ta && a.size() == out.size()) {
          c.ints = {1, M * count, N, K, 0, tb ? 1 : 0, 0, 0};
        } else {
          c.ints = {count, M, N, K, ta ? 1 : 0, tb ? 1 : 0};
          auto offsets = [&](const std::vector<int64_t> &shape) {
            std::vector<int64_t> own(shape.begin(), shape.end() - 2);
            std::vector<int64_t> offs(count);
            for (int64_t i = 0; i < count; ++i) {
              int64_t r = i, off = 0, stride = 1;
              for (int64_t d = (int64_t)batch.size() - 1; d >= 0; --d) {
                int64_t coord = r % batch[d];
                r /= batch[d];
                int64_t od = d - ((int64_t)batch.size() - (int64_t)own.size());
                if (od >= 0) {
                  if (own[od] != 1)
                    off += coord * stride;
                  stride *= own[od];
                }
              }
              offs[i] = off;
            }
            return offs;
          };
          auto ao = offsets(a), bo = offsets(b);
          c.ints.insert(c.ints.end(), ao.begin(), ao.end());
          c.ints.insert(c.ints.end(), bo.begin(), bo.end());
        }
        calls.push_back(c);
        return success();
      })
      .Case<ReduceSumOp, ReduceMeanOp, ReduceMaxOp>([&](auto r) {
        std::string kind = isa<ReduceSumOp>(op) ? "Sum" : isa<ReduceMeanOp>(op) ? "Mean" : "Max";
        KernelCall c = call(op, "reduce." + kind);
        c.ints = split(shapeOf(r.getInput()), r.getAxis());
        calls.push_back(c);
        return success();
      })
      .Case([&](CausalMeanOp m) {
        KernelCall c = call(op, "causal_mean");
        c.ints = split(shapeOf(m.getInput()), m.getAxis());
        c.ints.push_back(0);
        calls.push_back(c);
        return success();
      })
      .Case([&](CausalMeanGradOp m) {
        KernelCall c = call(op, "causal_mean");
        c.ints = split(shapeOf(m.getGrad()), m.getAxis());
        c.ints.push_back(1);
        calls.push_back(c);
        return success();
      })
      .Case([&](SoftmaxOp s) {
        KernelCall c = call(op, "softmax");
        c.ints = rowsAndWidth(s.getInput());
        calls.push_back(c);
        return success();
      })
      .Case<LayerNormOp, LayerNormGradOp>([&](auto l) {
        KernelCall c = call(op, isa<LayerNormOp>(op) ? "layernorm" : "layernorm_grad");
        c.ints = rowsAndWidth(l.getInput());
        c.floats = {l.getEps().convertToDouble()};
        calls.push_back(c);
        return success();
      })
      .Case<EmbeddingOp, EmbeddingGradOp>([&](auto e) {
        KernelCall c = call(op, isa<EmbeddingOp>(op) ? "embedding" : "embedding_grad");
        // The table is an operand of the lookup and the result of its gradient.
        auto t = shapeOf(isa<EmbeddingOp>(op) ? op->getOperand(0) : op->getResult(0));
        c.ints = {numel(e.getIndices()), t[0], t[1]};
        calls.push_back(c);
        return success();
      })
      .Case<CrossEntropyOp, CrossEntropyGradOp, CrossEntropyWithGradOp>([&](auto ce) {
        KernelCall c = call(op, isa<CrossEntropyOp>(op)       ? "cross_entropy"
                                : isa<CrossEntropyGradOp>(op) ? "cross_entropy_grad"
                                                              : "cross_entropy_with_grad");
        c.ints = rowsAndWidth(ce.getLogits());
        calls.push_back(c);
        return success();
      })
      .Case<AttentionOp, AttentionGradOp, FlashAttentionOp, FlashAttentionGradOp,
            GatedFlashAttentionOp, GatedFlashAttentionGradOp, HeadMeanAttentionOp,
            HeadMeanAttentionGradOp>([&](auto a) {
        const char *family = isa<AttentionOp>(op)               ? "attention"
                             : isa<AttentionGradOp>(op)         ? "attention_grad"
                             : isa<FlashAttentionOp>(op)        ? "flash_attention"
                             : isa<FlashAttentionGradOp>(op)    ? "flash_attention_grad"
                             : isa<GatedFlashAttentionOp>(op)   ? "gated_flash_attention"
                             : isa<HeadMeanAttentionOp>(op)     ? "head_mean_attention"
                             : isa<HeadMeanAttentionGradOp>(op) ? "head_mean_attention_grad"
                                                                : "gated_flash_attention_grad";
        KernelCall c = call(op, family);
        auto q = shapeOf(a.getQ()), k = shapeOf(a.getK()), v = shapeOf(a.getV());
        c.ints = {q[0],
                  q[1],
                  q[2],
                  k[k.size() - 2],
                  q[3],
                  v.back(),
                  k.size() == 3,
                  v.size() == 3,
                  a.getCausal() ? 1 : 0,
                  a.getReciprocalAlpha() ? 1 : 0,
                  a.getBand() ? (int64_t)*a.getBand() : -1};
        c.floats = {a.getScale().convertToDouble()};
        calls.push_back(c);
        return success();
      })
      .Default([&](Operation *other) {
        return other->emitError("code generation does not know '") << other->getName() << "'";
      });
}

} // namespace

std::vector<int64_t> inputIdBounds(const EntryPoint &e) {
  std::vector<int64_t> bounds(e.inputs.size(), 0);
  std::map<int64_t, int> fromInput; // int arena buffers copied from an input
  auto source = [&](const BufferRef &r) -> int {
    if (r.kind == BufferRef::Input)
      return r.index;
    auto it = r.kind == BufferRef::Arena ? fromInput.find(r.offset) : fromInput.end();
    return it == fromInput.end() ? -1 : it->second;
  };
  static const std::map<std::string, int> idOperand = {{"embedding", 1},
                                                       {"embedding_grad", 0},
                                                       {"cross_entropy", 1},
                                                       {"cross_entropy_grad", 1},
                                                       {"cross_entropy_with_grad", 1}};
  for (const KernelCall &c : e.calls) {
    if (auto it = idOperand.find(c.family); it != idOperand.end())
      if (int in = source(c.operands[it->second]); in >= 0)
        bounds[in] = bounds[in] ? std::min(bounds[in], c.ints[1]) : c.ints[1];
    bool layout = c.family == "gather" || c.family == "slice" || c.family == "concat_part";
    int from = layout && c.operands[0].isInt ? source(c.operands[0]) : -1;
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

FailureOr<std::vector<EntryPoint>> formKernels(ModuleOp module) {
  std::vector<EntryPoint> entries;
  for (auto fn : module.getOps<func::FuncOp>()) {
    Former former(module);
    auto e = former.form(fn);
    if (failed(e))
      return failure();
    entries.push_back(std::move(*e));
  }
  return entries;
}

} // namespace ra::codegen
