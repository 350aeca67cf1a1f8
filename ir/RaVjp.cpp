//===- RaVjp.cpp - the derivative of every differentiable ra op -----------===//
//
// One rule per op, as `vjp(op, builder, resultGrads, operandGrads)`, attached
// to the op through VjpOpInterface. Rules compose forward ops where that costs
// nothing extra and use a gradient op (layernorm_grad, attention_grad, ...)
// where a fused backward kernel is what a code generator needs.
//
// Each rule is checked against finite differences by `racc check --grad` and
// the per-op gradcheck in test/unit/GradcheckTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "ir/OpBuild.h"
#include "ir/RaDialect.h"

using namespace mlir;

namespace ra {
namespace {

using Grads = SmallVectorImpl<Value>;

ArrayRef<int64_t> shapeOf(Value v) { return v.getType().cast<ShapedType>().getShape(); }

/// Sums a gradient of a broadcast value back to `shape`: over the leading
/// dims it gained and, keeping them, over dims that were 1.
Value sumToShape(OpBuilder &b, Location loc, Value grad, ArrayRef<int64_t> shape) {
  MLIRContext *ctx = b.getContext();
  while ((int64_t)shapeOf(grad).size() > (int64_t)shape.size())
    grad = build<ReduceSumOp>(b, loc, grad, {i64Attr(ctx, "axis", 0)});
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == 1 && shapeOf(grad)[i] != 1)
      grad = build<ReduceSumOp>(b, loc, grad, {i64Attr(ctx, "axis", i), unitAttr(ctx, "keepdim")});
  return grad;
}

Value scale(OpBuilder &b, Location loc, Value v, double s) {
  return build<MulOp>(b, loc, {v, buildConstant(b, loc, s, v.getType())});
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult vjp(AddOp, OpBuilder &, ArrayRef<Value> g, Grads &out) {
  out.append({g[0], g[0]});
  return success();
}

LogicalResult vjp(SubOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.append({g[0], build<NegOp>(b, op.getLoc(), g[0])});
  return success();
}

LogicalResult vjp(MulOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.append({build<MulOp>(b, op.getLoc(), {g[0], op.getRhs()}),
              build<MulOp>(b, op.getLoc(), {g[0], op.getLhs()})});
  return success();
}

// y = l / r:  dl = g / r,  dr = -g l / r^2 = -dl * y
LogicalResult vjp(DivOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = op.getLoc();
  Value dl = build<DivOp>(b, loc, {g[0], op.getRhs()});
  out.append({dl, build<NegOp>(b, loc, build<MulOp>(b, loc, {dl, op.getResult()}))});
  return success();
}

// The gradient goes to the larger operand (to lhs on ties).
LogicalResult vjp(MaximumOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = op.getLoc();
  Value mask = build<GeOp>(b, loc, {op.getLhs(), op.getRhs()});
  Value dl = build<MulOp>(b, loc, {g[0], mask});
  out.append({dl, build<SubOp>(b, loc, {g[0], dl})});
  return success();
}

LogicalResult vjp(GeOp, OpBuilder &, ArrayRef<Value>, Grads &out) {
  out.append({Value(), Value()}); // piecewise constant
  return success();
}

LogicalResult vjp(NegOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(build<NegOp>(b, op.getLoc(), g[0]));
  return success();
}

LogicalResult vjp(ExpOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(build<MulOp>(b, op.getLoc(), {g[0], op.getResult()}));
  return success();
}

LogicalResult vjp(LogOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(build<DivOp>(b, op.getLoc(), {g[0], op.getInput()}));
  return success();
}

// d tanh = 1 - y^2
LogicalResult vjp(TanhOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = op.getLoc();
  Value y = op.getResult();
  Value one = buildConstant(b, loc, 1.0, y.getType());
  Value d = build<SubOp>(b, loc, {one, build<MulOp>(b, loc, {y, y})});
  out.push_back(build<MulOp>(b, loc, {g[0], d}));
  return success();
}

// d sigmoid = y (1 - y)
LogicalResult vjp(SigmoidOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = op.getLoc();
  Value y = op.getResult();
  Value one = buildConstant(b, loc, 1.0, y.getType());
  Value d = build<MulOp>(b, loc, {y, build<SubOp>(b, loc, {one, y})});
  out.push_back(build<MulOp>(b, loc, {g[0], d}));
  return success();
}

// d sqrt = 1 / (2 y)
LogicalResult vjp(SqrtOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = op.getLoc();
  out.push_back(scale(b, loc, build<DivOp>(b, loc, {g[0], op.getResult()}), 0.5));
  return success();
}

// y = x^(-1/2):  dy/dx = -y^3 / 2
LogicalResult vjp(RsqrtOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = op.getLoc();
  Value y = op.getResult();
  Value y3 = build<MulOp>(b, loc, {build<MulOp>(b, loc, {y, y}), y});
  out.push_back(scale(b, loc, build<MulOp>(b, loc, {g[0], y3}), -0.5));
  return success();
}

LogicalResult vjp(GeluOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(build<GeluGradOp>(b, op.getLoc(), {op.getInput(), g[0]}));
  return success();
}

//===----------------------------------------------------------------------===//
// Contractions and reductions
//===----------------------------------------------------------------------===//

// C = op(A) op(B) with op = transpose or not; see the table in each branch.
LogicalResult vjp(MatmulOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  Value a = op.getLhs(), w = op.getRhs(), dc = g[0];
  bool ta = op.getTransposeLhs(), tb = op.getTransposeRhs();
  auto mm = [&](Value x, Value y, bool tx, bool ty) {
    SmallVector<NamedAttribute> attrs;
    if (tx)
      attrs.push_back(unitAttr(ctx, "transpose_lhs"));
    if (ty)
      attrs.push_back(unitAttr(ctx, "transpose_rhs"));
    return build<MatmulOp>(b, loc, {x, y}, attrs);
  };
  Value da, dw;
  if (!ta && !tb) { // C = A B:      dA = dC B^T,    dB = A^T dC
    da = mm(dc, w, false, true);
    dw = mm(a, dc, true, false);
  } else if (!ta && tb) { // C = A B^T:  dA = dC B,      dB = dC^T A
    da = mm(dc, w, false, false);
    dw = mm(dc, a, true, false);
  } else if (ta && !tb) { // C = A^T B:  dA = B dC^T,    dB = A dC
    da = mm(w, dc, false, true);
    dw = mm(a, dc, false, false);
  } else { // C = A^T B^T:                dA = B^T dC^T,  dB = dC^T A^T
    da = mm(w, dc, true, true);
    dw = mm(dc, a, true, true);
  }
  if (!da || !dw)
    return failure();
  out.append({sumToShape(b, loc, da, shapeOf(a)), sumToShape(b, loc, dw, shapeOf(w))});
  return success();
}

/// The gradient of a reduction's result, broadcast back over the input.
Value expandReduced(OpBuilder &b, Location loc, Value g, Value input, int64_t axis, bool keepdim) {
  auto in = input.getType().cast<RankedTensorType>();
  if (!keepdim) {
    SmallVector<int64_t> kept(in.getShape());
    kept[axis] = 1;
    g = build<ReshapeOp>(b, loc, g, {}, RankedTensorType::get(kept, in.getElementType()));
  }
  return build<BroadcastOp>(b, loc, g, {}, in);
}

LogicalResult vjp(ReduceSumOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(expandReduced(b, op.getLoc(), g[0], op.getInput(), op.getAxis(), op.getKeepdim()));
  return success();
}

LogicalResult vjp(ReduceMeanOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  int64_t n = shapeOf(op.getInput())[op.getAxis()];
  Value e = expandReduced(b, op.getLoc(), g[0], op.getInput(), op.getAxis(), op.getKeepdim());
  out.push_back(scale(b, op.getLoc(), e, 1.0 / n));
  return success();
}

// The gradient flows to every position equal to the maximum.
LogicalResult vjp(ReduceMaxOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = op.getLoc();
  Value y = expandReduced(b, loc, op.getResult(), op.getInput(), op.getAxis(), op.getKeepdim());
  Value e = expandReduced(b, loc, g[0], op.getInput(), op.getAxis(), op.getKeepdim());
  Value mask = build<GeOp>(b, loc, {op.getInput(), y});
  out.push_back(build<MulOp>(b, loc, {e, mask}));
  return success();
}

LogicalResult vjp(CausalMeanOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(build<CausalMeanGradOp>(b, op.getLoc(), g[0],
                                        {i64Attr(b.getContext(), "axis", op.getAxis())}));
  return success();
}

//===----------------------------------------------------------------------===//
// Normalization, softmax, lookup, loss, attention
//===----------------------------------------------------------------------===//

LogicalResult vjp(LayerNormOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Operation *grad = buildOp<LayerNormGradOp>(
      b, op.getLoc(), {op.getInput(), op.getWeight(), g[0]},
      {f64Attr(b.getContext(), "eps", op.getEps().convertToDouble())},
      TypeRange{op.getType(), op.getWeight().getType(), op.getBias().getType()});
  out.append(grad->result_begin(), grad->result_end());
  return success();
}

// dx = y * (g - sum(g * y, last axis))
LogicalResult vjp(SoftmaxOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  Value y = op.getResult();
  int64_t last = y.getType().cast<ShapedType>().getRank() - 1;
  Value dot = build<ReduceSumOp>(b, loc, build<MulOp>(b, loc, {g[0], y}),
                                 {i64Attr(ctx, "axis", last), unitAttr(ctx, "keepdim")});
  Value centered = build<SubOp>(b, loc, {g[0], build<BroadcastOp>(b, loc, dot, {}, y.getType())});
  out.push_back(build<MulOp>(b, loc, {y, centered}));
  return success();
}

LogicalResult vjp(EmbeddingOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(
      build<EmbeddingGradOp>(b, op.getLoc(), {op.getIndices(), g[0]}, {}, op.getTable().getType()));
  out.push_back(Value()); // integer ids
  return success();
}

LogicalResult vjp(CrossEntropyOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(build<CrossEntropyGradOp>(b, op.getLoc(), {op.getLogits(), op.getTargets(), g[0]},
                                          {}, op.getLogits().getType()));
  out.push_back(Value()); // integer targets
  return success();
}

LogicalResult vjp(AttentionOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> operands{op.getQ(), op.getK(), op.getV()};
  SmallVector<Type> types{op.getQ().getType(), op.getK().getType(), op.getV().getType()};
  bool reciprocal = (bool)op.getReciprocalAlpha();
  if (reciprocal) {
    operands.push_back(op.getReciprocalAlpha());
    types.push_back(op.getReciprocalAlpha().getType());
  }
  operands.push_back(g[0]);
  SmallVector<NamedAttribute> attrs{f64Attr(ctx, "scale", op.getScale().convertToDouble())};
  if (op.getCausal())
    attrs.push_back(unitAttr(ctx, "causal"));
  if (op.getBand())
    attrs.push_back(i64Attr(ctx, "band", *op.getBand()));
  Operation *grad = buildOp<AttentionGradOp>(b, op.getLoc(), operands, attrs, types);
  out.append(grad->result_begin(), grad->result_end());
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

// The gradient of a slice is zero outside it: concat(zeros, g, zeros).
LogicalResult vjp(SliceOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = op.getLoc();
  auto in = op.getInput().getType().cast<RankedTensorType>();
  int64_t axis = op.getAxis(), start = op.getStart(), end = op.getEnd();
  SmallVector<Value> parts;
  auto zeros = [&](int64_t n) {
    SmallVector<int64_t> shape(in.getShape());
    shape[axis] = n;
    return buildConstant(b, loc, 0.0, RankedTensorType::get(shape, in.getElementType()));
  };
  if (start > 0)
    parts.push_back(zeros(start));
  parts.push_back(g[0]);
  if (end < in.getShape()[axis])
    parts.push_back(zeros(in.getShape()[axis] - end));
  out.push_back(parts.size() == 1
                    ? parts[0]
                    : build<ConcatOp>(b, loc, parts, {i64Attr(b.getContext(), "axis", axis)}));
  return success();
}

LogicalResult vjp(ConcatOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  MLIRContext *ctx = b.getContext();
  int64_t axis = op.getAxis(), offset = 0;
  for (Value in : op.getInputs()) {
    int64_t n = shapeOf(in)[axis];
    out.push_back(build<SliceOp>(b, op.getLoc(), g[0],
                                 {i64Attr(ctx, "axis", axis), i64Attr(ctx, "start", offset),
                                  i64Attr(ctx, "end", offset + n)}));
    offset += n;
  }
  return success();
}

LogicalResult vjp(ReshapeOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(build<ReshapeOp>(b, op.getLoc(), g[0], {}, op.getInput().getType()));
  return success();
}

LogicalResult vjp(TransposeOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  ArrayRef<int64_t> perm = op.getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[perm[i]] = i;
  out.push_back(build<TransposeOp>(b, op.getLoc(), g[0], {permAttr(b.getContext(), inverse)}));
  return success();
}

LogicalResult vjp(BroadcastOp op, OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Value grad = sumToShape(b, op.getLoc(), g[0], shapeOf(op.getInput()));
  if (grad.getType() != op.getInput().getType()) // [1, n] summed from [m, n] stays [1, n]
    grad = build<ReshapeOp>(b, op.getLoc(), grad, {}, op.getInput().getType());
  out.push_back(grad);
  return success();
}

/// Attaches `vjp(OpT, ...)` to OpT.
template <class OpT> struct VjpModel : VjpOpInterface::ExternalModel<VjpModel<OpT>, OpT> {
  LogicalResult buildVjp(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
                         SmallVectorImpl<Value> &operandGrads) const {
    return vjp(cast<OpT>(op), b, resultGrads, operandGrads);
  }
};

template <class... Ops> void attach(MLIRContext *ctx) {
  (Ops::template attachInterface<VjpModel<Ops>>(*ctx), ...);
}

} // namespace

void registerVjpModels(MLIRContext *ctx) {
  attach<AddOp, SubOp, MulOp, DivOp, MaximumOp, GeOp, NegOp, ExpOp, LogOp, TanhOp, SigmoidOp,
         SqrtOp, RsqrtOp, GeluOp, MatmulOp, ReduceSumOp, ReduceMeanOp, ReduceMaxOp, CausalMeanOp,
         LayerNormOp, SoftmaxOp, EmbeddingOp, CrossEntropyOp, AttentionOp, SliceOp, ConcatOp,
         ReshapeOp, TransposeOp, BroadcastOp>(ctx);
}

} // namespace ra
