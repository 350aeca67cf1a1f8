//===- Interpreter.cpp - the reference interpreter of the ra dialect ------===//
#include "ir/interpreter/Interpreter.h"
#include "ir/interpreter/Kernels.h"

#include "ir/IRUtils.h"
#include "ir/RaDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;

namespace ra::interp {

static std::vector<int64_t> shapeOf(Type t) {
  auto s = t.cast<ShapedType>().getShape();
  return {s.begin(), s.end()};
}

ParamStore initParams(ModuleOp module, uint64_t seed) {
  ParamStore store;
  for (auto p : module.getOps<ParamOp>()) {
    Tensor t(shapeOf(p.getType()));
    // ParamOp's verifier has accepted the initializer's name.
    initialize(t.data.data(), int64_t(t.data.size()), *parseInit(p.getInit().str()),
               p.getInitValue().convertToDouble(), p.getSymName().str(), seed);
    store[p.getSymName().str()] = std::move(t);
  }
  return store;
}

ParamStore checkParams(ModuleOp module, uint64_t seed) {
  ParamStore store = initParams(module, seed);
  Rng jitter(hashName("jitter", seed));
  for (auto p : module.getOps<ParamOp>())
    if (p.getTrainable() && parseInit(p.getInit().str()) != Init::Normal) // optimizer state stays
      for (Real &x : store[p.getSymName().str()].data)
        x += 0.1 * jitter.normal();
  return store;
}

int64_t idRange(Value ids) {
  int64_t range = INT64_MAX;
  SmallVector<Value> work{ids};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (isa<SliceOp, ReshapeOp, TransposeOp, BroadcastOp, ConcatOp>(user))
        work.push_back(user->getResult(0));
      else if (auto e = dyn_cast<EmbeddingOp>(user))
        range = std::min(range, shapeOf(e.getTable().getType())[0]);
      else if (auto e = dyn_cast<EmbeddingGradOp>(user))
        range = std::min(range, shapeOf(e.getType())[0]);
      else if (auto c = dyn_cast<CrossEntropyOp>(user))
        range = std::min(range, shapeOf(c.getLogits().getType()).back());
      else if (auto c = dyn_cast<CrossEntropyGradOp>(user))
        range = std::min(range, shapeOf(c.getLogits().getType()).back());
      else if (auto a = dyn_cast<CachedAttentionOp>(user); a && use.get() == a.getLengths())
        range = std::min(range, a.getCachedLength());
      else if (auto a = dyn_cast<CachedAttentionOp>(user); a && use.get() == a.getBlockTable())
        range = std::min(range, shapeOf(a.getKPast().getType())[0]);
    }
  }
  return range == INT64_MAX ? 1 : range;
}

std::vector<Tensor> randomInputs(ModuleOp module, StringRef function, uint64_t seed) {
  std::vector<Tensor> inputs;
  auto fn = module.lookupSymbol<func::FuncOp>(function);
  Rng rng(hashName(function, seed));
  for (BlockArgument arg : fn.getArguments()) {
    ra_dtype::Dtype type = dtypeOf(arg);
    bool isInt = type == ra_dtype::Dtype::I32;
    int64_t range = isInt ? idRange(arg) : 0;
    Tensor x(shapeOf(arg.getType()), 0.0, isInt);
    // A half cache's values are those its type holds.
    for (Real &v : x.data)
      v = isInt                          ? double(rng.next() % (uint64_t)range)
          : type != ra_dtype::Dtype::F32 ? ra_dtype::roundTo(float(rng.normal()), type)
                                         : rng.normal();
    inputs.push_back(std::move(x));
  }
  return inputs;
}

namespace {

/// Evaluates one function invocation.
class Frame {
public:
  Frame(Precision precision, ParamStore &params, double noise = 0, uint64_t noiseSeed = 0)
      : precision(precision), noise(noise), noiseRng(noiseSeed), params(params) {}

  LogicalResult eval(Operation *op);
  const Tensor &get(Value v) { return values.find(v)->second; }
  void bind(Value v, Tensor t) { values[v] = std::move(t); }
  void drop(Value v) { values.erase(v); }

  std::vector<std::pair<std::string, Tensor>> writes;

private:
  void set(Operation *op, std::vector<Tensor> results) {
    for (auto [i, r] : llvm::enumerate(results)) {
      if (noise > 0 && !r.isInteger)
        for (Real &x : r.data)
          x *= 1 + noise * (2 * noiseRng.uniform() - 1);
      if (precision == Precision::F32 && !r.isInteger)
        for (Real &x : r.data)
          x = (float)x;
      if (precision == Precision::F64 && !r.isInteger)
        for (Real &x : r.data)
          x = (double)x;
      values[op->getResult(i)] = std::move(r);
    }
  }
  /// An elementwise op over operands of the result's shape (in a fused
  /// body they are spread to it), element by element.
  LogicalResult elementwise(ElementwiseOpInterface e) {
    Operation *op = e.getOperation();
    std::vector<const Tensor *> in;
    for (Value v : op->getOperands())
      in.push_back(&get(v));
    Tensor y(in[0]->shape);
    Real elements[2];
    for (size_t i = 0; i < y.data.size(); ++i) {
      for (size_t k = 0; k < in.size(); ++k)
        elements[k] = in[k]->data[i];
      y.data[i] = e.evaluate(llvm::ArrayRef<Real>(elements, in.size()));
    }
    set(op, {std::move(y)});
    return success();
  }
  LogicalResult check(Operation *op, const std::string &error) {
    if (error.empty())
      return success();
    return op->emitError() << error;
  }

  Precision precision;
  double noise;
  Rng noiseRng;
  ParamStore &params;
  llvm::DenseMap<Value, Tensor> values;
};

/// The attention semantics of any attention op (plain, flash, gated,
/// head-mean, or their gradients): scale, mask, band and RA's alpha.
AttentionSpec specOf(AttentionOpInterface a, Frame &frame) {
  AttentionSpec spec;
  spec.scale = a.getScaleValue();
  spec.causal = a.isCausal();
  if (Value alpha = a.getReciprocalAlpha())
    spec.alpha = frame.get(alpha).data[0];
  if (a.getBandAttr())
    spec.band = a.getBandOrAll();
  return spec;
}

LogicalResult Frame::eval(Operation *op) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](GetParamOp p) -> LogicalResult {
        auto it = params.find(p.getName().str());
        if (it == params.end())
          return p.emitError() << "no value for parameter '" << p.getName() << "'";
        if (it->second.shape != shapeOf(p.getType()))
          return p.emitError() << "the value of parameter '" << p.getName()
                               << "' has the wrong shape";
        set(op, {it->second});
        return success();
      })
      .Case([&](SetParamOp p) {
        writes.push_back({p.getName().str(), get(p.getValue())});
        return success();
      })
      .Case([&](ConstantOp c) {
        set(op, {Tensor(shapeOf(c.getType()), c.getValue().convertToDouble())});
        return success();
      })
      .Case([&](IotaOp i) {
        set(op, {iota(shapeOf(i.getType()), i.getAxis())});
        return success();
      })
      // Each elementwise op's math is declared with it (RaOps.td).
      .Case([&](ElementwiseOpInterface e) { return elementwise(e); })
      .Case([&](MatmulOp m) {
        if (matmulRoundsToBf16(m)) // --precision bf16: the kernels' rounding of each operand
          set(op, {matmul(roundedToBf16(get(m.getLhs())), roundedToBf16(get(m.getRhs())),
                          m.getTransposeLhs(), m.getTransposeRhs(), shapeOf(m.getType()))});
        else
          set(op, {matmul(get(m.getLhs()), get(m.getRhs()), m.getTransposeLhs(),
                          m.getTransposeRhs(), shapeOf(m.getType()))});
        return success();
      })
      .Case([&](ReduceSumOp r) {
        if (sumRoundsToBf16(r)) // a bias gradient summed from a bf16 GEMM's operand
          set(op, {reduce(roundedToBf16(get(r.getInput())), r.getAxis(), r.getKeepdim(), 's')});
        else
          set(op, {reduce(get(r.getInput()), r.getAxis(), r.getKeepdim(), 's')});
        return success();
      })
      .Case([&](ReduceMeanOp r) {
        set(op, {reduce(get(r.getInput()), r.getAxis(), r.getKeepdim(), 'm')});
        return success();
      })
      .Case([&](ReduceMaxOp r) {
        set(op, {reduce(get(r.getInput()), r.getAxis(), r.getKeepdim(), 'x')});
        return success();
      })
      .Case([&](CausalMeanOp c) {
        set(op, {causalMean(get(c.getInput()), c.getAxis())});
        return success();
      })
      .Case([&](CausalMeanGradOp c) {
        set(op, {causalMeanGrad(get(c.getGrad()), c.getAxis())});
        return success();
      })
      .Case([&](LayerNormOp l) {
        set(op, {layerNorm(get(l.getInput()), get(l.getWeight()), get(l.getBias()),
                           l.getEps().convertToDouble())});
        return success();
      })
      .Case([&](LayerNormGradOp l) {
        set(op, layerNormGrad(get(l.getInput()), get(l.getWeight()), get(l.getGrad()),
                              l.getEps().convertToDouble()));
        return success();
      })
      .Case([&](SoftmaxOp s) {
        set(op, {softmax(get(s.getInput()))});
        return success();
      })
      .Case([&](EmbeddingOp e) {
        Tensor out;
        if (failed(check(op, embedding(get(e.getTable()), get(e.getIndices()), out))))
          return failure();
        set(op, {std::move(out)});
        return success();
      })
      .Case([&](EmbeddingGradOp e) {
        Tensor table(shapeOf(e.getType()));
        if (failed(check(op, embeddingGrad(get(e.getIndices()), get(e.getGrad()), table))))
          return failure();
        set(op, {std::move(table)});
        return success();
      })
      .Case([&](CrossEntropyOp c) {
        Tensor loss;
        if (failed(check(op, crossEntropy(get(c.getLogits()), get(c.getTargets()), loss))))
          return failure();
        set(op, {std::move(loss)});
        return success();
      })
      .Case([&](CrossEntropyWithGradOp c) {
        Tensor loss, d;
        if (failed(check(op, crossEntropy(get(c.getLogits()), get(c.getTargets()), loss))) ||
            failed(check(op, crossEntropyGrad(get(c.getLogits()), get(c.getTargets()),
                                              get(c.getGrad()).data[0], d))))
          return failure();
        set(op, {std::move(loss), std::move(d)});
        return success();
      })
      .Case([&](CrossEntropyGradOp c) {
        Tensor d;
        if (failed(check(op, crossEntropyGrad(get(c.getLogits()), get(c.getTargets()),
                                              get(c.getGrad()).data[0], d))))
          return failure();
        set(op, {std::move(d)});
        return success();
      })
      .Case([&](CachedAttentionOp a) {
        AttentionSpec spec;
        spec.scale = a.getScale().convertToDouble();
        spec.causal = true;
        if (Value alpha = a.getReciprocalAlpha())
          spec.alpha = get(alpha).data[0];
        if (a.getBandAttr())
          spec.band = a.getBandAttr().getInt();
        Tensor out;
        if (failed(
                check(op, cachedAttention(get(a.getQ()), get(a.getKPast()), get(a.getKNew()),
                                          get(a.getVPast()), get(a.getVNew()), get(a.getLengths()),
                                          a.getQPast() ? &get(a.getQPast()) : nullptr,
                                          a.getKRecip() ? &get(a.getKRecip()) : nullptr,
                                          a.getBlockTable() ? &get(a.getBlockTable()) : nullptr,
                                          a.getPagedQueries(), spec, out))))
          return failure();
        set(op, {std::move(out)});
        return success();
      })
      .Case([&](RunningMeanOp m) {
        Tensor out;
        if (failed(
                check(op, runningMean(get(m.getSum()), get(m.getX()), get(m.getLengths()), out))))
          return failure();
        set(op, {std::move(out)});
        return success();
      })
      .Case([&](AttentionOp a) {
        auto spec = specOf(a, *this);
        set(op, {attention(get(a.getQ()), get(a.getK()), get(a.getV()), spec)});
        return success();
      })
      .Case([&](FusedElementwiseOp f) -> LogicalResult {
        // The body on whole tensors: each input spread to the result's
        // shape, each splat constant filled out, then the elementwise ops
        // as they run unfused (map and zip ignore the body's element types).
        auto result = f.getType().cast<ShapedType>();
        std::vector<int64_t> shape = shapeOf(result);
        Block &body = f.getBody().front();
        for (auto [arg, input] : llvm::zip(body.getArguments(), f.getInputs())) {
          const Tensor &in = get(input);
          Tensor spread(shape);
          for (size_t i = 0; i < spread.data.size(); ++i)
            spread.data[i] = in.data[i % in.data.size()]; // full, scalar or trailing
          values[arg] = std::move(spread);
        }
        for (Operation &inner : body.without_terminator()) {
          if (auto c = dyn_cast<ConstantOp>(inner)) {
            values[c.getResult()] = Tensor(shape, c.getValue().convertToDouble());
            continue;
          }
          if (failed(eval(&inner)))
            return failure();
        }
        Tensor out = get(body.getTerminator()->getOperand(0));
        // The body's whole-tensor values die with the op.
        for (BlockArgument arg : body.getArguments())
          values.erase(arg);
        for (Operation &inner : body.without_terminator())
          for (Value r : inner.getResults())
            values.erase(r);
        set(op, {std::move(out)});
        return success();
      })
      .Case([&](HeadMeanAttentionOp a) {
        auto spec = specOf(a, *this);
        Tensor y =
            attention(get(a.getQ()), get(a.getK()), get(a.getV()), spec, nullptr, &get(a.getLse()));
        int64_t b = y.shape[0], h = y.shape[1], rest = y.shape[2] * y.shape[3];
        Tensor mean({b, y.shape[2], y.shape[3]});
        for (int64_t i = 0; i < b; ++i)
          for (int64_t j = 0; j < h; ++j)
            for (int64_t x = 0; x < rest; ++x)
              mean.data[i * rest + x] += y.data[(i * h + j) * rest + x] / h;
        set(op, {std::move(mean)});
        return success();
      })
      .Case([&](HeadMeanAttentionGradOp a) {
        auto spec = specOf(a, *this);
        const Tensor &q = get(a.getQ()), &g = get(a.getGrad());
        int64_t b = q.shape[0], h = q.shape[1], rest = g.shape[1] * g.shape[2];
        Tensor spread({b, h, g.shape[1], g.shape[2]});
        for (int64_t i = 0; i < b; ++i)
          for (int64_t j = 0; j < h; ++j)
            for (int64_t x = 0; x < rest; ++x)
              spread.data[(i * h + j) * rest + x] = g.data[i * rest + x] / h;
        set(op, attentionGrad(q, get(a.getK()), get(a.getV()), spread, spec, &get(a.getLse())));
        return success();
      })
      .Case([&](GatedFlashAttentionOp a) {
        auto spec = specOf(a, *this);
        Tensor lse;
        Tensor y = attention(get(a.getQ()), get(a.getK()), get(a.getV()), spec, &lse);
        const Tensor &gate = get(a.getGate());
        Tensor gated = y;
        int64_t dv = y.shape.back();
        for (size_t i = 0; i < gated.data.size(); ++i)
          gated.data[i] *= gate.data[i / dv];
        set(op, {std::move(gated), std::move(y), std::move(lse)});
        return success();
      })
      .Case([&](GatedFlashAttentionGradOp a) {
        // grad * gate into the attention's backward; the gate's gradient is
        // rowsum(grad * ungated).
        auto spec = specOf(a, *this);
        const Tensor &gate = get(a.getGate()), &y = get(a.getUngated()), &g = get(a.getGrad());
        int64_t dv = g.shape.back();
        Tensor scaled = g, dgate(gate.shape);
        for (size_t i = 0; i < g.data.size(); ++i) {
          scaled.data[i] *= gate.data[i / dv];
          dgate.data[i / dv] += g.data[i] * y.data[i];
        }
        auto grads = attentionGrad(get(a.getQ()), get(a.getK()), get(a.getV()), scaled, spec,
                                   &get(a.getLse()));
        std::vector<Tensor> out{grads[0], grads[1], grads[2], dgate};
        if (a.getReciprocalAlpha())
          out.push_back(grads[3]);
        set(op, std::move(out));
        return success();
      })
      .Case([&](FlashAttentionOp a) {
        auto spec = specOf(a, *this);
        Tensor lse;
        Tensor y = attention(get(a.getQ()), get(a.getK()), get(a.getV()), spec, &lse);
        set(op, {std::move(y), std::move(lse)});
        return success();
      })
      .Case([&](FlashAttentionGradOp a) {
        // attention_grad with P = exp(S - lse) from the given row
        // log-sum-exps, as the kernels recompute it (`result` only spares
        // them the row term).
        auto spec = specOf(a, *this);
        set(op, attentionGrad(get(a.getQ()), get(a.getK()), get(a.getV()), get(a.getGrad()), spec,
                              &get(a.getLse())));
        return success();
      })
      .Case([&](AttentionGradOp a) {
        auto spec = specOf(a, *this);
        set(op, attentionGrad(get(a.getQ()), get(a.getK()), get(a.getV()), get(a.getGrad()), spec));
        return success();
      })
      .Case([&](SliceOp s) {
        set(op, {slice(get(s.getInput()), s.getAxis(), s.getStart(), s.getEnd())});
        return success();
      })
      .Case([&](ConcatOp c) {
        std::vector<const Tensor *> inputs;
        for (Value v : c.getInputs())
          inputs.push_back(&get(v));
        set(op, {concat(inputs, c.getAxis())});
        return success();
      })
      .Case([&](ReshapeOp r) {
        Tensor y = get(r.getInput());
        y.shape = shapeOf(r.getType());
        set(op, {std::move(y)});
        return success();
      })
      .Case([&](TransposeOp t) {
        auto perm = t.getPermutation();
        set(op, {transpose(get(t.getInput()), {perm.begin(), perm.end()})});
        return success();
      })
      .Case([&](BroadcastOp b) {
        set(op, {broadcast(get(b.getInput()), shapeOf(b.getType()))});
        return success();
      })
      .Default([&](Operation *other) {
        return other->emitError() << "the interpreter does not know '" << other->getName() << "'";
      });
}

/// For each op of `body`, the values of `body` whose last use it is (a use
/// inside an op's region counts as a use by that op). Values the terminator
/// returns never die.
llvm::DenseMap<Operation *, SmallVector<Value>> lastUses(Block &body) {
  llvm::DenseMap<Value, Operation *> last;
  for (Operation &op : body)
    op.walk([&](Operation *inner) {
      for (Value v : inner->getOperands())
        if (v.getParentBlock() == &body)
          last[v] = &op;
    });
  llvm::DenseMap<Operation *, SmallVector<Value>> dying;
  for (auto [v, op] : last)
    if (!op->hasTrait<OpTrait::IsTerminator>())
      dying[op].push_back(v);
  return dying;
}

int64_t elementsOf(Type t) {
  auto shaped = t.dyn_cast<ShapedType>();
  return shaped && shaped.hasStaticShape() ? shaped.getNumElements() : 1;
}

} // namespace

FailureOr<uint64_t> peakValueBytes(ModuleOp module, StringRef function) {
  auto fn = module.lookupSymbol<func::FuncOp>(function);
  if (!fn)
    return module.emitError() << "no function @" << function;
  Block &body = fn.getBody().front();
  auto dying = lastUses(body);
  int64_t live = 0, peak = 0;
  for (BlockArgument a : body.getArguments())
    live += elementsOf(a.getType());
  for (Operation &op : body) {
    int64_t results = 0;
    for (Value r : op.getResults())
      results += elementsOf(r.getType());
    // A fused body holds each input spread to the result's shape and each
    // inner op's result while it runs.
    int64_t transient = 0;
    if (auto fused = dyn_cast<FusedElementwiseOp>(op)) {
      Block &inner = fused.getBody().front();
      transient = results * int64_t(inner.getNumArguments() + inner.getOperations().size() - 1);
    }
    // The results the terminator copies out live beside the frame's values.
    if (op.hasTrait<OpTrait::IsTerminator>())
      for (Value v : op.getOperands())
        transient += elementsOf(v.getType());
    live += results;
    peak = std::max(peak, live + transient);
    for (Value r : op.getResults())
      if (r.use_empty())
        live -= elementsOf(r.getType());
    if (auto it = dying.find(&op); it != dying.end())
      for (Value v : it->second)
        live -= elementsOf(v.getType());
  }
  int64_t params = 0;
  for (auto p : module.getOps<ParamOp>())
    params += elementsOf(p.getTensorType());
  // The store, and the copies @train_step's writes hold until it returns.
  return uint64_t(peak + 2 * params) * sizeof(Real);
}

FailureOr<std::vector<Tensor>>
Interpreter::run(StringRef function, const std::vector<Tensor> &inputs, ParamStore &params) {
  auto fn = module.lookupSymbol<func::FuncOp>(function);
  if (!fn)
    return module.emitError() << "no function @" << function;
  if (fn.getNumArguments() != inputs.size())
    return fn.emitError() << "@" << function << " takes " << fn.getNumArguments() << " inputs, got "
                          << inputs.size();
  Frame frame(precision, params, noise, noiseSeed);
  for (auto [arg, input] : llvm::zip(fn.getArguments(), inputs)) {
    if (input.shape != shapeOf(arg.getType()))
      return fn.emitError() << "input " << arg.getArgNumber() << " of @" << function
                            << " has the wrong shape";
    frame.bind(arg, input);
  }
  Block &body = fn.getBody().front();
  llvm::DenseMap<Operation *, SmallVector<Value>> dying = lastUses(body);
  size_t total = body.getOperations().size(), done = 0;
  std::vector<Tensor> results;
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        results.push_back(frame.get(v));
      break;
    }
    if (failed(frame.eval(&op)))
      return failure();
    if (observer && op.getNumResults()) {
      std::vector<Tensor> outs;
      for (Value r : op.getResults())
        outs.push_back(frame.get(r));
      observer(&op, outs);
    }
    // Values die at their last use, so a run holds its live set, not every
    // value it made (the README's large config held 17 GB otherwise).
    for (Value r : op.getResults())
      if (r.use_empty())
        frame.drop(r);
    if (auto it = dying.find(&op); it != dying.end())
      for (Value v : it->second)
        frame.drop(v);
    if (progress)
      progress(++done, total);
  }
  for (auto &[name, value] : frame.writes)
    params[name] = std::move(value);
  return results;
}

} // namespace ra::interp
