//===- Autodiff.cpp - @forward -> @grad by reverse-mode differentiation ---===//
#include "ir/RaDialect.h"
#include "ir/analysis/ModelStats.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace ra {
#define GEN_PASS_DEF_AUTODIFF
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

bool isFloatTensor(Value v) {
  auto t = v.getType().dyn_cast<ShapedType>();
  return t && t.getElementType().isa<FloatType>();
}

struct Autodiff : ra::impl::AutodiffBase<Autodiff> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(differentiate(module)))
      signalPassFailure();
  }

  LogicalResult differentiate(ModuleOp module) {
    func::FuncOp forward = ra::getForward(module);
    if (!forward)
      return module.emitError("ra-autodiff: the module has no @forward");
    if (module.lookupSymbol("grad"))
      return module.emitError("ra-autodiff: @grad exists already");
    auto names = forward->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr);
    std::optional<unsigned> lossIndex;
    for (auto [i, n] : llvm::enumerate(names ? names.getValue() : ArrayRef<Attribute>{}))
      if (n.cast<StringAttr>().getValue() == "loss")
        lossIndex = i;
    if (!lossIndex)
      return success(); // an inference-only model: nothing to train
    auto lossType = forward.getResultTypes()[*lossIndex].dyn_cast<RankedTensorType>();
    if (!lossType || lossType.getRank() != 0 || !lossType.getElementType().isF32()) {
      // The frontend refuses such a model at its `output loss` line; this
      // guards IR from elsewhere, pointing at what computes the loss.
      Value loss = forward.getBody().front().getTerminator()->getOperand(*lossIndex);
      return emitError(loss.getLoc(), "ra-autodiff: the loss must be a scalar f32, got ")
             << loss.getType();
    }

    OpBuilder b(module.getContext());
    b.setInsertionPointAfter(forward);
    auto grad = cast<func::FuncOp>(b.clone(*forward.getOperation()));
    grad.setSymName("grad");
    Block &body = grad.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    Value loss = ret.getOperand(*lossIndex);
    SmallVector<Operation *> forwardOps;
    for (Operation &op : body.without_terminator())
      forwardOps.push_back(&op);

    b.setInsertionPoint(ret);
    llvm::DenseMap<Value, Value> adjoint;
    auto accumulate = [&](Value v, Value g) {
      auto [it, inserted] = adjoint.try_emplace(v, g);
      if (!inserted)
        it->second = b.create<ra::AddOp>(v.getLoc(), it->second, g);
    };
    adjoint[loss] = b.create<ra::ConstantOp>(loss.getLoc(), loss.getType(), 1.0);
    llvm::StringMap<Value> paramGrads;

    for (Operation *op : llvm::reverse(forwardOps)) {
      SmallVector<Value> resultGrads;
      bool any = false;
      for (Value r : op->getResults()) {
        auto it = adjoint.find(r);
        resultGrads.push_back(it == adjoint.end() ? Value() : it->second);
        any |= it != adjoint.end();
      }
      if (!any)
        continue;
      if (auto get = dyn_cast<ra::GetParamOp>(op)) {
        Value &slot = paramGrads[get.getName()];
        slot = slot ? b.create<ra::AddOp>(op->getLoc(), slot, resultGrads[0]) : resultGrads[0];
        continue;
      }
      // Constants and iota: nothing upstream to differentiate.
      if (llvm::none_of(op->getOperands(), isFloatTensor))
        continue;
      auto vjp = dyn_cast<ra::VjpOpInterface>(op);
      if (!vjp)
        return op->emitError("ra-autodiff: '")
               << op->getName() << "' has no derivative (no VjpOpInterface)";
      SmallVector<Value> operandGrads;
      if (failed(vjp.buildVjp(b, resultGrads, operandGrads)))
        return op->emitError("ra-autodiff: building the derivative failed");
      for (auto [operand, g] : llvm::zip(op->getOperands(), operandGrads))
        if (g && isFloatTensor(operand))
          accumulate(operand, g);
    }

    SmallVector<Value> results{loss};
    SmallVector<Attribute> outputNames{b.getStringAttr("loss")};
    for (auto param : module.getOps<ra::ParamOp>()) {
      if (!param.getTrainable())
        continue;
      Value g = paramGrads.lookup(param.getSymName());
      if (!g) {
        param.emitWarning() << "parameter '" << param.getSymName()
                            << "' gets no gradient from the loss; its gradient is zero";
        g = b.create<ra::ConstantOp>(param.getLoc(), param.getType(), 0.0);
      }
      results.push_back(g);
      outputNames.push_back(b.getStringAttr("grad." + param.getSymName().str()));
    }
    b.create<func::ReturnOp>(ret.getLoc(), results);
    ret.erase();
    grad.setType(FunctionType::get(module.getContext(), grad.getArgumentTypes(),
                                   ValueRange(results).getTypes()));
    grad->setAttr(ra::RaDialect::kOutputsAttr, b.getArrayAttr(outputNames));
    return success();
  }
};

} // namespace

std::unique_ptr<Pass> ra::createAutodiffPass() { return std::make_unique<Autodiff>(); }
