//===- RaOps.cpp - shape rules, verifiers and canonicalizations of ra ops ---===//
//
// Every shape rule here reports its failure in words a model author
// understands ("matmul: inner dimensions differ ..."), because the `.graph`
// front end surfaces these messages at the user's source line.
//
// `inferReturnTypes` runs on unverified input (the parser calls it before the
// verifier), so it reads attributes defensively rather than through adaptors.
//
//===----------------------------------------------------------------------===//
#include "abi/Init.h"
#include "ir/RaDialect.h"
#include "ir/Shapes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace ra;

namespace {

LogicalResult fail(std::optional<Location> loc, const Twine &message) {
  if (loc)
    emitError(*loc) << message;
  return failure();
}

RankedTensorType tensorOf(Value v) { return v.getType().dyn_cast<RankedTensorType>(); }

std::optional<int64_t> intAttr(DictionaryAttr attrs, StringRef name) {
  if (!attrs)
    return std::nullopt;
  if (auto a = attrs.get(name).dyn_cast_or_null<IntegerAttr>())
    return a.getValue().getSExtValue();
  return std::nullopt;
}

bool unitAttr(DictionaryAttr attrs, StringRef name) {
  return attrs && attrs.get(name) && attrs.get(name).isa<UnitAttr>();
}

/// Checks `axis` against `rank` with a message naming the op.
LogicalResult checkAxis(std::optional<Location> loc, StringRef op, int64_t axis, int64_t rank) {
  if (axis < 0 || axis >= rank)
    return fail(loc, op + ": axis " + Twine(axis) + " is out of range for a tensor of rank " +
                         Twine(rank));
  return success();
}

int64_t numElements(Value v) { return v.getType().cast<ShapedType>().getNumElements(); }

} // namespace

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  auto type = getType().dyn_cast<RankedTensorType>();
  if (!type || !type.hasStaticShape() || !type.getElementType().isF32())
    return emitOpError("parameter '") << getSymName() << "' must be a static f32 tensor";
  double v = getInitValue().convertToDouble();
  std::optional<Init> init = parseInit(getInit().str());
  if (!init)
    return emitOpError("parameter '") << getSymName() << "': unknown initializer '" << getInit()
                                      << "' (expected normal, zeros, ones or const)";
  if (*init == Init::Normal && (!(v > 0) || !std::isfinite(v)))
    return emitOpError("parameter '")
           << getSymName() << "': normal(std) needs a finite std > 0, got " << v;
  if (*init == Init::Const && !std::isfinite(v))
    return emitOpError("parameter '") << getSymName() << "': const(v) needs a finite value";
  return success();
}

/// A read or write of parameter `name` with values of `type`.
static LogicalResult verifyParamAccess(Operation *op, FlatSymbolRefAttr name, Type type,
                                       SymbolTableCollection &symbols) {
  auto param = symbols.lookupNearestSymbolFrom<ParamOp>(op, name);
  if (!param)
    return op->emitOpError("no parameter named '") << name.getValue() << "'";
  if (param.getType() != type)
    return op->emitOpError("type ") << type << " differs from parameter '" << name.getValue()
                                    << "' of type " << param.getType();
  return success();
}

LogicalResult GetParamOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyParamAccess(*this, getNameAttr(), getType(), symbols);
}

LogicalResult SetParamOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyParamAccess(*this, getNameAttr(), getValue().getType(), symbols);
}

LogicalResult IotaOp::verify() {
  return checkAxis(getLoc(), "iota", (int64_t)getAxis(), getType().getRank());
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs, RegionRange,
                                         SmallVectorImpl<Type> &results) {
  auto lhs = tensorOf(operands[0]), rhs = tensorOf(operands[1]);
  if (!lhs || !rhs)
    return fail(loc, "matmul: operands must be ranked tensors");
  if (lhs.getRank() < 2 || rhs.getRank() < 2)
    return fail(loc, "matmul: operands need rank >= 2, got " + formatShape(lhs.getShape()) +
                         " and " + formatShape(rhs.getShape()));
  bool ta = unitAttr(attrs, "transpose_lhs"), tb = unitAttr(attrs, "transpose_rhs");
  auto ls = lhs.getShape(), rs = rhs.getShape();
  int64_t m = ls[ls.size() - (ta ? 1 : 2)], k1 = ls[ls.size() - (ta ? 2 : 1)];
  int64_t k2 = rs[rs.size() - (tb ? 1 : 2)], n = rs[rs.size() - (tb ? 2 : 1)];
  if (k1 != k2)
    return fail(loc, "matmul: inner dimensions differ: lhs " + formatShape(ls) + " has K = " +
                         Twine(k1) + " but rhs " + formatShape(rs) + " has K = " + Twine(k2));
  auto batch = broadcastShapes(ls.drop_back(2), rs.drop_back(2));
  if (!batch)
    return fail(loc, "matmul: batch dimensions " + formatShape(ls.drop_back(2)) + " and " +
                         formatShape(rs.drop_back(2)) + " do not broadcast");
  batch->push_back(m);
  batch->push_back(n);
  results.push_back(RankedTensorType::get(*batch, lhs.getElementType()));
  return success();
}

int64_t MatmulOp::getFlops() {
  auto ls = getLhs().getType().cast<ShapedType>().getShape();
  int64_t k = ls[ls.size() - (getTransposeLhs() ? 2 : 1)];
  return 2 * k * numElements(getResult());
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

static LogicalResult inferReduce(StringRef name, std::optional<Location> loc, ValueRange operands,
                                 DictionaryAttr attrs, SmallVectorImpl<Type> &results) {
  auto in = tensorOf(operands[0]);
  auto axis = intAttr(attrs, "axis");
  if (!in || !axis)
    return fail(loc, name + ": needs a ranked tensor and an integer 'axis'");
  if (failed(checkAxis(loc, name, *axis, in.getRank())))
    return failure();
  SmallVector<int64_t> shape(in.getShape());
  if (unitAttr(attrs, "keepdim"))
    shape[*axis] = 1;
  else
    shape.erase(shape.begin() + *axis);
  results.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

#define RA_REDUCE_INFER(OP, NAME)                                                                  \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> loc,                   \
                                     ValueRange operands, DictionaryAttr attrs, RegionRange,       \
                                     SmallVectorImpl<Type> &results) {                             \
    return inferReduce(NAME, loc, operands, attrs, results);                                       \
  }
RA_REDUCE_INFER(ReduceSumOp, "reduce_sum")
RA_REDUCE_INFER(ReduceMeanOp, "reduce_mean")
RA_REDUCE_INFER(ReduceMaxOp, "reduce_max")
#undef RA_REDUCE_INFER

LogicalResult CausalMeanOp::verify() {
  return checkAxis(getLoc(), "causal_mean", (int64_t)getAxis(), getType().getRank());
}

//===----------------------------------------------------------------------===//
// Normalization, softmax, lookup, loss
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr, RegionRange,
                                            SmallVectorImpl<Type> &results) {
  auto in = tensorOf(operands[0]), w = tensorOf(operands[1]), b = tensorOf(operands[2]);
  if (!in || !w || !b || in.getRank() < 1)
    return fail(loc, "layernorm: needs a tensor of rank >= 1, a weight and a bias");
  SmallVector<int64_t> feature{in.getShape().back()};
  if (w.getShape() != ArrayRef<int64_t>(feature) || b.getShape() != ArrayRef<int64_t>(feature))
    return fail(loc, "layernorm: weight " + formatShape(w.getShape()) + " and bias " +
                         formatShape(b.getShape()) + " must both be " + formatShape(feature) +
                         ", the last dimension of the input " + formatShape(in.getShape()));
  results.push_back(in);
  return success();
}

LogicalResult SoftmaxOp::verify() {
  if (getType().getRank() < 1)
    return emitOpError("softmax needs a tensor of rank >= 1");
  return success();
}

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr, RegionRange,
                                            SmallVectorImpl<Type> &results) {
  auto table = tensorOf(operands[0]), ids = tensorOf(operands[1]);
  if (!table || !ids)
    return fail(loc, "embedding: operands must be ranked tensors");
  if (table.getRank() != 2)
    return fail(loc, "embedding: the table must be [V, D], got " + formatShape(table.getShape()));
  SmallVector<int64_t> shape(ids.getShape());
  shape.push_back(table.getShape()[1]);
  results.push_back(RankedTensorType::get(shape, table.getElementType()));
  return success();
}

LogicalResult CrossEntropyOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                               ValueRange operands, DictionaryAttr, RegionRange,
                                               SmallVectorImpl<Type> &results) {
  auto logits = tensorOf(operands[0]), targets = tensorOf(operands[1]);
  if (!logits || !targets || logits.getRank() < 1)
    return fail(loc, "cross_entropy: needs logits of rank >= 1 and integer targets");
  if (logits.getShape().drop_back() != targets.getShape())
    return fail(loc, "cross_entropy: targets " + formatShape(targets.getShape()) +
                         " must have the shape of the logits without the vocabulary axis, " +
                         formatShape(logits.getShape().drop_back()));
  results.push_back(RankedTensorType::get({}, logits.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

namespace {

/// The forward result of attention over q, k, v, [B, H, Tq, Dv]; errors in
/// a model author's words at `loc`.
FailureOr<RankedTensorType> attentionResult(std::optional<Location> loc, Value qValue, Value kValue,
                                            Value vValue) {
  auto q = tensorOf(qValue), k = tensorOf(kValue), v = tensorOf(vValue);
  if (!q || !k || !v)
    return fail(loc, "attention: q, k and v must be ranked tensors");
  if (q.getRank() != 4)
    return fail(loc, "attention: q must be [B, H, T, E], got " + formatShape(q.getShape()));
  auto qs = q.getShape();
  int64_t b = qs[0], h = qs[1], e = qs[3];
  // k and v are [B, H, T, .] per head, or [B, T, .] shared by every head.
  auto check = [&](RankedTensorType t, StringRef name, int64_t &tk,
                   int64_t &last) -> LogicalResult {
    auto s = t.getShape();
    if (t.getRank() != 3 && t.getRank() != 4)
      return fail(loc, "attention: " + name + " must be [B, H, T, .] or [B, T, .] (shared by " +
                           "all heads), got " + formatShape(s));
    if (s[0] != b || (t.getRank() == 4 && s[1] != h))
      return fail(loc, "attention: " + name + " " + formatShape(s) + " disagrees with q " +
                           formatShape(qs) + " on batch or heads");
    tk = s[s.size() - 2];
    last = s.back();
    return success();
  };
  int64_t tk, ek, tv, dv;
  if (failed(check(k, "k", tk, ek)) || failed(check(v, "v", tv, dv)))
    return failure();
  if (ek != e)
    return fail(loc, "attention: q " + formatShape(qs) + " and k " + formatShape(k.getShape()) +
                         " differ in feature width (" + Twine(e) + " vs " + Twine(ek) + ")");
  if (tk != tv)
    return fail(loc, "attention: k and v differ in sequence length (" + Twine(tk) + " vs " +
                         Twine(tv) + ")");
  return RankedTensorType::get({b, h, qs[2], dv}, q.getElementType());
}

/// Checks that `value` (an operand or result named `what`) has `type`.
LogicalResult expectType(Operation *op, Value value, Type type, StringRef what) {
  if (value.getType() == type)
    return success();
  return op->emitOpError() << what << " must be " << type << ", got " << value.getType();
}

/// [B, H, Tq]: the row log-sum-exps of attention with queries q.
RankedTensorType lseType(Value q) {
  auto s = q.getType().cast<ShapedType>();
  return RankedTensorType::get({s.getDimSize(0), s.getDimSize(1), s.getDimSize(2)},
                               s.getElementType());
}

/// A gradient form's dq, dk, dv (and d alpha) have the types of q, k, v (and alpha).
LogicalResult verifyInputGrads(AttentionOpInterface op, Value dq, Value dk, Value dv,
                               Value dalpha) {
  Operation *o = op.getOperation();
  if (failed(expectType(o, dq, op.getQ().getType(), "q_grad")) ||
      failed(expectType(o, dk, op.getK().getType(), "k_grad")) ||
      failed(expectType(o, dv, op.getV().getType(), "v_grad")))
    return failure();
  if (bool(dalpha) != op.hasReciprocal())
    return o->emitOpError("has alpha_grad exactly when it has reciprocal(alpha)");
  return dalpha ? expectType(o, dalpha, op.getReciprocalAlpha().getType(), "alpha_grad")
                : success();
}

} // namespace

LogicalResult ra::verifyAttentionScores(Operation *operation) {
  auto op = cast<AttentionOpInterface>(operation);
  if (failed(attentionResult(op->getLoc(), op.getQ(), op.getK(), op.getV())))
    return failure();
  auto q = op.getQ().getType().cast<ShapedType>();
  auto k = op.getK().getType().cast<ShapedType>();
  int64_t tq = q.getShape()[2], tk = k.getShape()[k.getRank() - 2];
  if ((op.isCausal() || op.hasReciprocal()) && tq != tk)
    return op->emitOpError("causal and reciprocal attention need as many queries as keys, got ")
           << tq << " and " << tk;
  if (op.getBandAttr() && !op.hasReciprocal())
    return op->emitOpError("a band applies to the reciprocal term only; add reciprocal(alpha)");
  if (op.getBandAttr() && op.getBandAttr().getInt() < 0)
    return op->emitOpError("band must be >= 0, got ") << op.getBandAttr().getInt();
  if (!std::isfinite(op.getScaleValue()))
    return op->emitOpError("scale must be finite");
  return success();
}

ra_attention::AttentionShape ra::attentionShape(Value q, Value k, Value v, double scale,
                                                bool causal, bool reciprocal, int64_t band) {
  auto qs = q.getType().cast<ShapedType>().getShape();
  auto ks = k.getType().cast<ShapedType>().getShape();
  auto vs = v.getType().cast<ShapedType>().getShape();
  return {qs[0],          qs[1],        qs[2],  ks[ks.size() - 2], qs[3], vs.back(), ks.size() == 3,
          vs.size() == 3, float(scale), causal, reciprocal,        band};
}

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr, RegionRange,
                                            SmallVectorImpl<Type> &results) {
  auto result = attentionResult(loc, operands[0], operands[1], operands[2]);
  if (failed(result))
    return failure();
  results.push_back(*result);
  return success();
}

LogicalResult AttentionGradOp::verify() {
  auto y = *attentionResult(getLoc(), getQ(), getK(), getV());
  if (failed(expectType(*this, getGrad(), y, "grad")))
    return failure();
  return verifyInputGrads(*this, getQGrad(), getKGrad(), getVGrad(), getAlphaGrad());
}

LogicalResult FlashAttentionOp::verify() {
  auto y = *attentionResult(getLoc(), getQ(), getK(), getV());
  if (failed(expectType(*this, getResult(), y, "result")))
    return failure();
  return expectType(*this, getLse(), lseType(getQ()), "lse [B, H, Tq]");
}

LogicalResult FlashAttentionGradOp::verify() {
  auto y = *attentionResult(getLoc(), getQ(), getK(), getV());
  if (failed(expectType(*this, getResult(), y, "result")) ||
      failed(expectType(*this, getLse(), lseType(getQ()), "lse [B, H, Tq]")) ||
      failed(expectType(*this, getGrad(), y, "grad")))
    return failure();
  return verifyInputGrads(*this, getQGrad(), getKGrad(), getVGrad(), getAlphaGrad());
}

/// [B, H, Tq, 1]: one gate per query row of each head.
static RankedTensorType gateType(Value q) {
  auto s = q.getType().cast<ShapedType>();
  return RankedTensorType::get({s.getDimSize(0), s.getDimSize(1), s.getDimSize(2), 1},
                               s.getElementType());
}

LogicalResult GatedFlashAttentionOp::verify() {
  auto y = *attentionResult(getLoc(), getQ(), getK(), getV());
  if (failed(expectType(*this, getGate(), gateType(getQ()), "gate [B, H, Tq, 1]")) ||
      failed(expectType(*this, getResult(), y, "result")) ||
      failed(expectType(*this, getUngated(), y, "ungated")))
    return failure();
  return expectType(*this, getLse(), lseType(getQ()), "lse [B, H, Tq]");
}

LogicalResult GatedFlashAttentionGradOp::verify() {
  auto y = *attentionResult(getLoc(), getQ(), getK(), getV());
  if (failed(expectType(*this, getGate(), gateType(getQ()), "gate [B, H, Tq, 1]")) ||
      failed(expectType(*this, getUngated(), y, "ungated")) ||
      failed(expectType(*this, getLse(), lseType(getQ()), "lse [B, H, Tq]")) ||
      failed(expectType(*this, getGrad(), y, "grad")) ||
      failed(expectType(*this, getGateGrad(), getGate().getType(), "gate_grad")))
    return failure();
  return verifyInputGrads(*this, getQGrad(), getKGrad(), getVGrad(), getAlphaGrad());
}

/// [B, Tq, Dv]: attention averaged over heads, with v shared by every head.
static FailureOr<RankedTensorType> headMeanType(Operation *op, Value q, Value v) {
  auto vs = v.getType().cast<ShapedType>();
  if (vs.getRank() != 3)
    return op->emitOpError("v must be [B, Tk, Dv], shared by every head, got ")
           << formatShape(vs.getShape());
  auto qs = q.getType().cast<ShapedType>();
  return RankedTensorType::get({qs.getDimSize(0), qs.getDimSize(2), vs.getDimSize(2)},
                               qs.getElementType());
}

LogicalResult HeadMeanAttentionOp::verify() {
  auto mean = headMeanType(*this, getQ(), getV());
  if (failed(mean) || failed(expectType(*this, getResult(), *mean, "result")))
    return failure();
  return expectType(*this, getLse(), lseType(getQ()), "lse [B, H, Tq]");
}

LogicalResult HeadMeanAttentionGradOp::verify() {
  auto mean = headMeanType(*this, getQ(), getV());
  if (failed(mean) || failed(expectType(*this, getGrad(), *mean, "grad")) ||
      failed(expectType(*this, getLse(), lseType(getQ()), "lse [B, H, Tq]")))
    return failure();
  return verifyInputGrads(*this, getQGrad(), getKGrad(), getVGrad(), getAlphaGrad());
}

namespace {
/// B H Tq Tk: the scores of attention over q [B, H, Tq, E] and k [.., Tk, E].
int64_t scoreCount(Value q, Value k) {
  auto qs = q.getType().cast<ShapedType>().getShape();
  auto ks = k.getType().cast<ShapedType>().getShape();
  return qs[0] * qs[1] * qs[2] * ks[ks.size() - 2];
}
/// The query width E.
int64_t queryWidth(Value q) { return q.getType().cast<ShapedType>().getShape()[3]; }
/// B H Tq: the query rows.
int64_t queryRows(Value q) {
  auto qs = q.getType().cast<ShapedType>().getShape();
  return qs[0] * qs[1] * qs[2];
}
/// Attention's forward: q k^T, P v and the softmax per score, and alpha S^T
/// added to S where RA applies (the unfused and the flash kernels alike).
int64_t attentionFlops(Value q, Value k, int64_t dv, bool reciprocal) {
  int64_t scores = scoreCount(q, k);
  return scores * (2 * queryWidth(q) + 2 * dv + 5) + (reciprocal ? 2 * scores : 0);
}
/// The flash backward: scores once, dP, and one product each for dq, dk, dv.
int64_t flashAttentionGradFlops(Value q, Value k, int64_t dv) {
  int64_t scores = scoreCount(q, k), e = queryWidth(q);
  return scores * (2 * e + 3) + scores * (2 * dv * 2 + 2 * e * 2 + 3);
}
} // namespace

int64_t AttentionOp::getFlops() {
  return attentionFlops(getQ(), getK(), getType().cast<ShapedType>().getShape()[3],
                        bool(getReciprocalAlpha()));
}

/// Flash attention's work and one multiply per output element.
int64_t GatedFlashAttentionOp::getFlops() {
  int64_t dv = getResult().getType().cast<ShapedType>().getShape()[3];
  return attentionFlops(getQ(), getK(), dv, bool(getReciprocalAlpha())) + queryRows(getQ()) * dv;
}

/// The flash backward, the gate applied to dy and its gradient summed.
int64_t GatedFlashAttentionGradOp::getFlops() {
  int64_t dv = getGrad().getType().cast<ShapedType>().getShape()[3];
  return flashAttentionGradFlops(getQ(), getK(), dv) + 3 * queryRows(getQ()) * dv;
}

/// Per score: the score, exp(S - lse) and the head mean; then one
/// [Tq, Tk] x [Tk, Dv] product per batch entry (scores / H of them).
int64_t HeadMeanAttentionOp::getFlops() {
  int64_t scores = scoreCount(getQ(), getK()),
          h = getQ().getType().cast<ShapedType>().getDimSize(1);
  int64_t dv = getResult().getType().cast<ShapedType>().getShape()[2];
  return scores * (2 * queryWidth(getQ()) + 4) + (getReciprocalAlpha() ? 2 * scores : 0) +
         2 * scores / h * dv;
}

/// Per row, dP = grad v^T / H once; per head's score, the score, P, dS and
/// its dq, dk; then v's gradient mean_h(P)^T grad once.
int64_t HeadMeanAttentionGradOp::getFlops() {
  int64_t scores = scoreCount(getQ(), getK()),
          h = getQ().getType().cast<ShapedType>().getDimSize(1);
  int64_t dv = getGrad().getType().cast<ShapedType>().getShape()[2];
  return scores * (6 * queryWidth(getQ()) + 8) + (getReciprocalAlpha() ? 6 * scores : 0) +
         4 * scores / h * dv;
}

/// How a fused_elementwise input is read for result element i.
FusedInputKind ra::fusedInputKind(ShapedType input, ShapedType result) {
  if (input.getShape() == result.getShape())
    return FusedInputKind::Full;
  if (input.getNumElements() == 1)
    return FusedInputKind::Scalar;
  auto r = result.getShape();
  if (input.getRank() <= result.getRank() &&
      input.getShape() == r.drop_front(r.size() - input.getRank()))
    return FusedInputKind::Trailing;
  return FusedInputKind::Invalid;
}

LogicalResult FusedElementwiseOp::verify() {
  auto result = getType().cast<ShapedType>();
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError("the body takes ")
           << body.getNumArguments() << " elements for " << getInputs().size() << " inputs";
  auto element = RankedTensorType::get({}, result.getElementType());
  for (auto [i, input] : llvm::enumerate(getInputs())) {
    if (fusedInputKind(input.getType().cast<ShapedType>(), result) == FusedInputKind::Invalid)
      return emitOpError("input ")
             << i << " " << input.getType()
             << " is neither the result's shape, one element, nor the result's trailing dims";
    if (body.getArgument(i).getType() != element)
      return emitOpError("body arguments must be ") << element;
  }
  for (Operation &op : body.without_terminator())
    if (op.getNumResults() != 1 || op.getResult(0).getType() != element)
      return op.emitOpError("in a fused_elementwise body must yield one ") << element;
  return success();
}

/// Each body op once per element.
int64_t FusedElementwiseOp::getFlops() {
  int64_t perElement = 0;
  for (Operation &op : getBody().front().without_terminator())
    perElement += !isa<ConstantOp>(op);
  return perElement * getType().cast<ShapedType>().getNumElements();
}

/// Attention's products, plus the log-sum-exp per row.
int64_t FlashAttentionOp::getFlops() {
  return attentionFlops(getQ(), getK(), getResult().getType().cast<ShapedType>().getShape()[3],
                        bool(getReciprocalAlpha()));
}

/// Attention's backward without the row statistics pass.
int64_t FlashAttentionGradOp::getFlops() {
  return flashAttentionGradFlops(getQ(), getK(),
                                 getGrad().getType().cast<ShapedType>().getShape()[3]);
}

// The backward pass recomputes the scores and probabilities and does two
// products for dP and one each for dq, dk, dv.
int64_t AttentionGradOp::getFlops() {
  int64_t scores = scoreCount(getQ(), getK()), e = queryWidth(getQ());
  int64_t dv = getGrad().getType().cast<ShapedType>().getShape()[3];
  return scores * (2 * e + 5) + scores * (2 * dv * 2 + 2 * e * 2 + 5);
}

//===----------------------------------------------------------------------===//
// Decoding
//===----------------------------------------------------------------------===//

namespace {
/// `past` [B, H, T, w] or [B, T, w] and `fresh` [B, H, 1, w] or [B, 1, w]
/// for queries [B, H, 1, E]: the same form, one position.
/// A cache operand and its new row: [B, H, T, .] or [B, T, .] (shared by
/// every head), or, paged, a pool [N, H, P, .] or [N, P, .]; the new row
/// [B, H, 1, .] or [B, 1, .].
LogicalResult verifyCachePair(Operation *op, Value past, Value fresh, ArrayRef<int64_t> q,
                              bool paged, StringRef name) {
  auto p = past.getType().cast<ShapedType>().getShape();
  auto n = fresh.getType().cast<ShapedType>().getShape();
  bool shared = p.size() == 3;
  if ((p.size() != 3 && p.size() != 4) || (!paged && p[0] != q[0]) || (!shared && p[1] != q[1]))
    return op->emitOpError() << name
                             << (paged
                                     ? "_past must be a pool [N, H, P, .] or [N, P, .] for queries "
                                     : "_past must be [B, H, T, .] or [B, T, .] for queries ")
                             << formatShape(q) << ", got " << formatShape(p);
  SmallVector<int64_t> expected(p.begin(), p.end());
  expected[0] = q[0];
  expected[p.size() - 2] = 1;
  if (n != ArrayRef<int64_t>(expected))
    return op->emitOpError() << name << "_new must be " << formatShape(expected) << ", got "
                             << formatShape(n);
  return success();
}
} // namespace

int64_t CachedAttentionOp::getBlockPositions() {
  return getBlockTable() ? getKPast().getType().cast<ShapedType>().getShape().end()[-2] : 0;
}

int64_t CachedAttentionOp::getCachedLength() {
  int64_t rows = getKPast().getType().cast<ShapedType>().getShape().end()[-2];
  if (!getBlockTable())
    return rows;
  return rows * getBlockTable().getType().cast<ShapedType>().getShape()[1];
}

LogicalResult CachedAttentionOp::verify() {
  auto q = getQ().getType().cast<ShapedType>().getShape();
  if (q.size() != 4 || q[2] != 1)
    return emitOpError("q must be [B, H, 1, E], one new query per sequence, got ")
           << formatShape(q);
  bool paged = bool(getBlockTable());
  if (failed(verifyCachePair(*this, getKPast(), getKNew(), q, paged, "k")) ||
      failed(verifyCachePair(*this, getVPast(), getVNew(), q, paged, "v")))
    return failure();
  auto k = getKPast().getType().cast<ShapedType>().getShape();
  auto v = getVPast().getType().cast<ShapedType>().getShape();
  Type cacheType = getKPast().getType().cast<ShapedType>().getElementType();
  if (getVPast().getType().cast<ShapedType>().getElementType() != cacheType ||
      (getQPast() && getQPast().getType().cast<ShapedType>().getElementType() != cacheType))
    return emitOpError("k_past, v_past and q_past must share an element type");
  if (k.back() != q[3])
    return emitOpError("keys of width ") << k.back() << " for queries of width " << q[3];
  if (k[k.size() - 2] != v[v.size() - 2] || (paged && k[0] != v[0]))
    return emitOpError(paged ? "keys and values must be pools of the same blocks: "
                             : "keys and values cache different lengths: ")
           << formatShape(k) << " and " << formatShape(v);
  if (paged) {
    auto table = getBlockTable().getType().cast<ShapedType>().getShape();
    if (table.size() != 2 || table[0] != q[0] || table[1] < 1)
      return emitOpError("the block table must be [B, M] = [")
             << q[0] << ", M >= 1], got " << formatShape(table);
  }
  auto lengths = getLengths().getType().cast<ShapedType>().getShape();
  if (lengths != ArrayRef<int64_t>{q[0]})
    return emitOpError("lengths must be [B] = [") << q[0] << "], got " << formatShape(lengths);
  bool ra = bool(getReciprocalAlpha());
  if (bool(getQPast()) != ra || bool(getKRecip()) != ra)
    return emitOpError("the reciprocal term takes alpha, q_past and k_recip together");
  if (getBandAttr() && !ra)
    return emitOpError("a band applies to the reciprocal term only");
  if (getBandAttr() && getBandAttr().getInt() < 0)
    return emitOpError("band must be >= 0, got ") << getBandAttr().getInt();
  if (getPagedQueries() && (!ra || !paged))
    return emitOpError("paged_queries needs the reciprocal term and a block table");
  if (ra) {
    auto qp = getQPast().getType().cast<ShapedType>().getShape();
    auto kr = getKRecip().getType().cast<ShapedType>().getShape();
    if (getPagedQueries()) {
      if (qp.size() != 4 || qp[0] != k[0] || qp[1] != q[1] || qp[2] != k[k.size() - 2])
        return emitOpError("paged q_past must be a pool [")
               << k[0] << ", " << q[1] << ", " << k[k.size() - 2] << ", Er] as the keys', got "
               << formatShape(qp);
    } else if (qp.size() != 4 || qp[0] != q[0] || qp[1] != q[1] || qp[2] < 1) {
      return emitOpError("q_past must be [B, H, W, Er], got ") << formatShape(qp);
    }
    if (kr != ArrayRef<int64_t>{q[0], q[1], 1, qp[3]})
      return emitOpError("k_recip must be [B, H, 1, ") << qp[3] << "], got " << formatShape(kr);
    int64_t band = getBandAttr() ? getBandAttr().getInt() : -1, cached = getCachedLength();
    // The ring must hold every earlier query the band reaches.
    if (!getPagedQueries() && qp[2] < (band < 0 ? cached : std::min(band, cached)))
      return emitOpError("q_past keeps ")
             << qp[2] << " queries but the reciprocal term reaches "
             << (band < 0 ? cached : std::min(band, cached)) << " back";
  }
  auto expected = RankedTensorType::get({q[0], q[1], 1, v.back()},
                                        getQ().getType().cast<ShapedType>().getElementType());
  if (getType() != expected)
    return emitOpError("result must be ") << expected << ", got " << getType();
  if (!std::isfinite(getScale().convertToDouble()))
    return emitOpError("scale must be finite");
  return success();
}

/// Every cached position's score and value, as if the cache were full.
int64_t CachedAttentionOp::getFlops() {
  auto q = getQ().getType().cast<ShapedType>().getShape();
  int64_t scores = q[0] * q[1] * getCachedLength();
  int64_t dv = getType().cast<ShapedType>().getShape()[3];
  int64_t recip = 0;
  if (getQPast()) {
    auto qp = getQPast().getType().cast<ShapedType>().getShape();
    int64_t kept = getPagedQueries() ? getCachedLength() : qp[2];
    recip = 2 * q[0] * q[1] * kept * qp[3];
  }
  return scores * (2 * queryWidth(getQ()) + 2 * dv + 5) + recip;
}

LogicalResult RunningMeanOp::verify() {
  auto shape = getX().getType().cast<ShapedType>().getShape();
  int64_t axis = getAxis();
  if (failed(checkAxis(getLoc(), "running_mean", axis, shape.size())))
    return failure();
  if (axis == 0 || shape[axis] != 1)
    return emitOpError("x must have one position on axis ")
           << axis << ", got " << formatShape(shape);
  auto lengths = getLengths().getType().cast<ShapedType>().getShape();
  if (lengths != ArrayRef<int64_t>{shape[0]})
    return emitOpError("lengths must be [B] = [") << shape[0] << "], got " << formatShape(lengths);
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult SliceOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                        ValueRange operands, DictionaryAttr attrs, RegionRange,
                                        SmallVectorImpl<Type> &results) {
  auto in = tensorOf(operands[0]);
  auto axis = intAttr(attrs, "axis"), start = intAttr(attrs, "start"), end = intAttr(attrs, "end");
  if (!in || !axis || !start || !end)
    return fail(loc, "slice: needs a ranked tensor and integer 'axis', 'start', 'end'");
  if (failed(checkAxis(loc, "slice", *axis, in.getRank())))
    return failure();
  int64_t dim = in.getShape()[*axis];
  if (*start < 0 || *end > dim || *start >= *end)
    return fail(loc, "slice: range [" + Twine(*start) + ", " + Twine(*end) + ") is empty or " +
                         "outside axis " + Twine(*axis) + " of size " + Twine(dim));
  SmallVector<int64_t> shape(in.getShape());
  shape[*axis] = *end - *start;
  results.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                         ValueRange operands, DictionaryAttr attrs, RegionRange,
                                         SmallVectorImpl<Type> &results) {
  auto axis = intAttr(attrs, "axis");
  if (operands.empty() || !axis)
    return fail(loc, "concat: needs at least one tensor and an integer 'axis'");
  auto first = tensorOf(operands[0]);
  if (!first || failed(checkAxis(loc, "concat", *axis, first.getRank())))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  for (Value v : operands) {
    auto t = tensorOf(v);
    if (!t || t.getRank() != first.getRank() || t.getElementType() != first.getElementType())
      return fail(loc, "concat: every input must have the rank and element type of the first");
    for (int64_t i = 0; i < t.getRank(); ++i)
      if (i != *axis && t.getShape()[i] != first.getShape()[i])
        return fail(loc, "concat: " + formatShape(t.getShape()) + " and " +
                             formatShape(first.getShape()) + " differ outside axis " +
                             Twine(*axis));
    shape[*axis] += t.getShape()[*axis];
  }
  results.push_back(RankedTensorType::get(shape, first.getElementType()));
  return success();
}

LogicalResult ReshapeOp::verify() {
  auto in = getInput().getType().cast<ShapedType>(), out = getType().cast<ShapedType>();
  if (in.getElementType() != out.getElementType())
    return emitOpError("reshape cannot change the element type");
  if (in.getNumElements() != out.getNumElements())
    return emitOpError("cannot reshape ")
           << formatShape(in.getShape()) << " (" << in.getNumElements() << " elements) to "
           << formatShape(out.getShape()) << " (" << out.getNumElements() << " elements)";
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                            ValueRange operands, DictionaryAttr attrs, RegionRange,
                                            SmallVectorImpl<Type> &results) {
  auto in = tensorOf(operands[0]);
  auto perm = attrs ? attrs.get("permutation").dyn_cast_or_null<DenseI64ArrayAttr>() : nullptr;
  if (!in || !perm)
    return fail(loc, "transpose: needs a ranked tensor and a 'permutation'");
  ArrayRef<int64_t> p = perm.asArrayRef();
  SmallVector<bool> seen(in.getRank(), false);
  bool valid = (int64_t)p.size() == in.getRank();
  for (int64_t a : p) {
    valid = valid && a >= 0 && a < in.getRank() && !seen[a];
    if (valid)
      seen[a] = true;
  }
  if (!valid)
    return fail(loc, "transpose: " + formatShape(p) + " is not a permutation of the " +
                         Twine(in.getRank()) + " axes of " + formatShape(in.getShape()));
  SmallVector<int64_t> shape;
  for (int64_t a : p)
    shape.push_back(in.getShape()[a]);
  results.push_back(RankedTensorType::get(shape, in.getElementType()));
  return success();
}

LogicalResult BroadcastOp::verify() {
  auto in = getInput().getType().cast<ShapedType>(), out = getType().cast<ShapedType>();
  if (in.getElementType() != out.getElementType())
    return emitOpError("broadcast cannot change the element type");
  if (!isBroadcastableTo(in.getShape(), out.getShape()))
    return emitOpError("cannot broadcast ")
           << formatShape(in.getShape()) << " to " << formatShape(out.getShape());
  return success();
}

//===----------------------------------------------------------------------===//
// Canonicalization
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// Folders: rewrites to a value that exists already
//===----------------------------------------------------------------------===//

// reshape(x) : T -> T  =  x;   reshape(reshape(x))  =  reshape(x)
OpFoldResult ReshapeOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto inner = getInput().getDefiningOp<ReshapeOp>()) {
    getInputMutable().assign(inner.getInput());
    return getResult();
  }
  return {};
}

// transpose(x, identity)  =  x
OpFoldResult TransposeOp::fold(FoldAdaptor) {
  for (auto [i, axis] : llvm::enumerate(getPermutation()))
    if (axis != (int64_t)i)
      return {};
  return getInput();
}

// broadcast(x) : T -> T  =  x
OpFoldResult BroadcastOp::fold(FoldAdaptor) {
  return getInput().getType() == getType() ? getInput() : Value();
}

// slice(x, the whole axis)  =  x
OpFoldResult SliceOp::fold(FoldAdaptor) {
  return getInput().getType() == getType() ? getInput() : Value();
}

// concat(x)  =  x
OpFoldResult ConcatOp::fold(FoldAdaptor) {
  return getInputs().size() == 1 ? getInputs()[0] : Value();
}

//===----------------------------------------------------------------------===//
// Canonicalization: rewrites that make new ops
//===----------------------------------------------------------------------===//

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results, MLIRContext *) {
  // transpose(transpose(x, p), q)  =  transpose(x, p o q)
  results.add(+[](TransposeOp op, PatternRewriter &rewriter) -> LogicalResult {
    ArrayRef<int64_t> perm = op.getPermutation();
    auto inner = op.getInput().getDefiningOp<TransposeOp>();
    if (!inner)
      return failure();
    SmallVector<int64_t> composed;
    for (int64_t a : perm)
      composed.push_back(inner.getPermutation()[a]);
    rewriter.replaceOpWithNewOp<TransposeOp>(op, op.getType(), inner.getInput(),
                                             rewriter.getDenseI64ArrayAttr(composed));
    return success();
  });
}

void BroadcastOp::getCanonicalizationPatterns(RewritePatternSet &results, MLIRContext *) {
  // broadcast(constant c)  =  constant c of the larger shape;
  // broadcast(broadcast(x))  =  broadcast(x)
  results.add(+[](BroadcastOp op, PatternRewriter &rewriter) -> LogicalResult {
    if (auto c = op.getInput().getDefiningOp<ConstantOp>()) {
      rewriter.replaceOpWithNewOp<ConstantOp>(op, op.getType(), c.getValueAttr());
      return success();
    }
    if (auto inner = op.getInput().getDefiningOp<BroadcastOp>()) {
      rewriter.updateRootInPlace(op, [&] { op->setOperand(0, inner.getInput()); });
      return success();
    }
    return failure();
  });
}

#define GET_OP_CLASSES
#include "ir/RaOps.cpp.inc"
