//===- Optimizer.cpp - @grad -> @train_step and @apply: clipping and AdamW ===//
//
// Per parameter p with gradient g (PyTorch's AdamW and clip_grad_norm_):
//   coef = min(1, max_norm / (||all g|| + 1e-6));  g <- coef g
//   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
//   p <- p (1 - lr wd)  [decay group only]
//   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//
// @train_step(inputs, lr, step) is @grad's body and the update; @apply(grads,
// lr, step) is the update alone, from gradients the host summed.
//
//===----------------------------------------------------------------------===//
#include "ir/RaDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"

#include <cmath>

namespace ra {
#define GEN_PASS_DEF_OPTIMIZER
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;
using namespace ra;

namespace {

struct Optimizer : ra::impl::OptimizerBase<Optimizer> {
  using OptimizerBase::OptimizerBase;

  void runOnOperation() override {
    if (failed(buildTrainStep(getOperation())))
      signalPassFailure();
  }

  /// Clipping and AdamW of every trainable parameter from its gradient in
  /// `grads` (the parameters' order), at insertion point of `b`: writes the
  /// parameters and moments, returns {global norm, per-parameter norms}.
  /// @train_step and @apply share it.
  std::pair<Value, Value> emitUpdate(OpBuilder &b, Location loc, MutableArrayRef<ParamOp> params,
                                     ArrayRef<std::pair<StringRef, StringRef>> moments,
                                     ArrayRef<Value> gradients, Value lr, Value t) {
    auto scalar = RankedTensorType::get({}, b.getF32Type());
    auto c = [&](double v, Type type) -> Value { return b.create<ConstantOp>(loc, type, v); };
    auto bcast = [&](Value s, Type type) -> Value { return b.create<BroadcastOp>(loc, type, s); };
    auto mul = [&](Value x, Value y) -> Value { return b.create<MulOp>(loc, x, y); };
    auto add = [&](Value x, Value y) -> Value { return b.create<AddOp>(loc, x, y); };
    auto sub = [&](Value x, Value y) -> Value { return b.create<SubOp>(loc, x, y); };
    auto div = [&](Value x, Value y) -> Value { return b.create<DivOp>(loc, x, y); };
    auto sqrt = [&](Value x) -> Value { return b.create<SqrtOp>(loc, x); };

    // Gradient norms, before clipping.
    SmallVector<Value> grads, squares, norms;
    Value total = c(0.0, scalar);
    for (auto [i, p] : llvm::enumerate(params)) {
      Value g = gradients[i];
      grads.push_back(g);
      int64_t n = p.getTensorType().getNumElements();
      auto flatType = RankedTensorType::get({n}, b.getF32Type());
      Value sq = b.create<ReduceSumOp>(loc, b.create<ReshapeOp>(loc, flatType, mul(g, g)), 0);
      total = add(total, sq);
      norms.push_back(
          b.create<ReshapeOp>(loc, RankedTensorType::get({1}, b.getF32Type()), sqrt(sq)));
    }
    Value globalNorm = sqrt(total);
    Value normVector = norms.empty() ? c(0.0, RankedTensorType::get({1}, b.getF32Type()))
                                     : b.create<ConcatOp>(loc, norms, 0).getResult();

    // coef = min(1, max_norm / (norm + 1e-6)) = 1 / max(1, (norm + 1e-6) / max_norm)
    Value coef = c(1.0, scalar);
    if (maxGradNorm > 0)
      coef =
          div(c(1.0, scalar),
              b.create<MaximumOp>(loc, c(1.0, scalar),
                                  div(add(globalNorm, c(1e-6, scalar)), c(maxGradNorm, scalar))));
    // Bias corrections 1 - beta^t, with beta^t = exp(t log beta).
    auto correction = [&](double beta) {
      return sub(c(1.0, scalar), b.create<ExpOp>(loc, mul(t, c(std::log(beta), scalar))));
    };
    Value stepSize = div(lr, correction(beta1));
    Value sqrtBc2 = sqrt(correction(beta2));
    Value shrink = sub(c(1.0, scalar), mul(lr, c(weightDecay, scalar)));

    for (auto [i, p] : llvm::enumerate(params)) {
      Type type = p.getType();
      auto [mName, vName] = moments[i];
      Value g = mul(grads[i], bcast(coef, type));
      Value m = b.create<GetParamOp>(loc, type, mName);
      Value v = b.create<GetParamOp>(loc, type, vName);
      Value w = b.create<GetParamOp>(loc, type, p.getSymName());
      Value m2 = add(mul(c(beta1, type), m), mul(c(1 - beta1, type), g));
      Value v2 = add(mul(c(beta2, type), v), mul(c(1 - beta2, type), mul(g, g)));
      if (p.getDecay() && weightDecay != 0)
        w = mul(w, bcast(shrink, type));
      Value denom = add(div(sqrt(v2), bcast(sqrtBc2, type)), c(epsilon, type));
      Value w2 = sub(w, mul(bcast(stepSize, type), div(m2, denom)));
      for (auto [name, value] :
           {std::pair{p.getSymName(), w2}, std::pair{mName, m2}, std::pair{vName, v2}})
        b.create<SetParamOp>(loc, name, value);
    }

    return {globalNorm, normVector};
  }

  LogicalResult buildTrainStep(ModuleOp module) {
    auto grad = module.lookupSymbol<func::FuncOp>("grad");
    if (!grad)
      return success(); // no loss, so no training step
    MLIRContext *ctx = module.getContext();
    SmallVector<ParamOp> params;
    for (auto p : module.getOps<ParamOp>())
      if (p.getTrainable())
        params.push_back(p);

    // Optimizer state, declared next to the parameters.
    OpBuilder b(ctx);
    b.setInsertionPoint(*module.getOps<func::FuncOp>().begin());
    auto state = [&](ParamOp p, StringRef prefix) {
      return b
          .create<ParamOp>(p.getLoc(), (prefix + p.getSymName()).str(), p.getType(), "zeros",
                           llvm::APFloat(0.0), /*decay=*/false, "optimizer",
                           /*trainable=*/false)
          .getSymName();
    };
    SmallVector<std::pair<StringRef, StringRef>> moments;
    for (ParamOp p : params)
      moments.push_back({state(p, "adam.m."), state(p, "adam.v.")});

    // @train_step(inputs..., lr, step): the body of @grad, then the update.
    auto scalar = RankedTensorType::get({}, b.getF32Type());
    SmallVector<Type> argTypes(grad.getArgumentTypes());
    argTypes.append({scalar, scalar});
    b.setInsertionPointAfter(grad);
    Location loc = grad.getLoc();
    auto step = b.create<func::FuncOp>(loc, "train_step", FunctionType::get(ctx, argTypes, {}));
    Block *entry = step.addEntryBlock();
    b.setInsertionPointToStart(entry);
    IRMapping mapping;
    for (auto [from, to] : llvm::zip(grad.getArguments(), entry->getArguments()))
      mapping.map(from, to);
    Operation *gradReturn = grad.getBody().front().getTerminator();
    for (Operation &op : grad.getBody().front().without_terminator())
      b.clone(op, mapping);
    Value loss = mapping.lookup(gradReturn->getOperand(0));
    Value lr = entry->getArgument(argTypes.size() - 2);
    Value t = entry->getArgument(argTypes.size() - 1);
    SmallVector<Value> gradients;
    for (size_t i = 0; i < params.size(); ++i)
      gradients.push_back(mapping.lookup(gradReturn->getOperand(i + 1)));

    auto [globalNorm, normVector] = emitUpdate(b, loc, params, moments, gradients, lr, t);

    SmallVector<Value> results{loss, globalNorm, normVector};
    b.create<func::ReturnOp>(loc, results);
    step.setType(FunctionType::get(ctx, argTypes, ValueRange(results).getTypes()));
    SmallVector<Attribute> inputs;
    if (auto in = grad->getAttrOfType<ArrayAttr>(RaDialect::kInputsAttr))
      inputs.append(in.begin(), in.end());
    inputs.append({b.getStringAttr("lr"), b.getStringAttr("step")});
    step->setAttr(RaDialect::kInputsAttr, b.getArrayAttr(inputs));
    step->setAttr(RaDialect::kOutputsAttr, b.getStrArrayAttr({"loss", "grad_norm", "grad_norms"}));
    SmallVector<Attribute> order;
    for (ParamOp p : params)
      order.push_back(p.getSymNameAttr());
    step->setAttr(RaDialect::kGradNormParamsAttr, b.getArrayAttr(order));

    // @apply(grad.p..., lr, step): the same update from given gradients, for
    // gradient accumulation and data parallelism (the host sums @grad's
    // gradients over micro-batches and ranks, then applies them once).
    SmallVector<Type> applyTypes;
    SmallVector<Attribute> applyInputs;
    for (ParamOp p : params) {
      applyTypes.push_back(p.getType());
      applyInputs.push_back(b.getStringAttr("grad." + p.getSymName().str()));
    }
    applyTypes.append({scalar, scalar});
    applyInputs.append({b.getStringAttr("lr"), b.getStringAttr("step")});
    b.setInsertionPointAfter(step);
    auto apply = b.create<func::FuncOp>(loc, "apply", FunctionType::get(ctx, applyTypes, {}));
    Block *applyEntry = apply.addEntryBlock();
    b.setInsertionPointToStart(applyEntry);
    SmallVector<Value> given(applyEntry->getArguments().take_front(params.size()));
    auto [applyNorm, applyNorms] =
        emitUpdate(b, loc, params, moments, given, applyEntry->getArgument(params.size()),
                   applyEntry->getArgument(params.size() + 1));
    SmallVector<Value> applyResults{applyNorm, applyNorms};
    b.create<func::ReturnOp>(loc, applyResults);
    apply.setType(FunctionType::get(ctx, applyTypes, ValueRange(applyResults).getTypes()));
    apply->setAttr(RaDialect::kInputsAttr, b.getArrayAttr(applyInputs));
    apply->setAttr(RaDialect::kOutputsAttr, b.getStrArrayAttr({"grad_norm", "grad_norms"}));
    apply->setAttr(RaDialect::kGradNormParamsAttr, b.getArrayAttr(order));
    return success();
  }
};

} // namespace

std::unique_ptr<Pass> ra::createOptimizerPass() { return std::make_unique<Optimizer>(); }
