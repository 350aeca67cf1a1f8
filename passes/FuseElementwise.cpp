//===- FuseElementwise.cpp - elementwise chains as one kernel -------------===//
//
// Groups each chain of elementwise ops that feed only each other into one
// ra.fused_elementwise: one pass over memory, no intermediate buffers. Splat
// constants and broadcasts of a scalar or of a row vector (a bias) are read
// in the kernel instead of being materialized at full size; they are copied
// into every group that reads them. AdamW's update of a parameter (a dozen
// ops over scalars and splats), a bias add, a bias add and its GELU: each
// becomes one kernel.
//
// A value with users outside its chain stays a separate result (no
// recomputation), so fusing never adds work.
//
//===----------------------------------------------------------------------===//
#include "ir/IRUtils.h"
#include "ir/RaDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace ra {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

/// A producer a group reads in place of its result: a splat constant, or a
/// broadcast whose input the kernel can index (one element, trailing dims).
bool isInlinable(Operation *op, ShapedType result) {
  if (auto c = dyn_cast<ra::ConstantOp>(op))
    return c.getType().cast<ShapedType>().getShape() == result.getShape();
  if (auto b = dyn_cast<ra::BroadcastOp>(op)) {
    auto in = b.getInput().getType().cast<ShapedType>();
    return b.getType().cast<ShapedType>().getShape() == result.getShape() &&
           in.getElementType().isF32() &&
           ra::fusedInputKind(in, result) != ra::FusedInputKind::Invalid;
  }
  return false;
}

struct Group {
  SetVector<Operation *> ops; // elementwise members, in program order once sorted
  SetVector<Operation *> inlined;
};

struct FuseElementwise : ra::impl::FuseElementwiseBase<FuseElementwise> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      Block &body = fn.getBody().front();
      SmallVector<Operation *> order;
      for (Operation &op : body)
        order.push_back(&op);
      DenseSet<Operation *> taken;
      // Latest first: a group grows from its root back through producers
      // whose only users are already in it.
      for (Operation *root : llvm::reverse(order)) {
        if (taken.contains(root) || !ra::isElementwiseOp(root)) // taken ones are erased
          continue;
        auto shape = root->getResult(0).getType().cast<ShapedType>();
        Group g;
        g.ops.insert(root);
        SmallVector<Operation *> work{root};
        while (!work.empty()) {
          Operation *op = work.pop_back_val();
          for (Value v : op->getOperands()) {
            Operation *def = v.getDefiningOp();
            if (!def || taken.contains(def) || g.ops.contains(def))
              continue;
            if (isInlinable(def, shape)) {
              g.inlined.insert(def);
            } else if (ra::isElementwiseOp(def) &&
                       v.getType().cast<ShapedType>().getShape() == shape.getShape() &&
                       llvm::all_of(def->getUsers(),
                                    [&](Operation *u) { return g.ops.contains(u); })) {
              g.ops.insert(def);
              work.push_back(def);
            }
          }
        }
        if (g.ops.size() + g.inlined.size() < 2)
          continue; // one op alone is already one kernel
        for (Operation *op : g.ops)
          taken.insert(op);
        build(g, root, shape);
      }
      // Inlined producers whose every user was fused are dead now.
      for (Operation *op : llvm::reverse(order))
        if (!taken.contains(op) && isa<ra::ConstantOp, ra::BroadcastOp>(op) && op->use_empty())
          op->erase();
    }
  }

  void build(Group &g, Operation *root, ShapedType shape) {
    SmallVector<Operation *> ops(g.ops.begin(), g.ops.end());
    llvm::sort(ops, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
    DenseSet<Operation *> members(ops.begin(), ops.end());
    // Inputs: operands from outside the group (and the inputs of inlined
    // broadcasts), each once.
    SetVector<Value> inputs;
    for (Operation *op : ops)
      for (Value v : op->getOperands()) {
        Operation *def = v.getDefiningOp();
        if (def && members.contains(def))
          continue;
        if (def && g.inlined.contains(def)) {
          if (auto b = dyn_cast<ra::BroadcastOp>(def))
            inputs.insert(b.getInput());
          continue;
        }
        inputs.insert(v);
      }
    OpBuilder b(root);
    auto element = RankedTensorType::get({}, shape.getElementType());
    auto fused = b.create<ra::FusedElementwiseOp>(root->getLoc(), root->getResult(0).getType(),
                                                  inputs.getArrayRef());
    Block *block = b.createBlock(&fused.getBody());
    IRMapping map;
    for (Value in : inputs)
      map.map(in, block->addArgument(element, in.getLoc()));
    b.setInsertionPointToStart(block);
    auto scalarOf = [&](Value v) -> Value {
      if (Value m = map.lookupOrNull(v))
        return m;
      Operation *def = v.getDefiningOp();
      if (auto bc = dyn_cast<ra::BroadcastOp>(def)) {
        Value in = map.lookup(bc.getInput());
        map.map(v, in);
        return in;
      }
      auto c = cast<ra::ConstantOp>(def);
      Value k = b.create<ra::ConstantOp>(c.getLoc(), element, c.getValueAttr());
      map.map(v, k);
      return k;
    };
    // Each op again on one element: its operands mapped to the body's
    // elements, its result retyped.
    for (Operation *op : ops) {
      for (Value v : op->getOperands())
        scalarOf(v);
      Operation *copy = b.clone(*op, map);
      copy->getResult(0).setType(element);
    }
    b.create<ra::YieldOp>(root->getLoc(), map.lookup(root->getResult(0)));
    root->getResult(0).replaceAllUsesWith(fused.getResult());
    for (Operation *op : llvm::reverse(ops))
      op->erase();
  }
};

} // namespace

std::unique_ptr<Pass> ra::createFuseElementwisePass() {
  return std::make_unique<FuseElementwise>();
}
