//===- DeriveDecoding.cpp - @prefill and @decode from @forward ------------===//
//
// A decoder produces one position per step and keeps, between steps, what
// later positions read of earlier ones. The inference-cache analysis
// (ir/analysis/InferenceCache.h) names that state; this pass derives the two
// entry points that use it, so that the analysis (racc stats) and the
// decoder cannot disagree (the pass checks that they count the same values):
//
//   @prefill(tokens [B, T], rows [B, 1]) -> logits [B, 1, V], cache.0 [.., T, ..], ...
//     @forward without its loss, returning every cached tensor at every
//     position (the runtime keeps the rows of each prompt) and the logits
//     of each sequence's last prompt position only: row rows[b] of the
//     [B T] positions, taken before the position-wise ops that end in the
//     logits (the final layernorm and the LM head).
//   @decode(tokens [B, 1], positions [B], block_table [B, M], cache.0, ...)
//       -> logits [B, 1, V], cache.0.new [.., 1, ..], ...
//     @forward at one position per sequence (sequence b's token is at
//     positions[b]): every op that works position by position is cloned with
//     its sequence axes of length 1, and the ops that combine positions read
//     the cache instead:
//       ra.attention     -> ra.cached_attention over cache.K / cache.V (rows
//                           before the position) and the new row;
//       ra.causal_mean   -> ra.running_mean over the running sum;
//       wpe[0:T]         -> the rows of wpe at the positions (an embedding).
//     It returns each cached tensor's new row, which the runtime stores.
//     Per-token caches are paged, as vLLM's PagedAttention: @decode reads
//     each as a pool [N, .., P, ..] of blocks of P positions shared by every
//     sequence, through block_table (sequence b's position j is row j mod P
//     of block block_table[b, j div P]); the runtime hands the blocks out.
//
// What is kept of an attention operand X is the analysis's narrowest form N
// of it, stored as the decoder reads it:
//   - X itself when only reshapes and transposes lead from N to X (the same
//     values per token: standard attention's K and V, MLA's k_l);
//   - the input of an up-projection by a weight when one lies between
//     (MLA's v_l before W_vu, [B, T, R]): attention runs over the latent
//     values shared by every head and the weight is applied per head after
//     it, softmax(S) (v_l W_vu[h]) = (softmax(S) v_l) W_vu[h]; for RA's
//     queries before W_ql, the new key meets the ring through W_ql^T:
//     (q_j W_ql[h]) . k = q_j . (k W_ql[h]^T).
// RA's queries are a ring of `band` positions when the band is shorter than
// the window, else kept per token.
//
// A model the analysis finds an obstacle in (an op that mixes positions
// other than causally) gets no decoding entry points; the module records why
// (`ra.decoding_refused`), and so does one whose form this pass does not
// follow, so that rarun refuses with the reason instead of recomputing.
//
//===----------------------------------------------------------------------===//
#include "ir/IRUtils.h"
#include "ir/RaDialect.h"
#include "ir/analysis/InferenceCache.h"
#include "ir/analysis/SequenceAxes.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/SetVector.h"

#include <set>

namespace ra {
#define GEN_PASS_DEF_DERIVEDECODING
#include "passes/Passes.h.inc"
} // namespace ra

using namespace mlir;

namespace {

using ra::shapeOf;
using Kind = ra::CachedTensor::Kind;

/// One tensor the decoder keeps: `stored` is its value in @forward (every
/// position, the sequence on `axis`).
struct CachePlan {
  Value stored;
  Kind kind = Kind::PerToken;
  std::string role, origin;
  int64_t axis = 1;
  int64_t slots = 0;    // positions kept: T, the ring's band, or 1 (a sum)
  int64_t elements = 0; // values per position
};

/// How an attention operand is read back: from cache `cache`, as the
/// operand itself or as the input of `upProjection`.
struct OperandPlan {
  int cache = -1;
  ra::MatmulOp upProjection;
};

/// A reason not to derive, carried to the module attribute.
struct Refusal {
  std::string why;
};

/// How @decode's per-token caches are paged.
struct Paging {
  int64_t blockPositions = 128; // as asked: at most the window is used
  int64_t cacheBlocks = 0;      // 0: every sequence's whole window
  std::string dtype = "f32";    // of the kept keys, values and queries
};

class Deriver {
public:
  Deriver(ModuleOp module, func::FuncOp forward, Paging paging)
      : module(module), forward(forward), paging(paging) {}

  /// Adds @prefill and @decode, or returns why not.
  std::optional<Refusal> derive();

private:
  std::optional<Refusal> plan();
  std::optional<Refusal> planOperand(Value x, int64_t tokens, StringRef role, Operation *origin,
                                     OperandPlan &out);
  int addCache(CachePlan p);
  void buildPrefill();
  bool positionwise(Operation *op, Value &data);
  std::optional<Refusal> buildDecode();
  Value decodeAttention(OpBuilder &b, ra::AttentionOp a);
  RankedTensorType rowType(Value old);
  Value mapped(Value old) { return map.lookup(old); }

  ModuleOp module;
  func::FuncOp forward;
  Paging paging;
  llvm::DenseMap<Value, ra::SeqInfo> seq;
  int64_t batch = 0, tokensPerSequence = 0;
  Value logits;
  std::vector<CachePlan> caches;
  llvm::DenseMap<Operation *, std::array<OperandPlan, 3>> attentionPlans; // K, V, Q (RA)
  llvm::DenseMap<Operation *, int> meanPlans;
  // @decode under construction.
  IRMapping map;
  Value positions, blockTable;
  int64_t blockPositions = 0, blocksPerSequence = 0, poolBlocks = 0;
  std::vector<Value> cacheArgs;
};

std::string where(Operation *op) { return ra::sourceLocation(op); }

int Deriver::addCache(CachePlan p) {
  for (auto [i, c] : llvm::enumerate(caches))
    if (c.stored == p.stored)
      return int(i);
  caches.push_back(std::move(p));
  return int(caches.size()) - 1;
}

/// The single sequence axis of a value, or -1.
int64_t singleAxis(const ra::SeqInfo &info) {
  return info.data && info.tracked && info.axes.size() == 1 ? *info.axes.begin() : -1;
}

std::optional<Refusal> Deriver::planOperand(Value x, int64_t tokens, StringRef role,
                                            Operation *origin, OperandPlan &out) {
  Value narrow = ra::narrowestCachedForm(x, tokens);
  // The ops from the narrowest form to the operand, operand first.
  SmallVector<Operation *> path;
  for (Value v = x; v != narrow;) {
    Operation *def = v.getDefiningOp();
    path.push_back(def);
    v = def->getOperand(0);
  }
  auto matmul = llvm::find_if(path, [](Operation *op) { return isa<ra::MatmulOp>(op); });
  Value stored = x;
  if (matmul != path.end()) {
    auto m = cast<ra::MatmulOp>(*matmul);
    if (std::count_if(path.begin(), path.end(),
                      [](Operation *op) { return isa<ra::MatmulOp>(op); }) > 1)
      return Refusal{where(origin) + ": the attention's " + role.str() +
                     " are up-projected twice; decoding folds one projection"};
    auto w = shapeOf(m.getRhs());
    if (role == "values") {
      // X = heads(v_l W): transpose(reshape(matmul)) with a 2-D weight.
      auto t = path.size() == 3 ? dyn_cast<ra::TransposeOp>(path[0]) : ra::TransposeOp();
      if (!t || t.getPermutation() != ArrayRef<int64_t>{0, 2, 1, 3} ||
          !isa<ra::ReshapeOp>(path[1]) || w.size() != 2 || shapeOf(m.getLhs()).size() != 3 ||
          m.getTransposeRhs())
        return Refusal{where(origin) +
                       ": decoding folds an up-projection of the values only as heads(v W)"};
    } else if (role == "queries") {
      // X = q W, W per head [H, hd, R] or shared [hd, R].
      if (matmul != path.begin() || m.getTransposeRhs() || (w.size() != 2 && w.size() != 3))
        return Refusal{where(origin) +
                       ": decoding folds an up-projection of RA's queries only as q W"};
    } else {
      return Refusal{where(origin) + ": decoding does not fold an up-projection of the keys"};
    }
    stored = m.getLhs();
    out.upProjection = m;
  }
  int64_t axis = singleAxis(seq.lookup(stored));
  if (axis <= 0)
    return Refusal{where(origin) + ": the attention's " + role.str() +
                   " do not run over one sequence axis"};
  CachePlan p;
  p.stored = stored;
  p.role = role.str();
  p.origin = where(origin);
  p.axis = axis;
  p.slots = shapeOf(stored)[axis];
  p.elements = stored.getType().cast<ShapedType>().getNumElements() / (batch * p.slots);
  out.cache = addCache(p);
  // Queries an earlier attention keeps in a ring are this one's keys or
  // values: every position is kept after all.
  CachePlan &kept = caches[out.cache];
  if (role != "queries" && kept.kind == Kind::QueryRing) {
    kept.kind = Kind::PerToken;
    kept.slots = p.slots;
    kept.role = p.role;
  }
  return std::nullopt;
}

std::optional<Refusal> Deriver::plan() {
  ra::InferenceCache analysis = ra::analyzeInferenceCache(forward);
  if (!analysis.obstacles.empty())
    return Refusal{analysis.obstacles.front()};
  seq = ra::inferSequenceAxes(forward);
  auto names = forward->getAttrOfType<ArrayAttr>(ra::RaDialect::kOutputsAttr);
  auto ret = cast<func::ReturnOp>(forward.getBody().front().getTerminator());
  for (auto [i, v] : llvm::enumerate(ret.getOperands()))
    if (names && names[i].cast<StringAttr>().getValue() == "logits")
      logits = v;
  if (!logits)
    return Refusal{"@forward has no output named 'logits' to decode from"};
  // The inputs the logits read: token ids [B, T].
  for (BlockArgument arg : forward.getArguments()) {
    auto shape = shapeOf(arg);
    if (shape.size() != 2 || !arg.getType().cast<ShapedType>().getElementType().isInteger(32))
      return Refusal{"@forward's inputs must be token ids [batch, seq] to derive decoding"};
    batch = shape[0];
    tokensPerSequence = shape[1];
  }
  if (tokensPerSequence < 2)
    return Refusal{"a sequence of one position has nothing to cache"};
  auto logitsShape = shapeOf(logits);
  if (logitsShape.size() != 3 || logitsShape[0] != batch || logitsShape[1] != tokensPerSequence)
    return Refusal{"@forward's logits must be [batch, seq, vocab] to decode from"};

  std::optional<Refusal> refused;
  forward.walk([&](Operation *op) {
    if (refused)
      return;
    if (auto a = dyn_cast<ra::AttentionOp>(op)) {
      auto q = shapeOf(a.getQ());
      int64_t keys = shapeOf(a.getK()).end()[-2];
      std::array<OperandPlan, 3> plans;
      refused = planOperand(a.getK(), q[0] * keys, "keys", op, plans[0]);
      if (!refused)
        refused = planOperand(a.getV(), q[0] * keys, "values", op, plans[1]);
      if (!refused && a.getReciprocalAlpha()) {
        size_t before = caches.size();
        refused = planOperand(a.getQ(), q[0] * q[2], "queries", op, plans[2]);
        if (!refused) {
          // A band shorter than the window keeps a ring (the longest band
          // of the attentions that share it), unless the queries are also
          // kept per token: as another attention's keys or values, or as
          // queries without a band.
          CachePlan &kept = caches[plans[2].cache];
          int64_t band = a.getBandOrAll();
          bool ring = band >= 0 && band < keys - 1;
          if (ring && caches.size() > before) {
            kept.kind = Kind::QueryRing;
            kept.slots = band;
          } else if (ring && kept.kind == Kind::QueryRing) {
            kept.slots = std::max(kept.slots, band);
          } else if (!ring && kept.kind == Kind::QueryRing) {
            kept.kind = Kind::PerToken;
            kept.slots = keys;
          }
        }
      }
      attentionPlans[op] = plans;
    } else if (auto mean = dyn_cast<ra::CausalMeanOp>(op)) {
      CachePlan p;
      p.stored = mean.getInput();
      p.kind = Kind::RunningSum;
      p.role = "running sum";
      p.origin = where(op);
      p.axis = mean.getAxis();
      int64_t n = shapeOf(p.stored)[p.axis];
      p.slots = 1;
      p.elements = p.stored.getType().cast<ShapedType>().getNumElements() / (batch * n);
      if (singleAxis(seq.lookup(p.stored)) != p.axis)
        refused = Refusal{where(op) + ": the causal mean does not run over the sequence axis"};
      meanPlans[op] = addCache(p);
    }
  });
  if (refused)
    return refused;
  // The analysis and the decoder must keep the same values.
  int64_t perToken = 0, perSequence = 0;
  for (const CachePlan &c : caches) {
    if (c.kind == Kind::PerToken)
      perToken += c.elements;
    else
      perSequence += c.elements * c.slots;
  }
  if (perToken != analysis.elementsPerToken || perSequence != analysis.elementsPerSequence)
    return Refusal{"derive-decoding would keep " + std::to_string(perToken) +
                   " values per token and " + std::to_string(perSequence) +
                   " per sequence, the inference-cache analysis counts " +
                   std::to_string(analysis.elementsPerToken) + " and " +
                   std::to_string(analysis.elementsPerSequence)};
  return std::nullopt;
}

/// Whether `op` computes each position of its one result from the same
/// position of its one operand that depends on the tokens (its others are
/// weights): a final layernorm, the LM head's matmul, a bias, a unary.
bool Deriver::positionwise(Operation *op, Value &data) {
  if (op->getNumResults() != 1 || !seq[op->getResult(0)].data)
    return false;
  data = {};
  for (Value v : op->getOperands())
    if (seq[v].data) {
      if (data)
        return false;
      data = v;
    }
  if (!data || seq[data].axes != std::set<int64_t>{1} ||
      seq[op->getResult(0)].axes != std::set<int64_t>{1})
    return false;
  if (auto mm = dyn_cast<ra::MatmulOp>(op))
    return mm.getLhs() == data && !mm.getTransposeLhs();
  return isa<ra::LayerNormOp>(op) || ra::isElementwiseOp(op);
}

void Deriver::buildPrefill() {
  IRMapping m;
  auto prefill = cast<func::FuncOp>(forward->clone(m));
  prefill.setName("prefill");
  module.push_back(prefill);
  Block &body = prefill.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  OpBuilder b(ret);
  // Logits at each sequence's last prompt position only (of a vocabulary of
  // 50,257, the whole window's are as much work as the rest of the model):
  // the position-wise ops that end in the logits run on the rows
  // `rows[b]` of the value before them, flattened to [B T, D].
  SmallVector<Operation *> head;
  Value cut = logits, data;
  while (Operation *def = cut.getDefiningOp()) {
    if (!positionwise(def, data))
      break;
    head.push_back(def);
    cut = data;
  }
  auto cutShape = shapeOf(cut);
  if (cutShape.size() != 3 || cutShape[0] != batch || cutShape[1] != tokensPerSequence) {
    cut = logits; // [B, T, V], as plan() checked
    cutShape = shapeOf(cut);
    head.clear();
  }
  prefill.insertArgument(prefill.getNumArguments(),
                         RankedTensorType::get({batch, 1}, b.getI32Type()), DictionaryAttr(),
                         forward.getLoc());
  BlockArgument rows = body.getArguments().back();
  Value flat = b.create<ra::ReshapeOp>(
      forward.getLoc(),
      RankedTensorType::get({batch * cutShape[1], cutShape[2]},
                            cut.getType().cast<ShapedType>().getElementType()),
      m.lookup(cut));
  IRMapping last = m;
  last.map(cut, b.create<ra::EmbeddingOp>(forward.getLoc(), flat, rows));
  for (Operation *op : llvm::reverse(head)) {
    Operation *clone = b.clone(*op, last);
    clone->getResult(0).setType(rowType(op->getResult(0)));
  }
  SmallVector<Value> results{last.lookup(logits)};
  SmallVector<Attribute> outputs{b.getStringAttr("logits")};
  for (auto [i, c] : llvm::enumerate(caches)) {
    results.push_back(m.lookup(c.stored));
    outputs.push_back(b.getStringAttr("cache." + std::to_string(i)));
  }
  b.create<func::ReturnOp>(ret.getLoc(), results);
  ret.erase();
  // Drop the loss, the whole window's logits and whatever only they read.
  for (Operation *op = body.getTerminator()->getPrevNode(); op;) {
    Operation *before = op->getPrevNode();
    if (op->use_empty())
      op->erase();
    op = before;
  }
  auto inputNames = forward->getAttrOfType<ArrayAttr>(ra::RaDialect::kInputsAttr);
  SmallVector<Attribute> inputs;
  llvm::BitVector unused(prefill.getNumArguments());
  for (BlockArgument arg : prefill.getArguments()) {
    if (arg == rows)
      inputs.push_back(b.getStringAttr("rows"));
    else if (arg.use_empty())
      unused.set(arg.getArgNumber());
    else
      inputs.push_back(inputNames ? inputNames[arg.getArgNumber()] : b.getStringAttr("tokens"));
  }
  prefill.eraseArguments(unused);
  prefill.setType(FunctionType::get(module.getContext(), prefill.getArgumentTypes(),
                                    ValueRange(results).getTypes()));
  prefill->setAttr(ra::RaDialect::kInputsAttr, b.getArrayAttr(inputs));
  prefill->setAttr(ra::RaDialect::kOutputsAttr, b.getArrayAttr(outputs));
}

/// `old`'s type with `axes` of length 1.
RankedTensorType atOnePosition(Value old, const std::set<int64_t> &axes) {
  auto shape = shapeOf(old);
  for (int64_t a : axes)
    shape[a] = 1;
  return RankedTensorType::get(shape, old.getType().cast<ShapedType>().getElementType());
}

/// The old value's type at one position: its sequence axes of length 1.
RankedTensorType Deriver::rowType(Value old) {
  const ra::SeqInfo &info = seq[old];
  return info.data ? atOnePosition(old, info.axes) : old.getType().cast<RankedTensorType>();
}

Value Deriver::decodeAttention(OpBuilder &b, ra::AttentionOp a) {
  Location loc = a.getLoc();
  const auto &plans = attentionPlans.lookup(a);
  auto elem = a.getType().cast<ShapedType>().getElementType();
  auto type = [&](ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, elem); };
  auto past = [&](const OperandPlan &p) { return cacheArgs[p.cache]; };
  auto fresh = [&](const OperandPlan &p) { return mapped(caches[p.cache].stored); };
  Value q = mapped(a.getQ());
  auto qs = shapeOf(q);
  int64_t heads = qs[1];
  Value kNew = fresh(plans[0]);
  Value alpha, qPast, kRecip;
  if (Value oldAlpha = a.getReciprocalAlpha()) {
    alpha = mapped(oldAlpha);
    qPast = past(plans[2]);
    // The new key as the kept queries meet it, per head.
    Value k = kNew;
    auto ks = shapeOf(k);
    if (ks.size() == 3)
      k = b.create<ra::ReshapeOp>(loc, type({ks[0], 1, 1, ks[2]}), k);
    if (ra::MatmulOp up = plans[2].upProjection)
      k = b.create<ra::MatmulOp>(loc, k, mapped(up.getRhs()), false, true);
    auto kr = shapeOf(k);
    if (kr[1] != heads)
      k = b.create<ra::BroadcastOp>(loc, type({kr[0], heads, 1, kr[3]}), k);
    kRecip = k;
  }
  Value vPast = past(plans[1]), vNew = fresh(plans[1]);
  int64_t dv = shapeOf(vNew).back();
  bool pagedQueries = qPast && caches[plans[2].cache].kind == Kind::PerToken;
  auto attention = b.create<ra::CachedAttentionOp>(
      loc, type({qs[0], heads, 1, dv}), q, past(plans[0]), kNew, vPast, vNew, positions, alpha,
      qPast, kRecip, blockTable, a.getScaleAttr(), a.getBandAttr(),
      pagedQueries ? b.getUnitAttr() : UnitAttr());
  ra::MatmulOp up = plans[1].upProjection;
  if (!up)
    return attention;
  // (softmax(S) v_l) W[h]: W [R, H hd] as [H, R, hd].
  Value w = mapped(up.getRhs());
  auto ws = shapeOf(w);
  int64_t hd = ws[1] / heads;
  Value perHead = b.create<ra::ReshapeOp>(loc, type({ws[0], heads, hd}), w);
  perHead = b.create<ra::TransposeOp>(loc, perHead, ArrayRef<int64_t>{1, 0, 2});
  return b.create<ra::MatmulOp>(loc, attention, perHead, false, false);
}

std::optional<Refusal> Deriver::buildDecode() {
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  auto i32 = b.getI32Type();
  // Paging: blocks of P positions, M per sequence, a pool of N.
  blockPositions = std::min(paging.blockPositions, tokensPerSequence);
  if (blockPositions < 1 || paging.cacheBlocks < 0)
    return Refusal{"derive-decoding: block-positions must be >= 1 and cache-blocks >= 0"};
  blocksPerSequence = (tokensPerSequence + blockPositions - 1) / blockPositions;
  Type keptType = paging.dtype == "f16"    ? Type(b.getF16Type())
                  : paging.dtype == "bf16" ? Type(b.getBF16Type())
                  : paging.dtype == "f32"  ? Type(b.getF32Type())
                                           : Type();
  if (!keptType)
    return Refusal{"derive-decoding: cache-dtype must be f32, f16 or bf16, got " + paging.dtype};
  poolBlocks = paging.cacheBlocks > 0 ? paging.cacheBlocks : batch * blocksPerSequence;
  // Inputs: the new tokens, their positions, the block table, then every
  // cache: a per-token one as a pool [N, .., P, ..].
  SmallVector<Type> argTypes{RankedTensorType::get({batch, 1}, i32),
                             RankedTensorType::get({batch}, i32),
                             RankedTensorType::get({batch, blocksPerSequence}, i32)};
  SmallVector<Attribute> inputs{b.getStringAttr("tokens"), b.getStringAttr("positions"),
                                b.getStringAttr("block_table")};
  for (auto [i, c] : llvm::enumerate(caches)) {
    auto shape = shapeOf(c.stored);
    shape[c.axis] = c.slots;
    if (c.kind == Kind::PerToken) {
      shape[0] = poolBlocks;
      shape[c.axis] = blockPositions;
    }
    // Sums are added to at every step: float32 whatever the cache's type.
    argTypes.push_back(RankedTensorType::get(
        shape, c.kind == Kind::RunningSum ? c.stored.getType().cast<ShapedType>().getElementType()
                                          : keptType));
    inputs.push_back(b.getStringAttr("cache." + std::to_string(i)));
  }
  auto decode =
      func::FuncOp::create(forward.getLoc(), "decode", FunctionType::get(ctx, argTypes, {}));
  Block *body = decode.addEntryBlock();
  b.setInsertionPointToEnd(body);
  positions = body->getArgument(1);
  blockTable = body->getArgument(2);
  for (size_t i = 0; i < caches.size(); ++i)
    cacheArgs.push_back(body->getArgument(3 + i));
  for (BlockArgument arg : forward.getArguments())
    map.map(arg, body->getArgument(0));

  // The ops the logits and the caches' rows need, in program order.
  llvm::SetVector<Operation *> needed;
  SmallVector<Value> work{logits};
  for (const CachePlan &c : caches)
    work.push_back(c.stored);
  while (!work.empty()) {
    Operation *def = work.pop_back_val().getDefiningOp();
    if (def && needed.insert(def))
      work.append(def->operand_begin(), def->operand_end());
  }
  // Values that do not depend on the tokens but meet ones that do, with
  // the sequence axes they meet them on: broadcast biases and splats are cut
  // to one position, position tables read at the positions.
  llvm::DenseMap<Value, std::set<int64_t>> demand;
  for (Operation *op : needed) {
    if (op->getNumResults() != 1 || !seq[op->getResult(0)].data)
      continue;
    size_t rank = shapeOf(op->getResult(0)).size();
    for (Value v : op->getOperands())
      if (!seq[v].data && isa<RankedTensorType>(v.getType()) && shapeOf(v).size() == rank)
        demand[v].insert(seq[op->getResult(0)].axes.begin(), seq[op->getResult(0)].axes.end());
  }
  for (Operation &op : forward.getBody().front().without_terminator()) {
    if (!needed.contains(&op))
      continue;
    Location loc = op.getLoc();
    if (auto a = dyn_cast<ra::AttentionOp>(op)) {
      map.map(a.getResult(), decodeAttention(b, a));
      continue;
    }
    if (auto mean = dyn_cast<ra::CausalMeanOp>(op)) {
      Value sum = cacheArgs[meanPlans.lookup(&op)];
      Value x = mapped(mean.getInput());
      map.map(mean.getResult(),
              b.create<ra::RunningMeanOp>(loc, x.getType(), sum, x, positions, mean.getAxisAttr()));
      continue;
    }
    auto it = op.getNumResults() == 1 ? demand.find(op.getResult(0)) : demand.end();
    if (it != demand.end() && !it->second.empty()) {
      Value old = op.getResult(0);
      RankedTensorType type = atOnePosition(old, it->second);
      std::vector<int64_t> shape = type.getShape().vec();
      if (isa<ra::ConstantOp>(op)) {
        Operation *clone = b.clone(op, map);
        clone->getResult(0).setType(type);
        continue;
      }
      auto bc = dyn_cast<ra::BroadcastOp>(op);
      if (!bc)
        return Refusal{where(&op) + ": a tensor over the positions that decoding does not follow"};
      auto in = shapeOf(bc.getInput());
      int64_t shift = int64_t(shape.size() - in.size());
      bool alongPositions =
          llvm::any_of(it->second, [&](int64_t a) { return a >= shift && in[a - shift] != 1; });
      if (!alongPositions) {
        // A bias or a splat: broadcast to one position.
        map.map(old, b.create<ra::BroadcastOp>(loc, type, mapped(bc.getInput())));
        continue;
      }
      // A table's first T rows added at positions 0..T-1: its rows at the positions.
      Value table = bc.getInput();
      if (auto slice = table.getDefiningOp<ra::SliceOp>();
          slice && slice.getAxis() == 0 && slice.getStart() == 0)
        table = slice.getInput();
      if (!table.getDefiningOp<ra::GetParamOp>() || shapeOf(table).size() != 2 || in.size() != 2 ||
          in[0] != tokensPerSequence || shape.size() != 3 || it->second != std::set<int64_t>{1} ||
          shape != std::vector<int64_t>{batch, 1, in[1]})
        return Refusal{where(&op) + ": a position table used in a way decoding does not follow"};
      Value ids = b.create<ra::ReshapeOp>(loc, RankedTensorType::get({batch, 1}, i32), positions);
      map.map(old, b.create<ra::EmbeddingOp>(loc, mapped(table), ids));
      continue;
    }
    Operation *clone = b.clone(op, map);
    for (auto [old, now] : llvm::zip(op.getResults(), clone->getResults()))
      now.setType(rowType(old));
  }
  SmallVector<Value> results{mapped(logits)};
  SmallVector<Attribute> outputs{b.getStringAttr("logits")};
  SmallVector<Attribute> cacheInfo;
  for (auto [i, c] : llvm::enumerate(caches)) {
    results.push_back(mapped(c.stored));
    outputs.push_back(b.getStringAttr("cache." + std::to_string(i) + ".new"));
    cacheInfo.push_back(b.getDictionaryAttr({
        b.getNamedAttr("name", b.getStringAttr("cache." + std::to_string(i))),
        b.getNamedAttr("kind", b.getStringAttr(ra::kindName(c.kind))),
        b.getNamedAttr("role", b.getStringAttr(c.role)),
        b.getNamedAttr("origin", b.getStringAttr(c.origin)),
        b.getNamedAttr("axis", b.getI64IntegerAttr(c.axis)),
        b.getNamedAttr("slots", b.getI64IntegerAttr(c.slots)),
        b.getNamedAttr("elements", b.getI64IntegerAttr(c.elements)),
    }));
  }
  b.create<func::ReturnOp>(forward.getLoc(), results);
  decode.setType(FunctionType::get(ctx, argTypes, ValueRange(results).getTypes()));
  decode->setAttr(ra::RaDialect::kInputsAttr, b.getArrayAttr(inputs));
  decode->setAttr(ra::RaDialect::kOutputsAttr, b.getArrayAttr(outputs));
  decode->setAttr(ra::RaDialect::kCachesAttr, b.getArrayAttr(cacheInfo));
  decode->setAttr(ra::RaDialect::kPagingAttr,
                  b.getDictionaryAttr({
                      b.getNamedAttr("block_positions", b.getI64IntegerAttr(blockPositions)),
                      b.getNamedAttr("blocks", b.getI64IntegerAttr(poolBlocks)),
                  }));
  // A form this derivation got wrong is refused whole, with the verifier's words.
  module.push_back(decode);
  std::string diagnostics;
  {
    ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &d) {
      if (diagnostics.empty())
        diagnostics = d.str();
      return success();
    });
    if (failed(verify(decode))) {
      decode.erase();
      return Refusal{"derive-decoding built an invalid @decode: " + diagnostics};
    }
  }
  return std::nullopt;
}

std::optional<Refusal> Deriver::derive() {
  if (auto refused = plan())
    return refused;
  if (auto refused = buildDecode())
    return refused;
  buildPrefill();
  return std::nullopt;
}

struct DeriveDecodingPass : ra::impl::DeriveDecodingBase<DeriveDecodingPass> {
  DeriveDecodingPass() = default;
  DeriveDecodingPass(int64_t positions, int64_t blocks, const std::string &dtype) {
    blockPositions = positions;
    cacheBlocks = blocks;
    cacheDtype = dtype;
  }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward || module.lookupSymbol("decode"))
      return;
    module->removeAttr(ra::RaDialect::kDecodingRefusedAttr);
    if (auto refused = Deriver(module, forward, {blockPositions, cacheBlocks, cacheDtype}).derive())
      module->setAttr(ra::RaDialect::kDecodingRefusedAttr,
                      StringAttr::get(module.getContext(), refused->why));
  }
};

} // namespace

std::unique_ptr<Pass> ra::createDeriveDecodingPass() {
  return std::make_unique<DeriveDecodingPass>();
}

std::unique_ptr<Pass> ra::createDeriveDecodingPass(int64_t blockPositions, int64_t cacheBlocks,
                                                   const std::string &cacheDtype) {
  return std::make_unique<DeriveDecodingPass>(blockPositions, cacheBlocks, cacheDtype);
}
