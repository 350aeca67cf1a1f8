//===- InferenceCache.cpp - what a decoder keeps between positions --------===//
#include "ir/analysis/InferenceCache.h"
#include "ir/IRUtils.h"
#include "ir/RaDialect.h"
#include "ir/analysis/PositionMixing.h"

#include "llvm/ADT/DenseSet.h"

using namespace mlir;

namespace ra {

const char *kindName(CachedTensor::Kind kind) {
  switch (kind) {
  case CachedTensor::Kind::PerToken:
    return "per token";
  case CachedTensor::Kind::QueryRing:
    return "query ring";
  case CachedTensor::Kind::RunningSum:
    return "running sum";
  }
  return "?";
}

/// Elements per token of `v`, a tensor with `tokens` positions.
static int64_t perToken(Value v, int64_t tokens) {
  return v.getType().cast<ShapedType>().getNumElements() / tokens;
}

/// `v` traced back through reshapes, transposes and up-projections by a
/// weight (x @ W with fewer features in than out: decoding keeps x and folds
/// W into the attention) to its narrowest form per token.
Value narrowestCachedForm(Value v, int64_t tokens) {
  Value best = v;
  for (;;) {
    Operation *def = v.getDefiningOp();
    if (!def)
      break;
    if (isa<ReshapeOp, TransposeOp>(def)) {
      v = def->getOperand(0);
    } else if (auto mm = dyn_cast<MatmulOp>(def)) {
      auto lhs = mm.getLhs().getType().cast<ShapedType>();
      auto out = mm.getType().cast<ShapedType>();
      if (!mm.getRhs().getDefiningOp<GetParamOp>() || mm.getTransposeLhs() ||
          lhs.getShape().back() >= out.getShape().back())
        break;
      v = mm.getLhs();
    } else {
      break;
    }
    if (perToken(v, tokens) < perToken(best, tokens))
      best = v;
  }
  return best;
}

InferenceCache analyzeInferenceCache(func::FuncOp forward) {
  InferenceCache cache;
  auto add = [&](CachedTensor t) {
    auto kept =
        llvm::find_if(cache.tensors, [&](const CachedTensor &c) { return c.value == t.value; });
    if (kept != cache.tensors.end()) {
      // Queries one attention keeps in a ring are another's keys or values
      // (or its queries without a band): every position is kept after all.
      if (kept->kind == CachedTensor::Kind::QueryRing && t.kind == CachedTensor::Kind::PerToken) {
        cache.elementsPerSequence -= kept->elements * kept->entries;
        cache.elementsPerToken += t.elements;
        *kept = std::move(t);
      } else if (kept->kind == CachedTensor::Kind::QueryRing && t.entries > kept->entries) {
        // Two bands over the same queries: the ring holds the longer.
        cache.elementsPerSequence += kept->elements * (t.entries - kept->entries);
        kept->entries = t.entries;
      }
      return;
    }
    if (t.kind == CachedTensor::Kind::PerToken)
      cache.elementsPerToken += t.elements;
    else
      cache.elementsPerSequence += t.elements * t.entries;
    cache.tensors.push_back(std::move(t));
  };
  forward.walk([&](Operation *op) {
    if (auto attention = dyn_cast<AttentionOpInterface>(op)) {
      if (attention.isGradient())
        return;
      auto q = attention.getQ().getType().cast<ShapedType>().getShape();
      int64_t keys = attention.getK().getType().cast<ShapedType>().getShape().drop_back().back();
      int64_t tokens = q[0] * keys;
      for (auto [operand, role] :
           {std::pair{attention.getK(), "keys"}, {attention.getV(), "values"}}) {
        Value v = narrowestCachedForm(operand, tokens);
        add({v, CachedTensor::Kind::PerToken, role, perToken(v, tokens), 1});
      }
      if (attention.hasReciprocal()) {
        // S[j, i] for the new key i needs the queries of the band before it.
        Value v = narrowestCachedForm(attention.getQ(), q[0] * q[2]);
        int64_t band = attention.getBandOrAll();
        if (band < 0 || band >= keys - 1)
          add({v, CachedTensor::Kind::PerToken, "queries", perToken(v, q[0] * q[2]), 1});
        else
          add({v, CachedTensor::Kind::QueryRing, "queries", perToken(v, q[0] * q[2]), band});
      }
    } else if (auto mean = dyn_cast<CausalMeanOp>(op)) {
      auto shape = mean.getType().cast<ShapedType>().getShape();
      int64_t tokens = shape[0] * shape[mean.getAxis()];
      add({mean.getInput(), CachedTensor::Kind::RunningSum, "running sum",
           perToken(mean.getInput(), tokens), 1});
    }
  });
  // One line per source location: a library function's op is every layer's.
  std::vector<std::pair<std::string, int>> seenAt;
  for (const PositionMixing &m : findPositionMixing(forward)) {
    std::string line = sourceLocation(m.op) + ": " + m.reason;
    auto it = llvm::find_if(seenAt, [&](auto &p) { return p.first == line; });
    if (it == seenAt.end())
      seenAt.push_back({line, 1});
    else
      ++it->second;
  }
  for (auto &[line, n] : seenAt)
    cache.obstacles.push_back(n > 1 ? line + " (" + std::to_string(n) + " ops)" : line);
  return cache;
}

} // namespace ra
