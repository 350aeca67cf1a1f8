//===- AbsorbLatentWeights.cpp - MLA weight absorption in inference -------===//
//
// MLA projects queries to the model width and then to the latent width per
// head, and expands the latent values to the model width per head before
// attention and the output projection:
//
//   q_l = (x W_q + b_q) W_ql[h]         [D, H hd] then [H, hd, R]
//   out = (softmax(S) v_l W_vu[h]) W_o  [R, H hd] then [H hd, D]
//
// Both pairs are linear maps in a row and can be folded into one weight
// ("absorption", models.md): q_l = x W_qa + b_qa with W_qa = W_q W_ql of
// [D, H R], and out = (softmax(S) v_l) W_vo with W_vo[h] = W_vu[h] W_o[h] of
// [H R, D], so attention reads the latent values directly. Exact in real
// arithmetic, and only in inference entry points: training needs W_q, W_ql,
// W_vu and W_o's own gradients, which autodiff has already written.
//
// Absorption is not always cheaper. The folded query weight is H R wide
// instead of H hd + the per-head R, and attention over latent values does
// R work per key and head instead of hd. This pass counts the multiply-adds
// of one call both ways (the folds themselves included: they run every call
// because the parameters may change between calls) and rewrites only where
// absorption is cheaper. The decision is written on the output projection's
// matmul either way, so the dumps show it:
//
//   ra.absorb = {absorbed = true, absorbed_macs = ..., kept_macs = ...,
//                weights = "W_q W_ql"}
//
//===----------------------------------------------------------------------===//
#include "ir/IRUtils.h"
#include "ir/RaDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace ra {
#define GEN_PASS_DEF_ABSORBLATENTWEIGHTS
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

using ra::shapeOf;
using Shape = std::vector<int64_t>;

bool isHeadSplit(ra::TransposeOp t) {
  return t && t.getPermutation() == ArrayRef<int64_t>{0, 2, 1, 3};
}

/// Builds the folded weights and the new products before an op, in its
/// element type; a transpose's result shape follows from its permutation.
struct Emitter {
  OpBuilder b;
  Location loc;
  Type elem;

  explicit Emitter(Operation *at)
      : b(at), loc(at->getLoc()),
        elem(at->getResult(0).getType().cast<ShapedType>().getElementType()) {}
  RankedTensorType type(ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, elem); }
  Value reshape(Value v, ArrayRef<int64_t> shape) {
    return b.create<ra::ReshapeOp>(loc, type(shape), v);
  }
  Value transpose(Value v, ArrayRef<int64_t> perm) {
    Shape in = shapeOf(v), out;
    for (int64_t p : perm)
      out.push_back(in[p]);
    return b.create<ra::TransposeOp>(loc, type(out), v, perm);
  }
  Value matmul(Value x, Value w, ArrayRef<int64_t> shape) {
    return b.create<ra::MatmulOp>(loc, type(shape), x, w);
  }
};

/// Training entry points write parameters or return their gradients.
bool isInference(func::FuncOp fn) {
  if (fn.walk([](ra::SetParamOp) { return WalkResult::interrupt(); }).wasInterrupted())
    return false;
  if (auto outputs = fn->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr))
    for (Attribute a : outputs)
      if (auto s = a.dyn_cast<StringAttr>(); s && s.getValue().startswith("grad."))
        return false;
  return true;
}

struct Decision {
  int64_t kept, absorbed;
  bool absorb() const { return absorbed < kept; }
};

void annotate(Operation *op, StringRef weights, const Decision &d) {
  Builder b(op->getContext());
  op->setAttr(ra::RaDialect::kAbsorbAttr,
              b.getDictionaryAttr({
                  b.getNamedAttr("weights", b.getStringAttr(weights)),
                  b.getNamedAttr("absorbed", b.getBoolAttr(d.absorb())),
                  b.getNamedAttr("kept_macs", b.getI64IntegerAttr(d.kept)),
                  b.getNamedAttr("absorbed_macs", b.getI64IntegerAttr(d.absorbed)),
              }));
}

struct AbsorbLatentWeights : ra::impl::AbsorbLatentWeightsBase<AbsorbLatentWeights> {
  llvm::SmallPtrSet<Operation *, 16> erased; // never dereferenced: erased ops are gone

  void erase(Operation *op) {
    erased.insert(op);
    op->erase();
  }
  void runOnOperation() override {
    erased.clear();
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (!isInference(fn))
        continue;
      for (ra::MatmulOp mm : ra::collectOps<ra::MatmulOp>(fn))
        if (!erased.contains(mm)) // a rewrite erases the projections it folds
          absorbQuery(mm) || absorbValue(mm);
    }
  }

  /// q_l = transpose(reshape(x W_q + b_q)) W_ql  ->  x W_qa + b_qa, split into heads.
  bool absorbQuery(ra::MatmulOp ql) {
    auto split = ql.getLhs().getDefiningOp<ra::TransposeOp>();
    if (!isHeadSplit(split) || ql.getTransposeLhs() || ql.getTransposeRhs() ||
        shapeOf(ql.getRhs()).size() != 3 || !split->hasOneUse())
      return false;
    auto heads = split.getInput().getDefiningOp<ra::ReshapeOp>();
    if (!heads || !heads->hasOneUse())
      return false;
    // x W_q, with or without a bias added.
    Value q = heads.getInput(), bias;
    auto add = q.getDefiningOp<ra::AddOp>();
    if (add && add->hasOneUse()) {
      for (auto [mm, bc] :
           {std::pair(add.getLhs(), add.getRhs()), std::pair(add.getRhs(), add.getLhs())})
        if (auto b = bc.getDefiningOp<ra::BroadcastOp>();
            b && shapeOf(b.getInput()).size() == 1 && mm.getDefiningOp<ra::MatmulOp>()) {
          bias = b.getInput();
          q = mm;
        }
      if (!bias)
        return false;
    }
    auto proj = q.getDefiningOp<ra::MatmulOp>();
    if (!proj || !proj->hasOneUse() || proj.getTransposeLhs() || proj.getTransposeRhs() ||
        shapeOf(proj.getRhs()).size() != 2)
      return false;
    Shape hs = shapeOf(heads), ws = shapeOf(ql.getRhs());
    if (hs.size() != 4 || ws[0] != hs[2] || ws[1] != hs[3] ||
        shapeOf(proj) != Shape{hs[0], hs[1], hs[2] * hs[3]})
      return false; // [B, T, H hd] split into [B, T, H, hd]
    int64_t h = hs[2], hd = hs[3], r = ws[2], d = shapeOf(proj.getRhs())[0];
    int64_t n = proj.getLhs().getType().cast<ShapedType>().getNumElements() / d; // tokens
    Decision dec{n * d * h * hd + n * h * hd * r, n * d * h * r + h * d * hd * r + h * hd * r};
    if (!dec.absorb()) {
      annotate(ql, "W_q W_ql", dec);
      return true;
    }
    Emitter e(ql);
    Value wql = ql.getRhs();
    // W_qa [D, H R]: per head, W_q's columns of that head times W_ql[h].
    Value wq = e.transpose(e.reshape(proj.getRhs(), {d, h, hd}), {1, 0, 2});
    Value wqa = e.reshape(e.transpose(e.matmul(wq, wql, {h, d, r}), {1, 0, 2}), {d, h * r});
    Value y = e.matmul(proj.getLhs(), wqa, {hs[0], hs[1], h * r});
    annotate(y.getDefiningOp(), "W_q W_ql", dec);
    if (bias) { // b_qa [H R] = b_q's slice of each head times W_ql[h]
      Value bqa = e.reshape(e.matmul(e.reshape(bias, {h, 1, hd}), wql, {h, 1, r}), {h * r});
      bqa = e.b.create<ra::BroadcastOp>(e.loc, y.getType(), bqa);
      y = e.b.create<ra::AddOp>(e.loc, y, bqa);
    }
    y = e.transpose(e.reshape(y, {hs[0], hs[1], h, r}), {0, 2, 1, 3});
    ql.getResult().replaceAllUsesWith(y);
    erase(ql);
    erase(split);
    erase(heads);
    if (add) {
      SmallVector<Operation *> spreads{add.getLhs().getDefiningOp(), add.getRhs().getDefiningOp()};
      erase(add);
      for (Operation *op : spreads)
        if (isa_and_nonnull<ra::BroadcastOp>(op) && op->use_empty())
          erase(op);
    }
    erase(proj);
    return true;
  }

  /// merge(attention(q, k, split(v_l W_vu))) W_o  ->  merge(attention(q, k, v_l)) W_vo.
  bool absorbValue(ra::MatmulOp out) {
    auto merge = out.getLhs().getDefiningOp<ra::ReshapeOp>();
    if (!merge || out.getTransposeLhs() || out.getTransposeRhs() || !merge->hasOneUse() ||
        shapeOf(out.getRhs()).size() != 2)
      return false;
    auto unsplit = merge.getInput().getDefiningOp<ra::TransposeOp>();
    if (!isHeadSplit(unsplit) || !unsplit->hasOneUse())
      return false;
    auto attn = unsplit.getInput().getDefiningOp<ra::AttentionOp>();
    if (!attn || !attn->hasOneUse())
      return false;
    auto split = attn.getV().getDefiningOp<ra::TransposeOp>();
    if (!isHeadSplit(split) || !split->hasOneUse())
      return false;
    auto heads = split.getInput().getDefiningOp<ra::ReshapeOp>();
    if (!heads || !heads->hasOneUse())
      return false;
    auto up = heads.getInput().getDefiningOp<ra::MatmulOp>();
    if (!up || !up->hasOneUse() || up.getTransposeLhs() || up.getTransposeRhs() ||
        shapeOf(up.getRhs()).size() != 2 || shapeOf(up.getLhs()).size() != 3)
      return false;
    Shape vs = shapeOf(attn.getV()), qs = shapeOf(attn.getQ());
    if (shapeOf(merge) != Shape{qs[0], qs[2], vs[1] * vs[3]} ||
        shapeOf(up) != Shape{vs[0], vs[2], vs[1] * vs[3]})
      return false; // [B, T, H, hd] merged into [B, T, H hd], and back
    int64_t h = vs[1], tk = vs[2], hd = vs[3], r = shapeOf(up.getRhs())[0];
    int64_t dOut = shapeOf(out.getRhs())[1], bt = qs[0] * qs[2];
    // Keys a query attends to, summed over queries (per batch entry and head).
    int64_t pairs = attn.getCausal() ? qs[2] * (qs[2] + 1) / 2 : qs[2] * tk;
    int64_t attended = qs[0] * h * pairs;
    Decision dec{qs[0] * tk * r * h * hd + attended * hd + bt * h * hd * dOut,
                 attended * r + bt * h * r * dOut + h * r * hd * dOut};
    if (!dec.absorb()) {
      annotate(out, "W_vu W_o", dec);
      return true;
    }
    Emitter e(out);
    // W_vo [H R, D]: per head, W_vu's columns of that head times W_o's rows of it.
    Value wvu = e.transpose(e.reshape(up.getRhs(), {r, h, hd}), {1, 0, 2});
    Value wo = e.reshape(out.getRhs(), {h, hd, dOut});
    Value wvo = e.reshape(e.matmul(wvu, wo, {h, r, dOut}), {h * r, dOut});
    // Attention over the latent values, shared by the heads.
    auto latent = e.b.create<ra::AttentionOp>(
        attn.getLoc(), e.type({qs[0], h, qs[2], r}), attn.getQ(), attn.getK(), up.getLhs(),
        attn.getReciprocalAlpha(), attn.getScaleAttr(), attn.getCausalAttr(), attn.getBandAttr());
    Value y = e.reshape(e.transpose(latent.getResult(), {0, 2, 1, 3}), {qs[0], qs[2], h * r});
    Value result = e.matmul(y, wvo, shapeOf(out));
    annotate(result.getDefiningOp(), "W_vu W_o", dec);
    out.getResult().replaceAllUsesWith(result);
    erase(out);
    erase(merge);
    erase(unsplit);
    erase(attn);
    erase(split);
    erase(heads);
    erase(up);
    return true;
  }
};

} // namespace

std::unique_ptr<Pass> ra::createAbsorbLatentWeightsPass() {
  return std::make_unique<AbsorbLatentWeights>();
}
