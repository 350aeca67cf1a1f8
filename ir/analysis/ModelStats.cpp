//===- ModelStats.cpp - what `racc stats` reports about a model -----------===//
#include "ir/analysis/ModelStats.h"
#include "ir/IRUtils.h"
#include "ir/analysis/InferenceCache.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace ra {

func::FuncOp getForward(ModuleOp module) { return module.lookupSymbol<func::FuncOp>("forward"); }

/// Output values the loss is made of: the `loss` output when declared, else all.
static SmallVector<Value> lossRoots(func::FuncOp forward) {
  auto ret = cast<func::ReturnOp>(forward.getBody().front().getTerminator());
  SmallVector<Value> roots;
  if (auto names = forward->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr))
    for (auto [i, name] : llvm::enumerate(names))
      if (name.cast<StringAttr>().getValue() == "loss")
        roots.push_back(ret.getOperand(i));
  if (roots.empty())
    roots.append(ret.operand_begin(), ret.operand_end());
  return roots;
}

std::vector<ParamOp> findUnusedParams(ModuleOp module) {
  std::vector<ParamOp> unused;
  func::FuncOp forward = getForward(module);
  llvm::DenseSet<StringAttr> reached;
  if (forward) {
    llvm::SetVector<Value> seen;
    SmallVector<Value> work = lossRoots(forward);
    while (!work.empty()) {
      Value v = work.pop_back_val();
      if (!seen.insert(v))
        continue;
      Operation *def = v.getDefiningOp();
      if (!def)
        continue;
      if (auto get = dyn_cast<GetParamOp>(def))
        reached.insert(get.getNameAttr().getAttr());
      work.append(def->operand_begin(), def->operand_end());
    }
  }
  for (auto param : module.getOps<ParamOp>())
    if (param.getTrainable() && !reached.contains(param.getSymNameAttr()))
      unused.push_back(param);
  return unused;
}

static std::string describeValue(Value v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (Operation *def = v.getDefiningOp())
    os << def->getName() << " at " << sourceLocation(def);
  else
    os << "an input";
  os << " " << v.getType();
  return os.str();
}

FailureOr<ModelStats> computeStats(ModuleOp module) {
  ModelStats stats;
  func::FuncOp forward = getForward(module);
  if (!forward)
    return module.emitError("the module has no @forward function");
  if (auto src = module->getAttrOfType<StringAttr>(ra::RaDialect::kSourceAttr))
    stats.source = src.str();
  int64_t batch = 0, seq = 0;
  if (auto config = module->getAttrOfType<DictionaryAttr>(ra::RaDialect::kConfigAttr)) {
    for (NamedAttribute a : config) {
      double v = 0;
      if (auto i = a.getValue().dyn_cast<IntegerAttr>())
        v = i.getInt();
      else if (auto f = a.getValue().dyn_cast<FloatAttr>())
        v = f.getValueAsDouble();
      stats.config.push_back({a.getName().str(), v});
      if (a.getName() == "batch")
        batch = (int64_t)v;
      if (a.getName() == "seq")
        seq = (int64_t)v;
    }
  }
  if (batch <= 0 || seq <= 0) {
    // Point at the model's first input: its shape is what the configs size.
    Location at = forward.getNumArguments() ? forward.getArgument(0).getLoc() : forward.getLoc();
    return emitError(at, "the model needs `config batch = N` and `config seq = N` (per-token "
                         "figures and the runtime's batches are sized by them); declare both and "
                         "use them in this input's shape");
  }
  stats.tokens = batch * seq;

  for (auto p : module.getOps<ParamOp>()) {
    if (!p.getTrainable())
      continue;
    ParamInfo info;
    info.name = p.getSymName().str();
    auto type = p.getTensorType();
    info.shape.assign(type.getShape().begin(), type.getShape().end());
    info.count = type.getNumElements();
    info.init = p.getInit().str();
    info.initValue = p.getInitValue().convertToDouble();
    info.decay = p.getDecay();
    info.mechanism = p.getMechanism().str();
    stats.totalParams += info.count;
    if (info.decay)
      stats.decayParams += info.count;
    stats.groups[info.name.substr(0, info.name.find('.'))] += info.count;
    stats.mechanisms[info.mechanism] += info.count;
    stats.params.push_back(std::move(info));
  }
  // After ra-check-unused-params, its verdict: the fusion passes may join a
  // dead weight's GEMM to a live one, which a walk from the loss would then
  // count as reached.
  if (module->hasAttr(ra::RaDialect::kUnusedCheckedAttr)) {
    for (ParamOp p : module.getOps<ParamOp>())
      if (p->hasAttr(ra::RaDialect::kUnusedAttr))
        stats.unused.push_back(p.getSymName().str());
  } else {
    for (ParamOp p : findUnusedParams(module))
      stats.unused.push_back(p.getSymName().str());
  }

  forward.walk([&](CostOpInterface op) {
    int64_t f = op.getFlops();
    stats.forwardFlops += f;
    stats.forwardFlopsByOp[op->getName().getStringRef().str()] += f;
  });
  if (auto grad = module.lookupSymbol<func::FuncOp>("grad"))
    grad.walk([&](CostOpInterface op) { stats.gradFlops += op.getFlops(); });
  forward.walk([&](AttentionOpInterface op) { stats.attentionOps += !op.isGradient(); });
  InferenceCache cache = analyzeInferenceCache(forward);
  for (const CachedTensor &t : cache.tensors) {
    CacheEntry entry{describeValue(t.value), t.role, kindName(t.kind), t.elements, t.entries};
    (t.kind == CachedTensor::Kind::PerToken ? stats.cache : stats.sequenceState)
        .push_back(std::move(entry));
  }
  stats.cacheElementsPerToken = cache.elementsPerToken;
  stats.cacheElementsPerSequence = cache.elementsPerSequence;
  stats.decodingObstacles = cache.obstacles;
  return stats;
}

} // namespace ra
