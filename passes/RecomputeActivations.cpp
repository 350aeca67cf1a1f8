//===- RecomputeActivations.cpp - the MLP's activations, recomputed ----===//
//
// In a function with a backward pass (@grad, @train_step), the MLP's
// `h = x @ W_fc + b_fc` and `gelu(h)` ([B, T, 4D] each, the largest
// activations of a transformer block) are kept from the forward pass until
// the backward pass reaches their layer: at the start of the backward pass
// every layer's pair is live. This pass recomputes them where the backward
// pass needs them instead (the GEMM again, its bias add and the GELU), from
// `x`, which the backward pass keeps anyway for W_fc's gradient. The forward
// copies die as soon as the forward pass has used them.
//
// The trade: one more [B*T, D] x [D, 4D] GEMM per layer for 8 B*T*4D bytes
// less at the peak. Only chains whose leaves are parameters or values the
// backward pass reads anyway are recomputed, so no lifetime grows.
//
//===----------------------------------------------------------------------===//
#include "ir/RaDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"

namespace ra {
#define GEN_PASS_DEF_RECOMPUTEACTIVATIONS
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

struct Recompute {
  Operation *backwardStart; // the first op of the backward pass
  unsigned matmuls = 0;     // in the chain being built

  bool inBackward(Operation *op) const { return !op->isBeforeInBlock(backwardStart); }

  /// Whether the backward pass reads `v` (so it is live there anyway).
  bool readByBackward(Value v) const {
    return llvm::any_of(v.getUsers(), [&](Operation *u) { return inBackward(u); });
  }

  /// A leaf the clone may read: an argument, a parameter, or a value the
  /// backward pass keeps anyway.
  bool isLeaf(Value v) const {
    Operation *def = v.getDefiningOp();
    return !def || isa<ra::GetParamOp>(def) || readByBackward(v);
  }

  /// Whether `v` can be recomputed from leaves by at most one GEMM, a bias
  /// broadcast and elementwise ops.
  bool recomputable(Value v, int depth = 0) {
    Operation *def = v.getDefiningOp();
    if (!def || depth > 3 ||
        !isa<ra::GeluOp, ra::AddOp, ra::BroadcastOp, ra::MatmulOp, ra::LayerNormOp>(def))
      return false;
    if (isa<ra::MatmulOp>(def) && ++matmuls > 1)
      return false;
    for (Value operand : def->getOperands())
      if (!isLeaf(operand) && !recomputable(operand, depth + 1))
        return false;
    return true;
  }

  /// Clones v's chain before `at`; leaves are read as they are.
  Value clone(Value v, OpBuilder &b, IRMapping &map) {
    if (Value done = map.lookupOrNull(v))
      return done;
    if (isLeaf(v))
      return v;
    Operation *def = v.getDefiningOp();
    for (Value operand : def->getOperands())
      map.map(operand, clone(operand, b, map));
    Operation *copy = b.clone(*def, map);
    return copy->getResult(cast<OpResult>(v).getResultNumber());
  }

  /// Recomputes `v` before its first backward reader and points every
  /// backward reader at the copy. Returns whether it did.
  bool run(Value v) {
    SmallVector<OpOperand *> backwardUses;
    for (OpOperand &use : v.getUses())
      if (inBackward(use.getOwner()))
        backwardUses.push_back(&use);
    if (backwardUses.empty())
      return false;
    matmuls = 0;
    // v itself is not a leaf here: it is what is being recomputed.
    Operation *def = v.getDefiningOp();
    if (!def || !isa<ra::GeluOp, ra::AddOp, ra::MatmulOp, ra::LayerNormOp>(def))
      return false;
    for (Value operand : def->getOperands())
      if (!isLeaf(operand) && !recomputable(operand))
        return false;
    Operation *first = backwardUses.front()->getOwner();
    for (OpOperand *use : backwardUses)
      if (use->getOwner()->isBeforeInBlock(first))
        first = use->getOwner();
    OpBuilder b(first);
    IRMapping map;
    for (Value operand : def->getOperands())
      map.map(operand, clone(operand, b, map));
    Value copy = b.clone(*def, map)->getResult(cast<OpResult>(v).getResultNumber());
    for (OpOperand *use : backwardUses)
      use->set(copy);
    return true;
  }
};

struct RecomputeActivations : ra::impl::RecomputeActivationsBase<RecomputeActivations> {
  RecomputeActivations() = default;
  explicit RecomputeActivations(bool applyIt) { apply = applyIt; }
  void runOnOperation() override {
    if (!apply)
      return;
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      Block &body = fn.getBody().front();
      // The backward pass starts at the loss's gradient (with
      // fuse-cross-entropy, at the loss, which computes both).
      Operation *start = nullptr;
      for (Operation &op : body)
        if (isa<ra::CrossEntropyGradOp, ra::CrossEntropyWithGradOp>(op)) {
          start = &op;
          break;
        }
      if (!start)
        continue;
      Recompute r{start};
      // Each GELU of the forward pass, latest first: its output, then its
      // input (whose backward readers then include the GELU's copy).
      SmallVector<ra::GeluOp> gelus;
      for (auto g : body.getOps<ra::GeluOp>())
        if (!r.inBackward(g))
          gelus.push_back(g);
      for (ra::GeluOp g : llvm::reverse(gelus)) {
        r.run(g.getResult());
        r.run(g.getOperand());
      }
      SmallVector<ra::LayerNormOp> norms;
      for (auto n : body.getOps<ra::LayerNormOp>())
        if (!r.inBackward(n))
          norms.push_back(n);
      for (ra::LayerNormOp n : norms)
        r.run(n.getResult());
    }
  }
};

} // namespace

std::unique_ptr<Pass> ra::createRecomputeActivationsPass() {
  return std::make_unique<RecomputeActivations>();
}

std::unique_ptr<Pass> ra::createRecomputeActivationsPass(bool apply) {
  return std::make_unique<RecomputeActivations>(apply);
}
