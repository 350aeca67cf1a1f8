//===- RaVjp.cpp - the derivative of every differentiable ra op -----------===//
//
// One rule per op, `OpT::buildVjp(builder, resultGrads, operandGrads)`: the
// ops declare VjpOpInterface in RaOps.td (`Ra_Vjp`), so an op and its
// derivative are found together and autodiff never grows a switch. Rules
// compose forward ops where that costs nothing extra and use a gradient op
// (layernorm_grad, attention_grad, ...) where a fused backward kernel is what
// a code generator needs.
//
// Each rule is checked against finite differences by `racc check --grad` and
// the per-op gradcheck in test/unit/GradcheckTest.cpp.
//
//===----------------------------------------------------------------------===//
#include "ir/RaDialect.h"

#include "mlir/IR/Builders.h"

using namespace mlir;

namespace ra {
namespace {

using Grads = SmallVectorImpl<Value>;

ArrayRef<int64_t> shapeOf(Value v) { return v.getType().cast<ShapedType>().getShape(); }

/// Sums a gradient of a broadcast value back to `shape`: over the leading
/// dims it gained and, keeping them, over dims that were 1.
Value sumToShape(OpBuilder &b, Location loc, Value grad, ArrayRef<int64_t> shape) {
  while (shapeOf(grad).size() > shape.size())
    grad = b.create<ReduceSumOp>(loc, grad, /*axis=*/0);
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == 1 && shapeOf(grad)[i] != 1)
      grad = b.create<ReduceSumOp>(loc, grad, i, /*keepdim=*/true);
  return grad;
}

Value constant(OpBuilder &b, Location loc, double value, Type type) {
  return b.create<ConstantOp>(loc, type, value);
}

Value scale(OpBuilder &b, Location loc, Value v, double s) {
  return b.create<MulOp>(loc, v, constant(b, loc, s, v.getType()));
}

/// The gradient of a reduction's result, broadcast back over the input.
Value expandReduced(OpBuilder &b, Location loc, Value g, Value input, int64_t axis, bool keepdim) {
  auto in = input.getType().cast<RankedTensorType>();
  if (!keepdim) {
    SmallVector<int64_t> kept(in.getShape());
    kept[axis] = 1;
    g = b.create<ReshapeOp>(loc, RankedTensorType::get(kept, in.getElementType()), g);
  }
  return b.create<BroadcastOp>(loc, in, g);
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

LogicalResult AddOp::buildVjp(OpBuilder &, ArrayRef<Value> g, Grads &out) {
  out.append({g[0], g[0]});
  return success();
}

LogicalResult SubOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.append({g[0], b.create<NegOp>(getLoc(), g[0])});
  return success();
}

LogicalResult MulOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.append(
      {b.create<MulOp>(getLoc(), g[0], getRhs()), b.create<MulOp>(getLoc(), g[0], getLhs())});
  return success();
}

// y = l / r:  dl = g / r,  dr = -g l / r^2 = -dl * y
LogicalResult DivOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  Value dl = b.create<DivOp>(loc, g[0], getRhs());
  out.append({dl, b.create<NegOp>(loc, b.create<MulOp>(loc, dl, getResult()))});
  return success();
}

// The gradient goes to the larger operand (to lhs on ties).
LogicalResult MaximumOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  Value mask = b.create<GeOp>(loc, getLhs(), getRhs());
  Value dl = b.create<MulOp>(loc, g[0], mask);
  out.append({dl, b.create<SubOp>(loc, g[0], dl)});
  return success();
}

LogicalResult GeOp::buildVjp(OpBuilder &, ArrayRef<Value>, Grads &out) {
  out.append({Value(), Value()}); // piecewise constant
  return success();
}

LogicalResult NegOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(b.create<NegOp>(getLoc(), g[0]));
  return success();
}

// d|x| = sign(x), taken as +1 at 0: 2 (x >= 0) - 1
LogicalResult AbsOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  Type type = getType();
  Value nonNegative = b.create<GeOp>(loc, getInput(), constant(b, loc, 0.0, type));
  Value sign = b.create<SubOp>(loc, scale(b, loc, nonNegative, 2.0), constant(b, loc, 1.0, type));
  out.push_back(b.create<MulOp>(loc, g[0], sign));
  return success();
}

LogicalResult ExpOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(b.create<MulOp>(getLoc(), g[0], getResult()));
  return success();
}

LogicalResult LogOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(b.create<DivOp>(getLoc(), g[0], getInput()));
  return success();
}

// d tanh = 1 - y^2
LogicalResult TanhOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  Value y = getResult();
  Value one = constant(b, loc, 1.0, y.getType());
  Value d = b.create<SubOp>(loc, one, b.create<MulOp>(loc, y, y));
  out.push_back(b.create<MulOp>(loc, g[0], d));
  return success();
}

// d sigmoid = y (1 - y)
LogicalResult SigmoidOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  Value y = getResult();
  Value one = constant(b, loc, 1.0, y.getType());
  Value d = b.create<MulOp>(loc, y, b.create<SubOp>(loc, one, y));
  out.push_back(b.create<MulOp>(loc, g[0], d));
  return success();
}

// d sqrt = 1 / (2 y)
LogicalResult SqrtOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  out.push_back(scale(b, loc, b.create<DivOp>(loc, g[0], getResult()), 0.5));
  return success();
}

// y = x^(-1/2):  dy/dx = -y^3 / 2
LogicalResult RsqrtOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  Value y = getResult();
  Value y3 = b.create<MulOp>(loc, b.create<MulOp>(loc, y, y), y);
  out.push_back(scale(b, loc, b.create<MulOp>(loc, g[0], y3), -0.5));
  return success();
}

LogicalResult GeluOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(b.create<GeluGradOp>(getLoc(), getInput(), g[0]));
  return success();
}

//===----------------------------------------------------------------------===//
// Contractions and reductions
//===----------------------------------------------------------------------===//

// C = op(A) op(B) with op = transpose or not; see the table in each branch.
LogicalResult MatmulOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  Value a = getLhs(), w = getRhs(), dc = g[0];
  bool ta = getTransposeLhs(), tb = getTransposeRhs();
  auto mm = [&](Value x, Value y, bool tx, bool ty) -> Value {
    return b.create<MatmulOp>(loc, x, y, tx, ty);
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
  out.append({sumToShape(b, loc, da, shapeOf(a)), sumToShape(b, loc, dw, shapeOf(w))});
  return success();
}

LogicalResult ReduceSumOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(expandReduced(b, getLoc(), g[0], getInput(), getAxis(), getKeepdim()));
  return success();
}

LogicalResult ReduceMeanOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  int64_t n = shapeOf(getInput())[getAxis()];
  Value e = expandReduced(b, getLoc(), g[0], getInput(), getAxis(), getKeepdim());
  out.push_back(scale(b, getLoc(), e, 1.0 / n));
  return success();
}

// The gradient flows to every position equal to the maximum.
LogicalResult ReduceMaxOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  Value y = expandReduced(b, loc, getResult(), getInput(), getAxis(), getKeepdim());
  Value e = expandReduced(b, loc, g[0], getInput(), getAxis(), getKeepdim());
  Value mask = b.create<GeOp>(loc, getInput(), y);
  out.push_back(b.create<MulOp>(loc, e, mask));
  return success();
}

LogicalResult CausalMeanOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(b.create<CausalMeanGradOp>(getLoc(), g[0], getAxis()));
  return success();
}

//===----------------------------------------------------------------------===//
// Normalization, softmax, lookup, loss, attention
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  auto grad =
      b.create<LayerNormGradOp>(getLoc(), getType(), getWeight().getType(), getBias().getType(),
                                getInput(), getWeight(), g[0], getEpsAttr());
  out.append(grad->result_begin(), grad->result_end());
  return success();
}

// dx = y * (g - sum(g * y, last axis))
LogicalResult SoftmaxOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  Value y = getResult();
  int64_t last = y.getType().cast<ShapedType>().getRank() - 1;
  Value dot = b.create<ReduceSumOp>(loc, b.create<MulOp>(loc, g[0], y), last, /*keepdim=*/true);
  Value centered = b.create<SubOp>(loc, g[0], b.create<BroadcastOp>(loc, y.getType(), dot));
  out.push_back(b.create<MulOp>(loc, y, centered));
  return success();
}

LogicalResult EmbeddingOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(b.create<EmbeddingGradOp>(getLoc(), getTable().getType(), getIndices(), g[0]));
  out.push_back(Value()); // integer ids
  return success();
}

LogicalResult CrossEntropyOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(b.create<CrossEntropyGradOp>(getLoc(), getLogits().getType(), getLogits(),
                                             getTargets(), g[0]));
  out.push_back(Value()); // integer targets
  return success();
}

LogicalResult AttentionOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Value alpha = getReciprocalAlpha();
  auto grad =
      b.create<AttentionGradOp>(getLoc(), getQ().getType(), getK().getType(), getV().getType(),
                                alpha ? alpha.getType() : Type(), getQ(), getK(), getV(), alpha,
                                g[0], getScaleAttr(), getCausalAttr(), getBandAttr());
  out.append(grad->result_begin(), grad->result_end());
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

// The gradient of a slice is zero outside it: concat(zeros, g, zeros).
LogicalResult SliceOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Location loc = getLoc();
  auto in = getInput().getType().cast<RankedTensorType>();
  int64_t axis = getAxis(), start = getStart(), end = getEnd();
  SmallVector<Value> parts;
  auto zeros = [&](int64_t n) {
    SmallVector<int64_t> shape(in.getShape());
    shape[axis] = n;
    return constant(b, loc, 0.0, RankedTensorType::get(shape, in.getElementType()));
  };
  if (start > 0)
    parts.push_back(zeros(start));
  parts.push_back(g[0]);
  if (end < in.getShape()[axis])
    parts.push_back(zeros(in.getShape()[axis] - end));
  out.push_back(parts.size() == 1 ? parts[0] : b.create<ConcatOp>(loc, parts, axis));
  return success();
}

LogicalResult ConcatOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  int64_t axis = getAxis(), offset = 0;
  for (Value in : getInputs()) {
    int64_t n = shapeOf(in)[axis];
    out.push_back(b.create<SliceOp>(getLoc(), g[0], axis, offset, offset + n));
    offset += n;
  }
  return success();
}

LogicalResult ReshapeOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  out.push_back(b.create<ReshapeOp>(getLoc(), getInput().getType(), g[0]));
  return success();
}

LogicalResult TransposeOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  ArrayRef<int64_t> perm = getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i)
    inverse[perm[i]] = i;
  out.push_back(b.create<TransposeOp>(getLoc(), g[0], inverse));
  return success();
}

LogicalResult BroadcastOp::buildVjp(OpBuilder &b, ArrayRef<Value> g, Grads &out) {
  Value grad = sumToShape(b, getLoc(), g[0], shapeOf(getInput()));
  if (grad.getType() != getInput().getType()) // [1, n] summed from [m, n] stays [1, n]
    grad = b.create<ReshapeOp>(getLoc(), getInput().getType(), grad);
  out.push_back(grad);
  return success();
}

} // namespace ra
