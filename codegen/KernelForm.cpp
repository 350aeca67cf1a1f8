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

namespace {

int64_t numel(Value v) { return v.getType().cast<ShapedType>().getNumElements(); }

/// A row-wise op's view of its input (width = the last axis).
RowShape rowsOf(Value v) {
  int64_t width = shapeOf(v).back();
  return {numel(v) / width, width};
}

/// [outer, n, inner] around `axis`.
AxisShape aroundAxis(const std::vector<int64_t> &shape, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i)
    outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i)
    inner *= shape[i];
  return {outer, shape[axis], inner};
}

/// A gather that reads `in` with `strides` into a tensor of `dims`.
GatherParams gatherOf(const std::vector<int64_t> &dims, std::vector<int64_t> strides) {
  return {dims, std::move(strides)};
}

/// The products of a matmul: one GEMM over every row when a [B.., M, K]
/// activation meets a 2-D weight, else one per batch entry with each
/// operand's matrix (broadcast batch dims repeat one); bf16 inputs under
/// the module's --precision bf16.
GemmShape gemmOf(MatmulOp m) {
  auto a = shapeOf(m.getLhs()), b = shapeOf(m.getRhs()), out = shapeOf(m.getResult());
  bool ta = m.getTransposeLhs(), tb = m.getTransposeRhs();
  int64_t M = out[out.size() - 2], N = out.back();
  int64_t K = ta ? a[a.size() - 2] : a.back();
  std::vector<int64_t> batch(out.begin(), out.end() - 2);
  int64_t count = 1;
  for (int64_t d : batch)
    count *= d;
  const bool bf16 = matmulRoundsToBf16(m);
  // x @ W with a 2-D weight: one GEMM over all rows.
  if (b.size() == 2 && !ta && a.size() == out.size())
    return {1, M * count, N, K, false, tb, {0}, {0}, bf16};
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
  return {count, M, N, K, ta, tb, offsets(a), offsets(b), bf16};
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

  /// The last op that reads each parameter's value as the function found
  /// it: its get_param's users, and through views (reshape, view slices)
  /// theirs.
  static llvm::StringMap<int64_t> lastReadsOfParams(Block &body,
                                                    llvm::DenseMap<Operation *, int64_t> &index) {
    llvm::StringMap<int64_t> last;
    for (auto get : body.getOps<GetParamOp>()) {
      int64_t &at = last[get.getName()];
      llvm::SmallVector<Value> pending{get.getResult()};
      while (!pending.empty()) {
        Value v = pending.pop_back_val();
        for (Operation *user : v.getUsers()) {
          at = std::max(at, index.lookup(user));
          if (isa<ReshapeOp>(user) || (isa<SliceOp>(user) && isView(user)))
            pending.push_back(user->getResult(0));
        }
      }
    }
    return last;
  }

  /// Values that set_param stores which their producer can write straight
  /// into the parameter's storage, saving the copy (AdamW's new weights and
  /// moments, every step). Safe when the producer is elementwise (it reads
  /// an operand of its own length at the index it writes, so it may read
  /// the parameter's old value there), nothing reads the old value after
  /// it, the parameter is set once, and the value is not returned.
  llvm::DenseMap<Value, BufferRef> updatesInPlace(Block &body,
                                                  llvm::DenseMap<Operation *, int64_t> &index,
                                                  const llvm::StringMap<int64_t> &lastRead) {
    llvm::StringMap<int> sets;
    for (auto set : body.getOps<SetParamOp>())
      ++sets[set.getName()];
    llvm::DenseMap<Value, BufferRef> inPlace;
    for (auto set : body.getOps<SetParamOp>()) {
      Value v = set.getValue();
      Operation *producer = v.getDefiningOp();
      if (!producer || producer->getBlock() != &body || producer->getNumResults() != 1 ||
          !(isa<FusedElementwiseOp>(producer) || isa<ElementwiseOpInterface>(producer)))
        continue;
      auto slot = params.find(set.getName());
      if (slot == params.end() || sets.lookup(set.getName()) != 1 ||
          slot->second.elements != numel(v) || dtypeOf(v) != ra_dtype::Dtype::F32 ||
          inPlace.count(v) || lastRead.lookup(set.getName()) > index.lookup(producer) ||
          llvm::any_of(v.getUsers(), [](Operation *u) { return isa<func::ReturnOp>(u); }))
        continue;
      BufferRef p;
      p.kind = BufferRef::Param;
      p.offset = slot->second.offset;
      p.elements = numel(v);
      inPlace[v] = p;
    }
    return inPlace;
  }
  LogicalResult formFused(FusedElementwiseOp f, std::vector<KernelCall> &calls) {
    auto result = f.getType().cast<ShapedType>();
    FusedParams p{result.getNumElements(), {}};
    std::vector<FusedStep> &steps = p.body;
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
      step[arg] = int(steps.size());
      steps.push_back(s);
    }
    for (Operation &op : body) {
      if (isa<YieldOp>(op)) {
        // The stored value must be the last step.
        FusedStep s;
        s.kind = FusedStep::Unary;
        s.fn = "";
        s.a = step.lookup(op.getOperand(0));
        steps.push_back(s);
        break;
      }
      FusedStep s;
      if (auto k = dyn_cast<ConstantOp>(op)) {
        s.kind = FusedStep::Constant;
        s.value = k.getValue().convertToDouble();
      } else {
        auto fn = dyn_cast<ElementwiseOpInterface>(op);
        if (!fn)
          return op.emitError("code generation: no fused form of '") << op.getName() << "'";
        s.kind = fn.isBinary() ? FusedStep::Binary : FusedStep::Unary;
        s.fn = fn.getKernelFunction().str();
        s.a = step.lookup(op.getOperand(0));
        if (s.kind == FusedStep::Binary)
          s.b = step.lookup(op.getOperand(1));
      }
      step[op.getResult(0)] = int(steps.size());
      steps.push_back(s);
    }
    calls.push_back(call(f, Family::FusedElementwise, std::move(p)));
    return success();
  }

  KernelCall call(Operation *op, Family family, KernelParams params) {
    KernelCall c{family, std::move(params), {}, {}, {}};
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
    r.dtype = dtypeOf(arg);
    r.elements = numel(arg);
    refs[arg] = r;
    entry.inputs.push_back(
        {inputNames ? inputNames[r.index].cast<StringAttr>().str() : "", shapeOf(arg), r.dtype});
  }
  // A parameter written by set_param must not be read after: the write is in place.
  Block &body = fn.getBody().front();
  llvm::DenseMap<Operation *, int64_t> index;
  int64_t n = 0;
  for (Operation &op : body)
    index[&op] = n++;
  llvm::StringMap<int64_t> lastRead = lastReadsOfParams(body, index);
  for (auto set : body.getOps<SetParamOp>())
    if (lastRead.lookup(set.getName()) > index[set])
      return set.emitError("code generation: parameter '")
             << set.getName() << "' is read after it is written";
  llvm::DenseMap<Value, BufferRef> inPlace = updatesInPlace(body, index, lastRead);

  for (Operation &op : fn.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        entry.outputRefs.push_back(ref(v));
        entry.outputs.push_back(
            {outputNames ? outputNames[i].cast<StringAttr>().str() : "", shapeOf(v), dtypeOf(v)});
      }
      break;
    }
    // Assign the results their buffers, then form the kernel.
    auto offsets = op.getAttrOfType<DenseI64ArrayAttr>(ra::RaDialect::kOffsetsAttr);
    for (auto [i, r] : llvm::enumerate(op.getResults())) {
      if (auto it = inPlace.find(r); it != inPlace.end()) {
        refs[r] = it->second;
      } else if (auto get = dyn_cast<GetParamOp>(op)) {
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
        a.dtype = dtypeOf(r);
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
  auto add = [&](Family family, KernelParams params) {
    calls.push_back(call(op, family, std::move(params)));
    return success();
  };
  if (auto fn = dyn_cast<ElementwiseOpInterface>(op))
    return add(fn.isBinary() ? Family::Binary : Family::Unary,
               ElementwiseParams{numel(op->getResult(0)), fn.getKernelFunction().str()});
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<GetParamOp, ReshapeOp>([](Operation *) { return success(); })
      .Case([&](SetParamOp set) {
        BufferRef value = ref(set.getValue());
        if (value.kind == BufferRef::Param && value.offset == params[set.getName()].offset)
          return success(); // its producer wrote the parameter in place
        KernelCall c = call(op, Family::SetParam, CopyParams{numel(set.getValue())});
        BufferRef target;
        target.kind = BufferRef::Param;
        target.offset = params[set.getName()].offset;
        target.elements = numel(set.getValue());
        c.results.push_back(target);
        calls.push_back(c);
        return success();
      })
      .Case([&](ConstantOp k) {
        return add(Family::Fill, FillParams{numel(k.getResult()), k.getValue().convertToDouble()});
      })
      .Case([&](IotaOp i) {
        AxisShape s = aroundAxis(shapeOf(i.getResult()), i.getAxis());
        return add(Family::Iota, IotaParams{numel(i.getResult()), s.n, s.inner});
      })
      .Case([&](FusedElementwiseOp f) { return formFused(f, calls); })
      .Case([&](BroadcastOp b) {
        // A gather with stride 0 on broadcast dims.
        auto in = shapeOf(b.getInput()), out = shapeOf(b.getResult());
        std::vector<int64_t> strides(out.size(), 0);
        int64_t stride = 1;
        for (int64_t i = (int64_t)in.size() - 1; i >= 0; --i) {
          size_t o = out.size() - in.size() + i;
          strides[o] = in[i] == 1 ? 0 : stride;
          stride *= in[i];
        }
        return add(Family::Gather, gatherOf(out, strides));
      })
      .Case([&](TransposeOp t) {
        auto in = shapeOf(t.getInput()), out = shapeOf(t.getResult());
        std::vector<int64_t> inStrides(in.size(), 1), strides;
        for (int64_t i = (int64_t)in.size() - 2; i >= 0; --i)
          inStrides[i] = inStrides[i + 1] * in[i + 1];
        for (int64_t p : t.getPermutation())
          strides.push_back(inStrides[p]);
        return add(Family::Gather, gatherOf(out, strides));
      })
      .Case([&](SliceOp s) {
        if (isView(s))
          return success(); // a range of the leading axis: a view, no kernel
        return add(Family::Slice, SliceParams{aroundAxis(shapeOf(s.getInput()), s.getAxis()),
                                              int64_t(s.getStart()), int64_t(s.getEnd())});
      })
      .Case([&](ConcatOp cc) {
        int64_t offset = 0, total = shapeOf(cc.getResult())[cc.getAxis()];
        for (Value in : cc.getInputs()) {
          KernelCall c =
              call(op, Family::ConcatPart,
                   ConcatPartParams{aroundAxis(shapeOf(in), cc.getAxis()), offset, total});
          c.operands = {ref(in)};
          offset += shapeOf(in)[cc.getAxis()];
          calls.push_back(c);
        }
        return success();
      })
      .Case([&](MatmulOp m) { return add(Family::Gemm, gemmOf(m)); })
      .Case<ReduceSumOp, ReduceMeanOp, ReduceMaxOp>([&](auto r) {
        std::string kind = isa<ReduceSumOp>(op) ? "Sum" : isa<ReduceMeanOp>(op) ? "Mean" : "Max";
        return add(Family::Reduce, ReduceParams{aroundAxis(shapeOf(r.getInput()), r.getAxis()),
                                                kind, sumRoundsToBf16(op)});
      })
      .Case([&](CausalMeanOp m) {
        return add(Family::CausalMean,
                   CausalMeanParams{aroundAxis(shapeOf(m.getInput()), m.getAxis()), false});
      })
      .Case([&](CausalMeanGradOp m) {
        return add(Family::CausalMean,
                   CausalMeanParams{aroundAxis(shapeOf(m.getGrad()), m.getAxis()), true});
      })
      .Case([&](SoftmaxOp s) { return add(Family::Softmax, rowsOf(s.getInput())); })
      .Case<LayerNormOp, LayerNormGradOp>([&](auto l) {
        return add(isa<LayerNormOp>(op) ? Family::LayerNorm : Family::LayerNormGrad,
                   LayerNormParams{rowsOf(l.getInput()), l.getEps().convertToDouble()});
      })
      .Case<EmbeddingOp, EmbeddingGradOp>([&](auto e) {
        // The table is an operand of the lookup and the result of its gradient.
        auto t = shapeOf(isa<EmbeddingOp>(op) ? op->getOperand(0) : op->getResult(0));
        return add(isa<EmbeddingOp>(op) ? Family::Embedding : Family::EmbeddingGrad,
                   LookupShape{numel(e.getIndices()), t[0], t[1]});
      })
      .Case<CrossEntropyOp, CrossEntropyGradOp, CrossEntropyWithGradOp>([&](auto ce) {
        Family family = isa<CrossEntropyOp>(op)       ? Family::CrossEntropy
                        : isa<CrossEntropyGradOp>(op) ? Family::CrossEntropyGrad
                                                      : Family::CrossEntropyWithGrad;
        return add(family, rowsOf(ce.getLogits()));
      })
      .Case([&](CachedAttentionOp a) {
        auto q = shapeOf(a.getQ()), k = shapeOf(a.getKPast()), v = shapeOf(a.getVPast());
        CachedAttentionShape s{q[0],
                               q[1],
                               a.getCachedLength(),
                               q[3],
                               v.back(),
                               k.size() == 3,
                               v.size() == 3,
                               float(a.getScale().convertToDouble()),
                               bool(a.getReciprocalAlpha()),
                               a.getBandAttr() ? a.getBandAttr().getInt() : -1,
                               1,
                               0};
        if (Value ring = a.getQPast()) {
          s.ring = shapeOf(ring)[2];
          s.er = shapeOf(ring)[3];
        }
        s.cacheType = dtypeOf(a.getKPast());
        if (a.getBlockTable()) {
          s.block = a.getBlockPositions();
          s.blocks = shapeOf(a.getBlockTable())[1];
          s.qPaged = a.getPagedQueries();
        }
        return add(Family::CachedAttention, s);
      })
      .Case([&](RunningMeanOp m) {
        int64_t rows = shapeOf(m.getX())[0];
        return add(Family::RunningMean, RowShape{rows, numel(m.getX()) / rows});
      })
      .Case([&](AttentionOpInterface a) -> LogicalResult {
        // Each attention form is the family of its name.
        auto family = familyNamed(op->getName().stripDialect());
        if (!family)
          return op->emitError("code generation has no kernel family '")
                 << op->getName().stripDialect() << "'";
        AttentionShape shape = a.getAttentionShape();
        shape.bf16 = matmulRoundsToBf16(op);
        return add(*family, shape);
      })
      .Default([&](Operation *other) {
        return other->emitError("code generation does not know '") << other->getName() << "'";
      });
}

} // namespace

bool sameBuffer(const BufferRef &a, const BufferRef &b) {
  return a.kind == b.kind && a.offset == b.offset && a.index == b.index &&
         a.elements == b.elements && a.dtype == b.dtype;
}

bool overlaps(const BufferRef &a, const BufferRef &b) {
  if (a.kind != b.kind)
    return false;
  if (a.kind == BufferRef::Input)
    return a.index == b.index;
  auto end = [](const BufferRef &r) {
    return r.offset + r.elements * (r.kind == BufferRef::Arena ? ra_dtype::bytes(r.dtype) : 1);
  };
  return a.offset < end(b) && b.offset < end(a);
}

FailureOr<KernelProgram> formKernels(ModuleOp module) {
  KernelProgram program;
  program.params = layoutParams(module);
  for (auto fn : module.getOps<func::FuncOp>()) {
    Former former(module);
    auto e = former.form(fn);
    if (failed(e))
      return failure();
    foldGemmEpilogues(*e);
    fuseElementwiseSequences(*e);
    program.entries.push_back(std::move(*e));
  }
  return program;
}

} // namespace ra::codegen
