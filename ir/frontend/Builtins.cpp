//===- Builtins.cpp - the builtin functions of the .graph language --------===//
//
// Each builtin checks its arguments (count, keywords, kinds), then emits one
// `ra` op, or computes a compile-time number when given numbers (`sqrt(hd)`).
// The table at the bottom is the language's whole builtin vocabulary;
// docs/language.md lists the same names and a test keeps the two in step.
//
//===----------------------------------------------------------------------===//
#include "ir/Shapes.h"
#include "ir/frontend/Elaborator.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <functional>

using namespace mlir;

namespace ra::graph {
namespace {

using Result = FailureOr<Val>;

struct Builtin {
  size_t minArgs, maxArgs;
  std::vector<StringRef> keywords;
  std::function<Result(Elaborator &, CallArgs &)> impl;
};

Result tensorResult(FailureOr<Value> v) {
  if (failed(v))
    return failure();
  return Val::ofTensor(*v);
}

/// The keyword argument `name`, or `fallback` when absent.
Val keyword(CallArgs &a, StringRef name, Val fallback) {
  auto it = a.kwargs.find(name);
  return it == a.kwargs.end() ? fallback : it->second.first;
}

SrcLoc keywordLoc(CallArgs &a, StringRef name) {
  auto it = a.kwargs.find(name);
  return it == a.kwargs.end() ? a.call.loc : it->second.second;
}

RankedTensorType typeOf(Value v) { return v.getType().cast<RankedTensorType>(); }

/// exp, log, sqrt, ...: an op on tensors, the op's own math on numbers.
template <class OpT> Builtin unaryMath(bool (*domain)(double), const char *domainText) {
  return {1, 1, {}, [=](Elaborator &el, CallArgs &a) -> Result {
            const Val &x = a.args[0];
            if (x.isNumber()) {
              double v = x.asDouble();
              if (!domain(v))
                return el.error(a.argLocs[0], "'" + a.call.name + "' of " + formatNumber(v) +
                                                  ": the argument must be " + domainText);
              long double x = v;
              return Val::ofFloat(double(OpT::evaluateElement(llvm::ArrayRef<long double>(x))));
            }
            auto t = el.tensorArg(a.argLocs[0], x, "the argument of '" + a.call.name + "'");
            if (failed(t))
              return failure();
            return tensorResult(el.create<OpT>(a.call.loc, *t));
          }};
}

bool anyValue(double) { return true; }
bool positive(double v) { return v > 0; }
bool nonNegative(double v) { return v >= 0; }

/// sum/mean/max(x, axis, keepdim=0)
template <class OpT> Result reduce(Elaborator &el, CallArgs &a) {
  auto t = el.tensorArg(a.argLocs[0], a.args[0], "the reduced value");
  if (failed(t))
    return failure();
  if (a.args.size() < 2)
    return el.error(a.call.loc,
                    "'" + a.call.name + "' needs an axis: " + a.call.name + "(x, axis)");
  auto axis = el.axisArg(a.argLocs[1], a.args[1], typeOf(*t).getRank());
  if (failed(axis))
    return failure();
  auto keep = el.intArg(keywordLoc(a, "keepdim"), keyword(a, "keepdim", Val::ofInt(0)), "keepdim");
  if (failed(keep))
    return failure();
  return tensorResult(el.create<OpT>(a.call.loc, *t, uint64_t(*axis), *keep != 0));
}

/// min/max of two numbers.
Result numberMinMax(Elaborator &el, CallArgs &a, bool isMax) {
  if (a.args.size() != 2 || !a.kwargs.empty())
    return el.error(a.call.loc, "'" + a.call.name + "' of numbers takes two numbers");
  const Val &x = a.args[0], &y = a.args[1];
  if (!y.isNumber())
    return el.error(a.argLocs[1], "'" + a.call.name + "' of numbers takes two numbers, got " +
                                      Twine(describe(y)));
  bool pickX = isMax ? x.asDouble() >= y.asDouble() : x.asDouble() <= y.asDouble();
  return pickX ? x : y;
}

Result reshape(Elaborator &el, CallArgs &a) {
  auto t = el.tensorArg(a.argLocs[0], a.args[0], "the reshaped value", /*allowInt=*/true);
  auto shape = el.shapeArg(a.argLocs[1], a.args[1], "the new shape");
  if (failed(t) || failed(shape))
    return failure();
  auto in = typeOf(*t);
  int64_t known = 1, inferred = -1;
  for (size_t i = 0; i < shape->size(); ++i) {
    if ((*shape)[i] == -1) {
      if (inferred >= 0)
        return el.error(a.argLocs[1], "only one dimension of a reshape can be -1");
      inferred = i;
    } else if ((*shape)[i] <= 0) {
      return el.error(a.argLocs[1], "reshape dimensions must be positive (or one -1), got " +
                                        formatShape(*shape));
    } else if (__builtin_mul_overflow(known, (*shape)[i], &known)) {
      return el.error(a.argLocs[1], "shape " + formatShape(*shape) + " is too large");
    }
  }
  int64_t n = in.getNumElements();
  if (inferred >= 0) {
    if (n % known != 0)
      return el.error(a.argLocs[1], "cannot reshape " + formatShape(in.getShape()) + " (" +
                                        Twine(n) + " elements) to " + formatShape(*shape));
    (*shape)[inferred] = n / known;
  } else if (known != n) {
    return el.error(a.argLocs[1], "cannot reshape " + formatShape(in.getShape()) + " (" + Twine(n) +
                                      " elements) to " + formatShape(*shape) + " (" + Twine(known) +
                                      " elements)");
  }
  auto type = el.tensorType(a.argLocs[1], *shape, in.getElementType());
  if (failed(type))
    return failure();
  return tensorResult(el.create<ReshapeOp>(a.call.loc, *type, *t));
}

Result transpose(Elaborator &el, CallArgs &a) {
  auto t = el.tensorArg(a.argLocs[0], a.args[0], "the transposed value", /*allowInt=*/true);
  auto perm = el.shapeArg(a.argLocs[1], a.args[1], "the permutation");
  if (failed(t) || failed(perm))
    return failure();
  return tensorResult(el.create<TransposeOp>(a.call.loc, *t, ArrayRef<int64_t>(*perm)));
}

Result broadcast(Elaborator &el, CallArgs &a) {
  auto t = el.tensorArg(a.argLocs[0], a.args[0], "the broadcast value", /*allowInt=*/true);
  auto shape = el.shapeArg(a.argLocs[1], a.args[1], "the target shape");
  if (failed(t) || failed(shape))
    return failure();
  return tensorResult(el.broadcastTo(a.call.loc, *t, *shape));
}

Result concat(Elaborator &el, CallArgs &a) {
  if (a.args[0].kind != Val::Kind::List || a.args[0].items.empty())
    return el.error(a.argLocs[0], "concat takes a non-empty list of tensors: concat([a, b], axis)");
  SmallVector<Value> inputs;
  for (const Val &item : a.args[0].items) {
    auto t = el.tensorArg(a.argLocs[0], item, "every concatenated value", /*allowInt=*/true);
    if (failed(t))
      return failure();
    inputs.push_back(*t);
  }
  auto axis = el.axisArg(a.argLocs[1], a.args[1], typeOf(inputs[0]).getRank());
  if (failed(axis))
    return failure();
  return tensorResult(el.create<ConcatOp>(a.call.loc, ValueRange(inputs), uint64_t(*axis)));
}

Result slice(Elaborator &el, CallArgs &a) {
  auto t = el.tensorArg(a.argLocs[0], a.args[0], "the sliced value", /*allowInt=*/true);
  if (failed(t))
    return failure();
  auto axis = el.axisArg(a.argLocs[1], a.args[1], typeOf(*t).getRank());
  auto start = el.intArg(a.argLocs[2], a.args[2], "the slice start");
  auto end = el.intArg(a.argLocs[3], a.args[3], "the slice end");
  if (failed(axis) || failed(start) || failed(end))
    return failure();
  return tensorResult(
      el.create<SliceOp>(a.call.loc, *t, uint64_t(*axis), uint64_t(*start), uint64_t(*end)));
}

/// zeros/ones/full(shape[, value])
Result fill(Elaborator &el, CallArgs &a, std::optional<double> value) {
  auto shape = el.shapeArg(a.argLocs[0], a.args[0], "the shape");
  if (failed(shape))
    return failure();
  double v = value ? *value : 0;
  if (!value) {
    auto n = el.numberArg(a.argLocs[1], a.args[1], "the fill value");
    if (failed(n))
      return failure();
    v = *n;
  }
  auto type = el.tensorType(a.argLocs[0], *shape, Float32Type::get(&el.context()));
  if (failed(type))
    return failure();
  return tensorResult(el.constant(a.call.loc, v, *type));
}

Result iota(Elaborator &el, CallArgs &a) {
  auto shape = el.shapeArg(a.argLocs[0], a.args[0], "the shape");
  if (failed(shape))
    return failure();
  auto axis = el.axisArg(a.argLocs[1], a.args[1], shape->size());
  if (failed(axis))
    return failure();
  auto type = el.tensorType(a.argLocs[0], *shape, Float32Type::get(&el.context()));
  if (failed(type))
    return failure();
  return tensorResult(el.create<IotaOp>(a.call.loc, *type, uint64_t(*axis)));
}

Result attention(Elaborator &el, CallArgs &a) {
  Value qkv[3];
  const char *names[3] = {"q", "k", "v"};
  for (int i = 0; i < 3; ++i) {
    auto t = el.tensorArg(a.argLocs[i], a.args[i], std::string("attention's ") + names[i]);
    if (failed(t))
      return failure();
    qkv[i] = *t;
  }
  auto q = typeOf(qkv[0]);
  if (q.getRank() != 4)
    return el.error(a.argLocs[0],
                    "attention's q must be [B, H, T, E], got " + formatShape(q.getShape()));
  Builder b(&el.context());
  auto causal = el.intArg(keywordLoc(a, "causal"), keyword(a, "causal", Val::ofInt(1)), "causal");
  if (failed(causal))
    return failure();
  double scale = 1 / std::sqrt(double(q.getShape()[3]));
  Val s = keyword(a, "scale", Val::none());
  if (s.kind != Val::Kind::None) {
    auto v = el.numberArg(keywordLoc(a, "scale"), s, "scale");
    if (failed(v))
      return failure();
    scale = *v;
  }
  Value reciprocal;
  IntegerAttr bandAttr;
  Val alpha = keyword(a, "alpha", Val::none());
  Val band = keyword(a, "band", Val::none());
  if (alpha.kind != Val::Kind::None) {
    auto t = el.tensorArg(keywordLoc(a, "alpha"), alpha, "alpha (the reciprocal weight)");
    if (failed(t))
      return failure();
    if (typeOf(*t).getRank() != 0)
      return el.error(keywordLoc(a, "alpha"), "alpha must be a scalar parameter (shape []), got " +
                                                  formatShape(typeOf(*t).getShape()));
    reciprocal = *t;
  }
  if (band.kind != Val::Kind::None) {
    if (alpha.kind == Val::Kind::None)
      return el.error(keywordLoc(a, "band"), "band limits the reciprocal term; pass alpha= too");
    auto width = el.intArg(keywordLoc(a, "band"), band, "band");
    if (failed(width))
      return failure();
    if (*width < 0)
      return el.error(keywordLoc(a, "band"), "band must be >= 0, got " + Twine(*width));
    bandAttr = b.getI64IntegerAttr(*width);
  }
  return tensorResult(el.create<AttentionOp>(a.call.loc, qkv[0], qkv[1], qkv[2], reciprocal,
                                             b.getF64FloatAttr(scale),
                                             *causal ? b.getUnitAttr() : UnitAttr(), bandAttr));
}

Result embedding(Elaborator &el, CallArgs &a) {
  auto table = el.tensorArg(a.argLocs[0], a.args[0], "the embedding table");
  auto ids = el.tensorArg(a.argLocs[1], a.args[1], "the token ids", /*allowInt=*/true);
  if (failed(table) || failed(ids))
    return failure();
  if (!typeOf(*ids).getElementType().isInteger(32))
    return el.error(a.argLocs[1], "the token ids must be an i32 tensor");
  return tensorResult(el.create<EmbeddingOp>(a.call.loc, *table, *ids));
}

Result crossEntropy(Elaborator &el, CallArgs &a) {
  auto logits = el.tensorArg(a.argLocs[0], a.args[0], "the logits");
  auto targets = el.tensorArg(a.argLocs[1], a.args[1], "the targets", /*allowInt=*/true);
  if (failed(logits) || failed(targets))
    return failure();
  if (!typeOf(*targets).getElementType().isInteger(32))
    return el.error(a.argLocs[1], "the targets must be an i32 tensor");
  return tensorResult(el.create<CrossEntropyOp>(a.call.loc, *logits, *targets));
}

const llvm::StringMap<Builtin> &table() {
  static const llvm::StringMap<Builtin> builtins = [] {
    llvm::StringMap<Builtin> t;
    t["abs"] = unaryMath<AbsOp>(anyValue, "any number");
    t["exp"] = unaryMath<ExpOp>(anyValue, "any number");
    t["log"] = unaryMath<LogOp>(positive, "positive");
    t["tanh"] = unaryMath<TanhOp>(anyValue, "any number");
    t["sqrt"] = unaryMath<SqrtOp>(nonNegative, "non-negative");
    t["rsqrt"] = unaryMath<RsqrtOp>(positive, "positive");
    t["gelu"] = unaryMath<GeluOp>(anyValue, "any number");
    t["sigmoid"] = unaryMath<SigmoidOp>(anyValue, "any number");
    t["sum"] = {2, 2, {"keepdim"}, reduce<ReduceSumOp>};
    t["mean"] = {2, 2, {"keepdim"}, reduce<ReduceMeanOp>};
    t["max"] = {2, 2, {"keepdim"}, [](Elaborator &el, CallArgs &a) -> Result {
                  if (a.args[0].isNumber())
                    return numberMinMax(el, a, /*isMax=*/true);
                  return reduce<ReduceMaxOp>(el, a);
                }};
    t["min"] = {2, 2, {}, [](Elaborator &el, CallArgs &a) -> Result {
                  if (!a.args[0].isNumber())
                    return el.error(a.argLocs[0], "min takes two numbers");
                  return numberMinMax(el, a, /*isMax=*/false);
                }};
    t["matmul"] = {2, 2, {"transpose_a", "transpose_b"}, [](Elaborator &el, CallArgs &a) -> Result {
                     auto l = el.tensorArg(a.argLocs[0], a.args[0], "matmul's left operand");
                     auto r = el.tensorArg(a.argLocs[1], a.args[1], "matmul's right operand");
                     if (failed(l) || failed(r))
                       return failure();
                     bool transpose[2];
                     const char *keywords[2] = {"transpose_a", "transpose_b"};
                     for (int i = 0; i < 2; ++i) {
                       const char *kw = keywords[i];
                       auto v = el.intArg(keywordLoc(a, kw), keyword(a, kw, Val::ofInt(0)), kw);
                       if (failed(v))
                         return failure();
                       transpose[i] = *v != 0;
                     }
                     return tensorResult(
                         el.create<MatmulOp>(a.call.loc, *l, *r, transpose[0], transpose[1]));
                   }};
    t["causal_mean"] = {2, 2, {}, [](Elaborator &el, CallArgs &a) -> Result {
                          auto x = el.tensorArg(a.argLocs[0], a.args[0], "causal_mean's input");
                          if (failed(x))
                            return failure();
                          auto axis = el.axisArg(a.argLocs[1], a.args[1], typeOf(*x).getRank());
                          if (failed(axis))
                            return failure();
                          return tensorResult(
                              el.create<CausalMeanOp>(a.call.loc, *x, uint64_t(*axis)));
                        }};
    t["layernorm"] = {
        3, 3, {"eps"}, [](Elaborator &el, CallArgs &a) -> Result {
          Value ops[3];
          const char *what[3] = {"layernorm's input", "layernorm's weight", "layernorm's bias"};
          for (int i = 0; i < 3; ++i) {
            auto t = el.tensorArg(a.argLocs[i], a.args[i], what[i]);
            if (failed(t))
              return failure();
            ops[i] = *t;
          }
          auto eps =
              el.numberArg(keywordLoc(a, "eps"), keyword(a, "eps", Val::ofFloat(1e-5)), "eps");
          if (failed(eps))
            return failure();
          if (!(*eps > 0))
            return el.error(keywordLoc(a, "eps"), "eps must be > 0");
          return tensorResult(
              el.create<LayerNormOp>(a.call.loc, ops[0], ops[1], ops[2], llvm::APFloat(*eps)));
        }};
    t["softmax"] = {1, 1, {}, [](Elaborator &el, CallArgs &a) -> Result {
                      auto x = el.tensorArg(a.argLocs[0], a.args[0], "softmax's input");
                      if (failed(x))
                        return failure();
                      return tensorResult(el.create<SoftmaxOp>(a.call.loc, *x));
                    }};
    t["embedding"] = {2, 2, {}, embedding};
    t["cross_entropy"] = {2, 2, {}, crossEntropy};
    t["attention"] = {3, 3, {"causal", "scale", "alpha", "band"}, attention};
    t["reshape"] = {2, 2, {}, reshape};
    t["transpose"] = {2, 2, {}, transpose};
    t["broadcast"] = {2, 2, {}, broadcast};
    t["concat"] = {2, 2, {}, concat};
    t["slice"] = {4, 4, {}, slice};
    t["zeros"] = {1, 1, {}, [](Elaborator &el, CallArgs &a) { return fill(el, a, 0.0); }};
    t["ones"] = {1, 1, {}, [](Elaborator &el, CallArgs &a) { return fill(el, a, 1.0); }};
    t["full"] = {2, 2, {}, [](Elaborator &el, CallArgs &a) { return fill(el, a, std::nullopt); }};
    t["iota"] = {2, 2, {}, iota};
    t["dim"] = {2, 2, {}, [](Elaborator &el, CallArgs &a) -> Result {
                  auto x = el.tensorArg(a.argLocs[0], a.args[0], "dim's input", true);
                  if (failed(x))
                    return failure();
                  auto axis = el.axisArg(a.argLocs[1], a.args[1], typeOf(*x).getRank());
                  if (failed(axis))
                    return failure();
                  return Val::ofInt(typeOf(*x).getShape()[*axis]);
                }};
    t["rank"] = {1, 1, {}, [](Elaborator &el, CallArgs &a) -> Result {
                   auto x = el.tensorArg(a.argLocs[0], a.args[0], "rank's input", true);
                   if (failed(x))
                     return failure();
                   return Val::ofInt(typeOf(*x).getRank());
                 }};
    return t;
  }();
  return builtins;
}

} // namespace

std::optional<FailureOr<Val>> callBuiltin(Elaborator &el, StringRef name, CallArgs &args) {
  auto it = table().find(name);
  if (it == table().end())
    return std::nullopt;
  const Builtin &b = it->second;
  size_t n = args.args.size();
  if (n < b.minArgs || n > b.maxArgs) {
    std::string want = b.minArgs == b.maxArgs
                           ? std::to_string(b.minArgs)
                           : std::to_string(b.minArgs) + " to " + std::to_string(b.maxArgs);
    return FailureOr<Val>(el.error(args.call.loc, "'" + name + "' takes " + want + " argument" +
                                                      (b.maxArgs == 1 ? "" : "s") + ", got " +
                                                      Twine(n)));
  }
  for (auto &kw : args.kwargs) {
    if (llvm::is_contained(b.keywords, kw.first()))
      continue;
    std::string known = b.keywords.empty() ? "none" : llvm::join(b.keywords, ", ");
    return FailureOr<Val>(el.error(kw.second.second, "'" + name + "' has no keyword argument '" +
                                                         kw.first() + "' (it takes: " + known +
                                                         ")"));
  }
  return b.impl(el, args);
}

std::vector<StringRef> builtinNames() {
  std::vector<StringRef> names;
  for (auto &entry : table())
    names.push_back(entry.first());
  llvm::sort(names);
  return names;
}

} // namespace ra::graph
