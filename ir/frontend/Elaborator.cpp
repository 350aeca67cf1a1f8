//===- Elaborator.cpp - runs a parsed .graph program into ra ops ----------===//
//
// The program runs once at compile time. Functions are expanded at each call
// (the IR is flat; the call path survives in CallSiteLoc locations and in
// parameter names), loops unroll, `if` picks a branch. The first error stops
// elaboration.
//
//===----------------------------------------------------------------------===//
#include "ir/frontend/Elaborator.h"
#include "abi/Init.h"
#include "ir/Shapes.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace mlir;

namespace ra::graph {

std::string formatNumber(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

const char *describe(const Val &v) {
  switch (v.kind) {
  case Val::Kind::None:
    return "none";
  case Val::Kind::Int:
    return "an integer";
  case Val::Kind::Float:
    return "a number";
  case Val::Kind::Tensor:
    return "a tensor";
  case Val::Kind::List:
    return "a list";
  case Val::Kind::Tuple:
    return "several values";
  }
  return "a value";
}

Elaborator::Elaborator(MLIRContext &ctx, std::vector<SourceFile> &files,
                       std::vector<Module> &modules, const FrontendOptions &options)
    : ctx(ctx), files(files), modules(modules), options(options), body(&ctx), params(&ctx) {}

Location Elaborator::loc(SrcLoc at) {
  Location l = FileLineColLoc::get(&ctx, files[at.file].path, at.line, at.col);
  if (!frames.empty() && frames.back().callSite)
    return CallSiteLoc::get(l, *frames.back().callSite);
  return l;
}

LogicalResult Elaborator::error(SrcLoc at, const Twine &message) {
  emitError(loc(at)) << message;
  return failure();
}

//===----------------------------------------------------------------------===//
// Helpers shared with the builtins
//===----------------------------------------------------------------------===//

FailureOr<RankedTensorType> Elaborator::tensorType(SrcLoc at, ArrayRef<int64_t> shape,
                                                   Type elementType) {
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] <= 0)
      return error(at, "dimension " + Twine(i) + " of shape " + formatShape(shape) +
                           " is not positive");
  auto n = checkedNumElements(shape);
  if (!n || *n > kMaxTensorElements)
    return error(at, "shape " + formatShape(shape) + " is too large (more than 2^36 elements)");
  return RankedTensorType::get(shape, elementType);
}

FailureOr<Value> Elaborator::tensorArg(SrcLoc at, const Val &v, const Twine &what, bool allowInt) {
  if (!v.isTensor())
    return error(at, what + " must be a tensor, got " + describe(v));
  auto type = v.tensor.getType().cast<RankedTensorType>();
  if (!allowInt && !type.getElementType().isF32())
    return error(at, what + " must be a float tensor, got an i32 tensor " +
                         formatShape(type.getShape()));
  return v.tensor;
}

FailureOr<int64_t> Elaborator::intArg(SrcLoc at, const Val &v, const Twine &what) {
  if (v.kind != Val::Kind::Int)
    return error(at, what + " must be an integer, got " + describe(v));
  return v.i;
}

FailureOr<double> Elaborator::numberArg(SrcLoc at, const Val &v, const Twine &what) {
  if (!v.isNumber())
    return error(at, what + " must be a number, got " + describe(v));
  return v.asDouble();
}

FailureOr<SmallVector<int64_t>> Elaborator::shapeArg(SrcLoc at, const Val &v, const Twine &what) {
  if (v.kind != Val::Kind::List)
    return error(at, what + " must be a list of integers like [a, b], got " + describe(v));
  SmallVector<int64_t> shape;
  for (const Val &item : v.items) {
    if (item.kind != Val::Kind::Int)
      return error(at, what + " must contain only integers, found " + describe(item));
    shape.push_back(item.i);
  }
  return shape;
}

FailureOr<int64_t> Elaborator::axisArg(SrcLoc at, const Val &v, int64_t rank) {
  auto axis = intArg(at, v, "the axis");
  if (failed(axis))
    return failure();
  int64_t a = *axis < 0 ? *axis + rank : *axis;
  if (a < 0 || a >= rank)
    return error(at,
                 "axis " + Twine(*axis) + " is out of range for a tensor of rank " + Twine(rank));
  return a;
}

FailureOr<Value> Elaborator::finishOp(SrcLoc at, OperationState &state) {
  for (Type t : state.types) {
    auto shaped = t.cast<ShapedType>();
    auto n = checkedNumElements(shaped.getShape());
    if (!n || *n > kMaxTensorElements)
      return error(at, "the result " + formatShape(shaped.getShape()) +
                           " is too large (more than 2^36 elements)");
  }
  // Configs and input shapes are evaluated before @forward exists.
  if (!body.getInsertionBlock())
    return error(at, "configs and input shapes are numbers; tensors cannot be computed here");
  if (++opCount > kMaxOps)
    return error(at, "the model expands to more than " + Twine(kMaxOps) +
                         " ops; is a loop bound or a recursion wrong?");
  Operation *op = body.create(state);
  if (failed(mlir::verify(op))) {
    op->erase();
    return failure();
  }
  // An identity (a whole-axis slice, a broadcast to the same shape, ...)
  // folds to its input, and the op goes.
  SmallVector<Attribute> noConstants(op->getNumOperands());
  SmallVector<OpFoldResult> folded;
  if (succeeded(op->fold(noConstants, folded)) && folded.size() == 1)
    if (Value v = folded[0].dyn_cast<Value>(); v && v != op->getResult(0)) {
      op->erase();
      return v;
    }
  return op->getResult(0);
}

FailureOr<Value> Elaborator::broadcastTo(SrcLoc at, Value v, ArrayRef<int64_t> shape) {
  auto type = v.getType().cast<RankedTensorType>();
  if (!isBroadcastableTo(type.getShape(), shape))
    return error(at,
                 "cannot broadcast " + formatShape(type.getShape()) + " to " + formatShape(shape));
  auto target = tensorType(at, shape, type.getElementType());
  if (failed(target))
    return failure();
  return create<BroadcastOp>(at, *target, v);
}

FailureOr<std::pair<Value, Value>> Elaborator::broadcastPair(SrcLoc at, Value a, Value b) {
  auto sa = a.getType().cast<RankedTensorType>().getShape();
  auto sb = b.getType().cast<RankedTensorType>().getShape();
  auto shape = broadcastShapes(sa, sb);
  if (!shape)
    return error(at, "shapes " + formatShape(sa) + " and " + formatShape(sb) +
                         " do not broadcast (trailing dimensions must be equal or 1)");
  auto ba = broadcastTo(at, a, *shape);
  if (failed(ba))
    return failure();
  auto bb = broadcastTo(at, b, *shape);
  if (failed(bb))
    return failure();
  return std::make_pair(*ba, *bb);
}

FailureOr<Value> Elaborator::constant(SrcLoc at, double value, RankedTensorType type) {
  if (!std::isfinite(value))
    return error(at, "the constant " + formatNumber(value) + " is not finite");
  return create<ConstantOp>(at, type, value);
}

//===----------------------------------------------------------------------===//
// Program structure
//===----------------------------------------------------------------------===//

OwningOpRef<ModuleOp> Elaborator::run() {
  const Module &main = modules.back();
  module = ModuleOp::create(FileLineColLoc::get(&ctx, files[main.file].path, 1, 1));
  if (failed(collectFunctions()) || failed(evaluateConfigs()))
    return nullptr;

  OpBuilder top(&ctx);
  top.setInsertionPointToEnd(module->getBody());
  auto func =
      top.create<func::FuncOp>(module->getLoc(), "forward", FunctionType::get(&ctx, {}, {}));
  params.setInsertionPoint(func);
  frames.push_back(Frame{});
  frames.back().topLevel = true;
  if (failed(declareInputs(func)))
    return nullptr;
  body.setInsertionPointToEnd(&func.getBody().front());

  for (const auto &s : main.statements) {
    if (s->kind == StmtKind::Config || s->kind == StmtKind::Input)
      continue;
    if (failed(exec(*s)))
      return nullptr;
    if (frames.back().returned)
      break;
  }
  if (failed(finish(func)))
    return nullptr;
  return std::move(module);
}

LogicalResult Elaborator::collectFunctions() {
  for (const Module &m : modules) {
    for (const auto &fn : m.functions) {
      if (auto it = functions.find(fn->name); it != functions.end()) {
        auto diag = emitError(loc(fn->loc)) << "function '" << fn->name << "' is defined twice";
        diag.attachNote(loc(it->second->loc)) << "first definition";
        return failure();
      }
      if (llvm::is_contained(builtinNames(), fn->name))
        return error(fn->loc,
                     "function '" + fn->name + "' has the name of a builtin; choose another name");
      functions[fn->name] = fn.get();
    }
    if (&m == &modules.back())
      continue;
    for (const auto &s : m.statements)
      if (s->kind != StmtKind::Config)
        return error(s->loc, "an imported file may only hold 'config', 'fn' and 'import'; "
                             "model code belongs in the file that is compiled");
  }
  return success();
}

/// Parses a `-D` value: an integer or a float literal.
static std::optional<Val> parseDefine(StringRef text) {
  int64_t i;
  if (!text.getAsInteger(10, i))
    return Val::ofInt(i);
  double d;
  if (!text.getAsDouble(d) && std::isfinite(d))
    return Val::ofFloat(d);
  return std::nullopt;
}

LogicalResult Elaborator::evaluateConfigs() {
  llvm::StringMap<std::string> defines;
  for (const auto &[name, value] : options.defines) {
    if (name.empty())
      return emitError(UnknownLoc::get(&ctx)) << "-D needs name=value, got '=" << value << "'";
    defines[name] = value;
  }
  frames.push_back(Frame{}); // configs see only earlier configs
  for (const Module &m : modules) {
    for (const auto &s : m.statements) {
      if (s->kind != StmtKind::Config)
        continue;
      StringRef name = s->names[0];
      if (auto it = configLocs.find(name); it != configLocs.end()) {
        auto diag = emitError(loc(s->nameLocs[0])) << "config '" << name << "' is defined twice";
        diag.attachNote(loc(it->second)) << "first definition";
        return failure();
      }
      Val value;
      if (auto d = defines.find(name); d != defines.end()) {
        auto parsed = parseDefine(d->second);
        if (!parsed)
          return emitError(UnknownLoc::get(&ctx)) << "-D " << name << "=" << d->second
                                                  << ": the value must be an integer or a number";
        value = *parsed;
        defines.erase(d);
      } else {
        auto v = eval(*s->values[0]);
        if (failed(v))
          return failure();
        if (!v->isNumber())
          return error(s->values[0]->loc,
                       "config '" + name + "' must be a number, got " + describe(*v));
        value = *v;
      }
      configLocs[name] = s->nameLocs[0];
      configs[configLocs.find(name)->first()] = value;
    }
  }
  frames.pop_back();
  if (!defines.empty()) {
    std::vector<std::string> known;
    for (auto &[name, v] : configs)
      known.push_back(name.str());
    std::string unknown = defines.begin()->first().str();
    return emitError(UnknownLoc::get(&ctx))
           << "-D " << unknown << ": the model has no config named '" << unknown
           << "' (its configs: " << llvm::join(known, ", ") << ")";
  }
  return success();
}

LogicalResult Elaborator::declareInputs(func::FuncOp func) {
  mlir::Block *entry = func.addEntryBlock();
  const Module &main = modules.back();
  for (const Module &m : modules)
    for (const auto &s : m.statements)
      if (s->kind == StmtKind::Input && &m != &main)
        return error(s->loc, "inputs are declared in the file that is compiled");
  SmallVector<Type> types;
  for (const auto &s : main.statements) {
    if (s->kind != StmtKind::Input)
      continue;
    StringRef name = s->names[0];
    if (frames.back().locals.count(name))
      return error(s->nameLocs[0], "input '" + name + "' is declared twice");
    SmallVector<int64_t> shape;
    for (const auto &d : s->values) {
      auto v = eval(*d);
      if (failed(v))
        return failure();
      auto dim = intArg(d->loc, *v, "a dimension");
      if (failed(dim))
        return failure();
      shape.push_back(*dim);
    }
    Type element = s->dtype == "i32" ? Type(IntegerType::get(&ctx, 32)) : Float32Type::get(&ctx);
    auto type = tensorType(s->loc, shape, element);
    if (failed(type))
      return failure();
    types.push_back(*type);
    Value arg = entry->addArgument(*type, loc(s->nameLocs[0]));
    frames.back().locals[name] = Val::ofTensor(arg);
    inputNames.push_back(name.str());
  }
  func.setType(FunctionType::get(&ctx, types, {}));
  return success();
}

LogicalResult Elaborator::finish(func::FuncOp func) {
  const Module &main = modules.back();
  if (outputs.empty())
    return error(SrcLoc{main.file, 1, 1},
                 "the model declares no outputs; add one, e.g. `output loss = cross_entropy(...)`");
  SmallVector<Value> results;
  SmallVector<Type> types;
  SmallVector<Attribute> names;
  // Reports are outputs too, named report.NAME; nothing trains on them.
  for (auto &r : reports)
    outputs.push_back({"report." + r.name, r.value, r.loc});
  for (auto &o : outputs) {
    results.push_back(o.value);
    types.push_back(o.value.getType());
    names.push_back(StringAttr::get(&ctx, o.name));
  }
  body.create<func::ReturnOp>(func.getLoc(), results);
  func.setType(FunctionType::get(&ctx, func.getArgumentTypes(), types));
  SmallVector<Attribute> inputs;
  for (auto &n : inputNames)
    inputs.push_back(StringAttr::get(&ctx, n));
  func->setAttr(RaDialect::kInputsAttr, ArrayAttr::get(&ctx, inputs));
  func->setAttr(RaDialect::kOutputsAttr, ArrayAttr::get(&ctx, names));

  SmallVector<NamedAttribute> config;
  for (auto &[name, v] : configs) {
    Attribute a = v.kind == Val::Kind::Int
                      ? Attribute(IntegerAttr::get(IntegerType::get(&ctx, 64), v.i))
                      : Attribute(FloatAttr::get(Float64Type::get(&ctx), v.f));
    config.push_back(NamedAttribute(StringAttr::get(&ctx, name), a));
  }
  (*module)->setAttr(RaDialect::kConfigAttr, DictionaryAttr::get(&ctx, config));
  (*module)->setAttr(RaDialect::kSourceAttr, StringAttr::get(&ctx, files[main.file].path));
  if (failed(mlir::verify(*module)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

LogicalResult Elaborator::execBlock(const Block &block) {
  for (const auto &s : block) {
    if (failed(exec(*s)))
      return failure();
    if (frames.back().returned)
      break;
  }
  return success();
}

LogicalResult Elaborator::exec(const Stmt &s) {
  Frame &frame = frames.back();
  switch (s.kind) {
  case StmtKind::Config:
  case StmtKind::Input:
    return error(s.loc, "configs and inputs are declared at the top level");
  case StmtKind::Param:
    return execParam(s);
  case StmtKind::Assign:
    return execAssign(s);
  case StmtKind::For:
    return execFor(s);
  case StmtKind::If:
    return execIf(s);
  case StmtKind::Expr:
    return failure(failed(eval(*s.values[0])));
  case StmtKind::Output: {
    StringRef name = s.names[0];
    for (auto &o : outputs)
      if (o.name == name)
        return error(s.nameLocs[0], "output '" + name + "' is declared twice");
    auto v = eval(*s.values[0]);
    if (failed(v))
      return failure();
    auto t = tensorArg(s.values[0]->loc, *v, "output '" + name + "'", /*allowInt=*/true);
    if (failed(t))
      return failure();
    if (name == "loss") {
      auto type = t->getType().cast<RankedTensorType>();
      if (type.getRank() != 0 || !type.getElementType().isF32())
        return error(s.values[0]->loc,
                     "output 'loss' is what training minimizes and must be a scalar f32; this one "
                     "has shape " +
                         formatShape(type.getShape()) +
                         (type.getElementType().isF32() ? "" : " and is an integer tensor") +
                         " (reduce it to a scalar, e.g. with mean(...))");
    }
    outputs.push_back({name.str(), *t, s.loc});
    return success();
  }
  case StmtKind::Report: {
    std::string name =
        frame.scope.empty() ? s.names[0] : llvm::join(frame.scope, ".") + "." + s.names[0];
    for (auto &r : reports)
      if (r.name == name)
        return error(s.nameLocs[0], "report '" + name + "' is declared twice");
    auto v = eval(*s.values[0]);
    if (failed(v))
      return failure();
    auto t = tensorArg(s.values[0]->loc, *v, "report '" + name + "'");
    if (failed(t))
      return failure();
    if (t->getType().cast<RankedTensorType>().getRank() != 0)
      return error(s.values[0]->loc, "a report is a scalar (shape []); reduce it, e.g. with mean");
    reports.push_back({name, *t, s.loc});
    return success();
  }
  case StmtKind::Return: {
    if (frame.topLevel)
      return error(s.loc, "'return' outside a function; the model's results are `output`s");
    std::vector<Val> values;
    for (const auto &e : s.values) {
      auto v = eval(*e);
      if (failed(v))
        return failure();
      if (v->kind == Val::Kind::Tuple)
        return error(e->loc, "cannot return several values as one; unpack them first");
      values.push_back(*v);
    }
    frames.back().returned = true;
    if (values.empty())
      frames.back().result = Val::none();
    else if (values.size() == 1)
      frames.back().result = values[0];
    else
      frames.back().result = Val::ofItems(Val::Kind::Tuple, std::move(values));
    return success();
  }
  }
  return success();
}

LogicalResult Elaborator::execParam(const Stmt &s) {
  Frame &frame = frames.back();
  std::string name =
      frame.scope.empty() ? s.names[0] : llvm::join(frame.scope, ".") + "." + s.names[0];
  if (auto it = paramLocs.find(name); it != paramLocs.end()) {
    auto diag = emitError(loc(s.nameLocs[0]))
                << "parameter '" << name
                << "' is declared twice; give the calls distinct scopes with `as name` "
                   "(or `as name[i]` in a loop)";
    diag.attachNote(loc(it->second)) << "first declared here";
    return failure();
  }
  SmallVector<int64_t> shape;
  for (const auto &d : s.values) {
    auto v = eval(*d);
    if (failed(v))
      return failure();
    auto dim = intArg(d->loc, *v, "a dimension");
    if (failed(dim))
      return failure();
    shape.push_back(*dim);
  }
  auto type = tensorType(s.loc, shape, Float32Type::get(&ctx));
  if (failed(type))
    return failure();

  double initValue = 0;
  std::optional<Init> init = parseInit(s.init);
  if (!init)
    return error(s.initLoc, "unknown initializer '" + s.init +
                                "'; expected normal(std), zeros, ones or const(value)");
  size_t wantArgs = initTakesValue(*init) ? 1 : 0;
  if (s.initArgs.size() != wantArgs)
    return error(s.initLoc, "initializer '" + s.init + "' takes " + Twine(wantArgs) + " argument" +
                                (wantArgs == 1 ? "" : "s") + ", got " + Twine(s.initArgs.size()));
  if (wantArgs) {
    auto v = eval(*s.initArgs[0]);
    if (failed(v))
      return failure();
    auto n = numberArg(s.initArgs[0]->loc, *v, "the initializer's argument");
    if (failed(n))
      return failure();
    initValue = *n;
    if (*init == Init::Normal && (!(initValue > 0) || !std::isfinite(initValue)))
      return error(s.initArgs[0]->loc,
                   "normal(std) needs a finite std > 0, got " + formatNumber(initValue));
    if (!std::isfinite(initValue))
      return error(s.initArgs[0]->loc, "const(value) needs a finite value");
  }
  bool decay = s.decay >= 0 ? s.decay == 1 : shape.size() >= 2;

  auto param = params.create<ParamOp>(loc(s.loc), name, *type, s.init, llvm::APFloat(initValue),
                                      decay, frame.mechanism, /*trainable=*/true);
  if (failed(mlir::verify(param)))
    return failure();
  paramLocs[name] = s.nameLocs[0];
  auto read = create<GetParamOp>(s.loc, *type, name);
  if (failed(read))
    return failure();
  frame.locals[s.names[0]] = Val::ofTensor(*read);
  return success();
}

LogicalResult Elaborator::execAssign(const Stmt &s) {
  auto v = eval(*s.values[0]);
  if (failed(v))
    return failure();
  size_t n = s.names.size();
  std::vector<Val> values;
  if (n == 1) {
    if (v->kind == Val::Kind::Tuple)
      return error(s.loc, "the right side gives " + Twine(v->items.size()) +
                              " values; unpack them with `a, b = ...`");
    values.push_back(*v);
  } else {
    if (v->kind != Val::Kind::Tuple || v->items.size() != n)
      return error(s.loc, "cannot unpack " +
                              (v->kind == Val::Kind::Tuple ? Twine(v->items.size()) + " values"
                                                           : Twine(describe(*v))) +
                              " into " + Twine(n) + " names");
    values = v->items;
  }
  for (size_t i = 0; i < n; ++i) {
    if (configs.count(s.names[i]))
      return error(s.nameLocs[i], "'" + s.names[i] +
                                      "' is a config; configs are set with -D, "
                                      "not assigned");
    frames.back().locals[s.names[i]] = values[i];
  }
  return success();
}

LogicalResult Elaborator::execFor(const Stmt &s) {
  auto lo = eval(*s.values[0]);
  if (failed(lo))
    return failure();
  auto hi = eval(*s.values[1]);
  if (failed(hi))
    return failure();
  auto l = intArg(s.values[0]->loc, *lo, "the loop start");
  auto h = intArg(s.values[1]->loc, *hi, "the loop end");
  if (failed(l) || failed(h))
    return failure();
  if (*h > *l && (*h - *l > kMaxLoopTrips || *h - *l < 0))
    return error(s.loc, "the loop runs " + Twine(*h - *l) + " times; the limit is " +
                            Twine(kMaxLoopTrips));
  for (int64_t i = *l; i < *h; ++i) {
    frames.back().locals[s.names[0]] = Val::ofInt(i);
    if (failed(execBlock(s.body)))
      return failure();
    if (frames.back().returned)
      break;
  }
  return success();
}

FailureOr<bool> Elaborator::condition(const Expr &e) {
  auto v = eval(e);
  if (failed(v))
    return failure();
  if (v->kind == Val::Kind::None)
    return false;
  if (!v->isNumber())
    return error(e.loc, "a condition must be a compile-time number, got " + Twine(describe(*v)));
  return v->asDouble() != 0;
}

LogicalResult Elaborator::execIf(const Stmt &s) {
  auto c = condition(*s.values[0]);
  if (failed(c))
    return failure();
  return execBlock(*c ? s.body : s.elseBody);
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

FailureOr<Val> Elaborator::eval(const Expr &e) {
  switch (e.kind) {
  case ExprKind::Int:
    return Val::ofInt(e.intValue);
  case ExprKind::Float:
    return Val::ofFloat(e.floatValue);
  case ExprKind::None:
    return Val::none();
  case ExprKind::Name:
    return evalName(e);
  case ExprKind::Unary:
    return evalUnary(e);
  case ExprKind::Binary:
    return evalBinary(e);
  case ExprKind::Call:
    return evalCall(e);
  case ExprKind::Slice:
    return evalSlice(e);
  case ExprKind::List: {
    std::vector<Val> items;
    for (const auto &a : e.args) {
      auto v = eval(*a);
      if (failed(v))
        return failure();
      if (v->kind == Val::Kind::Tuple)
        return error(a->loc, "a list element cannot be several values");
      items.push_back(*v);
    }
    return Val::ofItems(Val::Kind::List, std::move(items));
  }
  }
  return error(e.loc, "unsupported expression");
}

FailureOr<Val> Elaborator::evalName(const Expr &e) {
  auto &locals = frames.back().locals;
  if (auto it = locals.find(e.name); it != locals.end())
    return it->second;
  if (auto it = configs.find(e.name); it != configs.end())
    return it->second;
  if (functions.count(e.name))
    return error(e.loc, "'" + e.name + "' is a function; call it with arguments");
  return error(e.loc, "unknown name '" + e.name + "'");
}

FailureOr<Val> Elaborator::evalUnary(const Expr &e) {
  auto v = eval(*e.args[0]);
  if (failed(v))
    return failure();
  if (e.op == Tok::KwNot) {
    auto c = condition(*e.args[0]);
    if (failed(c))
      return failure();
    return Val::ofInt(!*c);
  }
  // Unary minus.
  if (v->kind == Val::Kind::Int) {
    if (v->i == INT64_MIN)
      return error(e.loc, "integer overflow in negation");
    return Val::ofInt(-v->i);
  }
  if (v->kind == Val::Kind::Float)
    return Val::ofFloat(-v->f);
  auto t = tensorArg(e.args[0]->loc, *v, "the operand of '-'");
  if (failed(t))
    return failure();
  auto r = create<NegOp>(e.loc, *t);
  if (failed(r))
    return failure();
  return Val::ofTensor(*r);
}

FailureOr<Val> Elaborator::evalNumbers(const Expr &e, const Val &l, const Val &r) {
  Tok op = e.op;
  bool ints = l.kind == Val::Kind::Int && r.kind == Val::Kind::Int;
  double a = l.asDouble(), b = r.asDouble();
  switch (op) {
  case Tok::Eq:
    return Val::ofInt(a == b);
  case Tok::Ne:
    return Val::ofInt(a != b);
  case Tok::Lt:
    return Val::ofInt(a < b);
  case Tok::Le:
    return Val::ofInt(a <= b);
  case Tok::Gt:
    return Val::ofInt(a > b);
  case Tok::Ge:
    return Val::ofInt(a >= b);
  default:
    break;
  }
  if (ints) {
    int64_t x = l.i, y = r.i, out = 0;
    bool overflow = false;
    switch (op) {
    case Tok::Plus:
      overflow = __builtin_add_overflow(x, y, &out);
      break;
    case Tok::Minus:
      overflow = __builtin_sub_overflow(x, y, &out);
      break;
    case Tok::Star:
      overflow = __builtin_mul_overflow(x, y, &out);
      break;
    case Tok::Slash:
    case Tok::SlashSlash:
    case Tok::Percent:
      if (y == 0)
        return error(e.loc, "division by zero");
      if (x == INT64_MIN && y == -1)
        return error(e.loc, "integer overflow in division");
      if (op == Tok::Slash && x % y != 0)
        return error(e.loc, Twine(x) + " / " + Twine(y) +
                                " is not a whole number; use // to round down, or a float");
      if (op == Tok::Percent) {
        out = x % y;
        if (out != 0 && ((out < 0) != (y < 0)))
          out += y;
      } else {
        out = x / y;
        if (op == Tok::SlashSlash && (x % y != 0) && ((x < 0) != (y < 0)))
          --out;
      }
      break;
    default:
      return error(e.loc, std::string("operator ") + describe(op) + " does not apply to numbers");
    }
    if (overflow)
      return error(e.loc, "integer overflow in " + Twine(x) + " " + describe(op) + " " + Twine(y));
    return Val::ofInt(out);
  }
  double out;
  switch (op) {
  case Tok::Plus:
    out = a + b;
    break;
  case Tok::Minus:
    out = a - b;
    break;
  case Tok::Star:
    out = a * b;
    break;
  case Tok::Slash:
    if (b == 0)
      return error(e.loc, "division by zero");
    out = a / b;
    break;
  case Tok::SlashSlash:
    if (b == 0)
      return error(e.loc, "division by zero");
    out = std::floor(a / b);
    break;
  default:
    return error(e.loc, std::string("operator ") + describe(op) + " needs integers");
  }
  if (!std::isfinite(out))
    return error(e.loc, "the result is not a finite number");
  return Val::ofFloat(out);
}

FailureOr<Val> Elaborator::evalBinary(const Expr &e) {
  if (e.op == Tok::KwAnd || e.op == Tok::KwOr) {
    auto l = condition(*e.args[0]);
    if (failed(l))
      return failure();
    if ((e.op == Tok::KwAnd && !*l) || (e.op == Tok::KwOr && *l))
      return Val::ofInt(*l);
    auto r = condition(*e.args[1]);
    if (failed(r))
      return failure();
    return Val::ofInt(*r);
  }
  auto l = eval(*e.args[0]);
  if (failed(l))
    return failure();
  auto r = eval(*e.args[1]);
  if (failed(r))
    return failure();
  // `x == none` and `x != none` compare presence.
  if ((e.op == Tok::Eq || e.op == Tok::Ne) &&
      (l->kind == Val::Kind::None || r->kind == Val::Kind::None)) {
    bool same = l->kind == r->kind;
    return Val::ofInt(e.op == Tok::Eq ? same : !same);
  }
  if (l->isNumber() && r->isNumber())
    return evalNumbers(e, *l, *r);

  SrcLoc at = e.loc;
  if (e.op == Tok::At) {
    auto a = tensorArg(e.args[0]->loc, *l, "the left side of '@'");
    if (failed(a))
      return failure();
    auto b = tensorArg(e.args[1]->loc, *r, "the right side of '@'");
    if (failed(b))
      return failure();
    auto v = create<MatmulOp>(at, *a, *b);
    if (failed(v))
      return failure();
    return Val::ofTensor(*v);
  }
  if (e.op != Tok::Plus && e.op != Tok::Minus && e.op != Tok::Star && e.op != Tok::Slash)
    return error(at, std::string("operator ") + describe(e.op) +
                         " applies to compile-time numbers only, not tensors");
  // Tensor arithmetic; a number on either side becomes a constant tensor.
  Value a, b;
  if (l->isTensor()) {
    auto t = tensorArg(e.args[0]->loc, *l, "the left operand");
    if (failed(t))
      return failure();
    a = *t;
  }
  if (r->isTensor()) {
    auto t = tensorArg(e.args[1]->loc, *r, "the right operand");
    if (failed(t))
      return failure();
    b = *t;
  }
  if (!a && !l->isNumber())
    return error(e.args[0]->loc,
                 "the left operand must be a tensor or a number, got " + Twine(describe(*l)));
  if (!b && !r->isNumber())
    return error(e.args[1]->loc,
                 "the right operand must be a tensor or a number, got " + Twine(describe(*r)));
  if (!a) {
    auto c = constant(at, l->asDouble(), b.getType().cast<RankedTensorType>());
    if (failed(c))
      return failure();
    a = *c;
  }
  if (!b) {
    auto c = constant(at, r->asDouble(), a.getType().cast<RankedTensorType>());
    if (failed(c))
      return failure();
    b = *c;
  }
  FailureOr<Value> v;
  switch (e.op) {
  case Tok::Plus:
    v = binary<AddOp>(at, a, b);
    break;
  case Tok::Minus:
    v = binary<SubOp>(at, a, b);
    break;
  case Tok::Star:
    v = binary<MulOp>(at, a, b);
    break;
  default:
    v = binary<DivOp>(at, a, b);
    break;
  }
  if (failed(v))
    return failure();
  return Val::ofTensor(*v);
}

FailureOr<Val> Elaborator::evalSlice(const Expr &e) {
  auto base = eval(*e.args[0]);
  if (failed(base))
    return failure();
  auto t = tensorArg(e.args[0]->loc, *base, "the sliced value", /*allowInt=*/true);
  if (failed(t))
    return failure();
  auto type = t->getType().cast<RankedTensorType>();
  if ((int64_t)e.slices.size() > type.getRank())
    return error(e.loc, "too many slice axes (" + Twine(e.slices.size()) + ") for a tensor " +
                            formatShape(type.getShape()));
  Value v = *t;
  for (size_t axis = 0; axis < e.slices.size(); ++axis) {
    const SliceItem &item = e.slices[axis];
    if (!item.isRange)
      return error(item.loc, "indexing with a single integer is not supported; "
                             "slice with i:i+1 and reshape");
    int64_t dim = type.getShape()[axis];
    auto bound = [&](const ExprPtr &x, int64_t dflt) -> FailureOr<int64_t> {
      if (!x)
        return dflt;
      auto b = eval(*x);
      if (failed(b))
        return failure();
      auto i = intArg(x->loc, *b, "a slice bound");
      if (failed(i))
        return failure();
      return *i < 0 ? *i + dim : *i;
    };
    auto lo = bound(item.lo, 0);
    if (failed(lo))
      return failure();
    auto hi = bound(item.hi, dim);
    if (failed(hi))
      return failure();
    auto s = create<SliceOp>(item.loc, v, uint64_t(axis), uint64_t(*lo), uint64_t(*hi));
    if (failed(s))
      return failure();
    v = *s;
  }
  return Val::ofTensor(v);
}

FailureOr<Val> Elaborator::evalCall(const Expr &e) {
  std::vector<Val> args;
  std::vector<SrcLoc> argLocs;
  for (const auto &a : e.args) {
    auto v = eval(*a);
    if (failed(v))
      return failure();
    if (v->kind == Val::Kind::Tuple)
      return error(a->loc, "an argument cannot be several values; unpack them first");
    args.push_back(*v);
    argLocs.push_back(a->loc);
  }
  if (auto it = functions.find(e.name); it != functions.end()) {
    if (!e.kwargs.empty())
      return error(e.kwargs[0].loc, "'" + e.name +
                                        "' is a model function; pass its arguments "
                                        "in order, without names");
    return callFunction(e, *it->second, std::move(args));
  }
  if (!e.scopeName.empty())
    return error(e.scopeLoc,
                 "'as' names the parameters of a model function; '" + e.name + "' is not one");
  CallArgs call{e, std::move(args), std::move(argLocs), {}};
  for (const auto &kw : e.kwargs) {
    auto v = eval(*kw.value);
    if (failed(v))
      return failure();
    call.kwargs[kw.name] = {*v, kw.loc};
  }
  auto result = callBuiltin(*this, e.name, call);
  if (!result)
    return error(e.loc, "unknown function '" + e.name + "'");
  return *result;
}

FailureOr<Val> Elaborator::callFunction(const Expr &call, const FnDecl &fn, std::vector<Val> args) {
  if (args.size() != fn.params.size()) {
    auto diag = emitError(loc(call.loc))
                << "'" << fn.name << "' takes " << fn.params.size() << " argument"
                << (fn.params.size() == 1 ? "" : "s") << ", got " << args.size();
    diag.attachNote(loc(fn.loc)) << "'" << fn.name << "' is defined here";
    return failure();
  }
  if ((int)frames.size() > kMaxCallDepth)
    return error(call.loc, "calls nest deeper than " + Twine(kMaxCallDepth) + " levels; is '" +
                               fn.name + "' recursive?");
  std::string segment = fn.name;
  if (!call.scopeName.empty()) {
    segment = call.scopeName;
    if (call.scopeIndex) {
      auto idx = eval(*call.scopeIndex);
      if (failed(idx))
        return failure();
      auto i = intArg(call.scopeIndex->loc, *idx, "a scope index");
      if (failed(i))
        return failure();
      if (*i < 0)
        return error(call.scopeIndex->loc, "a scope index must be >= 0");
      segment += "." + std::to_string(*i);
    }
  }
  Frame frame;
  frame.scope = frames.back().scope;
  // `f(x) as _` adds no segment: f's parameters are named in the caller's scope.
  if (segment != "_")
    frame.scope.push_back(segment);
  frame.mechanism = fn.mechanism.empty() ? frames.back().mechanism : fn.mechanism;
  frame.callSite = loc(call.loc);
  for (size_t i = 0; i < args.size(); ++i)
    frame.locals[fn.params[i]] = args[i];
  frames.push_back(std::move(frame));
  auto ok = execBlock(fn.body);
  Val result = frames.back().result;
  frames.pop_back();
  if (failed(ok))
    return failure();
  return result;
}

} // namespace ra::graph
