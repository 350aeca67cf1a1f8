//===- PlanMemory.cpp - arena offsets from liveness -----------------------===//
#include "ir/RaDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <map>

namespace ra {
#define GEN_PASS_DEF_PLANMEMORY
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

constexpr int64_t kAlign = 64;

int64_t bytesOf(Value v) {
  auto t = v.getType().cast<ShapedType>();
  int64_t bytes = t.getNumElements() * (t.getElementTypeBitWidth() / 8);
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

/// A free list over [0, infinity): first fit, coalescing on release.
class Arena {
public:
  int64_t allocate(int64_t size) {
    for (auto it = free.begin(); it != free.end(); ++it) {
      if (it->second < size)
        continue;
      int64_t offset = it->first, left = it->second - size;
      free.erase(it);
      if (left)
        free[offset + size] = left;
      return offset;
    }
    int64_t offset = top;
    top += size;
    return offset;
  }
  /// Returns a block, merging it with free neighbours and giving the end of
  /// the arena back, so that the result does not depend on release order.
  void release(int64_t offset, int64_t size) {
    auto next = free.lower_bound(offset);
    if (next != free.end() && next->first == offset + size) {
      size += next->second;
      free.erase(next);
    }
    auto after = free.lower_bound(offset);
    if (after != free.begin()) {
      auto prev = std::prev(after);
      if (prev->first + prev->second == offset) {
        offset = prev->first;
        size += prev->second;
        free.erase(prev);
      }
    }
    if (offset + size == top)
      top = offset;
    else
      free[offset] = size;
  }
  int64_t peak = 0, top = 0;
  void note() { peak = std::max(peak, top); }

private:
  std::map<int64_t, int64_t> free; // offset -> size
};

/// The value whose storage `v` uses: itself, or what a reshape views.
Value storageOf(Value v) {
  while (auto r = v.getDefiningOp<ra::ReshapeOp>())
    v = r.getInput();
  return v;
}

bool needsArena(Value v) {
  Value s = storageOf(v);
  return s == v && s.getDefiningOp() && !s.getDefiningOp<ra::GetParamOp>();
}

struct PlanMemory : ra::impl::PlanMemoryBase<PlanMemory> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>())
      plan(fn);
  }

  void plan(func::FuncOp fn) {
    Block &body = fn.getBody().front();
    llvm::DenseMap<Operation *, int64_t> index;
    int64_t n = 0;
    for (Operation &op : body)
      index[&op] = n++;
    // Last use of each storage, through views; results live to the end.
    llvm::DenseMap<Value, int64_t> lastUse;
    for (Operation &op : body)
      for (Value operand : op.getOperands()) {
        Value s = storageOf(operand);
        int64_t at = isa<func::ReturnOp>(op) ? n : index[&op];
        lastUse[s] = std::max(lastUse.lookup(s), at);
      }
    // Op index -> storages freed after it, in program order (not the
    // DenseMap's pointer order): the plan must be the same on every compile.
    std::map<int64_t, SmallVector<Value>> dying;
    for (Operation &op : body)
      for (Value r : op.getResults())
        if (needsArena(r) && lastUse.count(r))
          dying[lastUse[r]].push_back(r);

    Arena arena;
    llvm::DenseMap<Value, int64_t> offsets;
    Builder b(fn.getContext());
    for (Operation &op : body) {
      SmallVector<int64_t> placed;
      for (Value r : op.getResults()) {
        if (!needsArena(r)) {
          placed.push_back(-1);
          continue;
        }
        offsets[r] = arena.allocate(bytesOf(r));
        arena.note();
        placed.push_back(offsets[r]);
        // A result nobody reads is freed at once (after its op runs).
        if (!lastUse.count(r))
          dying[index[&op]].push_back(r);
      }
      if (op.getNumResults())
        op.setAttr("ra.offsets", b.getDenseI64ArrayAttr(placed));
      for (Value v : dying[index[&op]])
        arena.release(offsets[v], bytesOf(v));
    }
    fn->setAttr("ra.arena_bytes", b.getI64IntegerAttr(arena.peak));
  }
};

} // namespace

std::unique_ptr<Pass> ra::createPlanMemoryPass() { return std::make_unique<PlanMemory>(); }
