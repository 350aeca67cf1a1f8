//===- Elaborator.h - runs a parsed .graph program into ra ops ----*- C++ -*-===//
//
// Internal to the front end. The elaborator walks the syntax tree once,
// evaluating compile-time values and emitting `ra` ops for tensor values.
// Builtins.cpp implements the builtin functions on top of its helpers.
//
//===----------------------------------------------------------------------===//
#ifndef RA_FRONTEND_ELABORATOR_H
#define RA_FRONTEND_ELABORATOR_H

#include "ir/RaDialect.h"
#include "ir/frontend/AST.h"
#include "ir/frontend/Frontend.h"
#include "ir/frontend/Val.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"

#include <optional>

namespace ra::graph {

/// A loaded source file: the name in diagnostics and its text.
struct SourceFile {
  std::string path;
  llvm::StringRef text;
};

/// The arguments of a builtin call, evaluated.
struct CallArgs {
  const Expr &call;
  std::vector<Val> args;
  std::vector<SrcLoc> argLocs;
  llvm::StringMap<std::pair<Val, SrcLoc>> kwargs;
};

class Elaborator {
public:
  Elaborator(mlir::MLIRContext &ctx, std::vector<SourceFile> &files, std::vector<Module> &modules,
             const FrontendOptions &options);

  /// The module, or null after an error was reported.
  mlir::OwningOpRef<mlir::ModuleOp> run();

  // --- helpers for builtins -------------------------------------------------
  mlir::MLIRContext &context() { return ctx; }
  mlir::OpBuilder &builder() { return body; }
  mlir::Location loc(SrcLoc at);
  mlir::LogicalResult error(SrcLoc at, const llvm::Twine &message);

  /// A static tensor type after checking every dim is positive and the total
  /// size is within kMaxTensorElements.
  mlir::FailureOr<mlir::RankedTensorType> tensorType(SrcLoc at, llvm::ArrayRef<int64_t> shape,
                                                     mlir::Type elementType);
  /// `v` as a float (or, with `allowInt`, any) tensor, or an error naming `what`.
  mlir::FailureOr<mlir::Value> tensorArg(SrcLoc at, const Val &v, const llvm::Twine &what,
                                         bool allowInt = false);
  mlir::FailureOr<int64_t> intArg(SrcLoc at, const Val &v, const llvm::Twine &what);
  mlir::FailureOr<double> numberArg(SrcLoc at, const Val &v, const llvm::Twine &what);
  mlir::FailureOr<llvm::SmallVector<int64_t>> shapeArg(SrcLoc at, const Val &v,
                                                       const llvm::Twine &what);
  /// `axis` normalized against `rank` (`-1` is the last axis).
  mlir::FailureOr<int64_t> axisArg(SrcLoc at, const Val &v, int64_t rank);

  /// Creates an `OpT` through its ODS builder with `args` (operands and
  /// attributes; the result type first for an op that cannot infer it),
  /// verifies it and folds it: the result, or the existing value it folds to
  /// (`reshape(x)` to x's type is x). Shape errors are reported at `at`, in
  /// the words of the op's shape rule.
  template <class OpT, class... Args>
  mlir::FailureOr<mlir::Value> create(SrcLoc at, Args &&...args) {
    mlir::OperationState state(loc(at), OpT::getOperationName());
    if constexpr (OpT::template hasTrait<mlir::InferTypeOpInterface::Trait>()) {
      OpT::build(body, state, mlir::TypeRange(), std::forward<Args>(args)...);
      llvm::SmallVector<mlir::Type> types;
      if (mlir::failed(OpT::inferReturnTypes(&ctx, state.location, state.operands,
                                             state.attributes.getDictionary(&ctx), state.regions,
                                             types)))
        return mlir::failure();
      state.addTypes(types);
    } else {
      OpT::build(body, state, std::forward<Args>(args)...);
    }
    return finishOp(at, state);
  }

  /// `lhs op rhs` with numpy broadcasting.
  template <class OpT>
  mlir::FailureOr<mlir::Value> binary(SrcLoc at, mlir::Value lhs, mlir::Value rhs) {
    auto l = broadcastPair(at, lhs, rhs);
    if (mlir::failed(l))
      return mlir::failure();
    return create<OpT>(at, l->first, l->second);
  }
  mlir::FailureOr<mlir::Value> broadcastTo(SrcLoc at, mlir::Value v, llvm::ArrayRef<int64_t> shape);
  mlir::FailureOr<mlir::Value> constant(SrcLoc at, double value, mlir::RankedTensorType type);

private:
  struct Frame {
    std::vector<std::string> scope;
    std::string mechanism = "base";
    std::optional<mlir::Location> callSite;
    llvm::StringMap<Val> locals;
    bool topLevel = false;
    bool returned = false;
    Val result;
  };

  /// Checks, creates, verifies and folds the op `state` describes.
  mlir::FailureOr<mlir::Value> finishOp(SrcLoc at, mlir::OperationState &state);
  mlir::FailureOr<std::pair<mlir::Value, mlir::Value>> broadcastPair(SrcLoc at, mlir::Value a,
                                                                     mlir::Value b);

  mlir::LogicalResult collectFunctions();
  mlir::LogicalResult evaluateConfigs();
  mlir::LogicalResult declareInputs(mlir::func::FuncOp func);
  mlir::LogicalResult finish(mlir::func::FuncOp func);

  mlir::LogicalResult execBlock(const Block &block);
  mlir::LogicalResult exec(const Stmt &s);
  mlir::LogicalResult execParam(const Stmt &s);
  mlir::LogicalResult execAssign(const Stmt &s);
  mlir::LogicalResult execFor(const Stmt &s);
  mlir::LogicalResult execIf(const Stmt &s);

  mlir::FailureOr<Val> eval(const Expr &e);
  mlir::FailureOr<Val> evalName(const Expr &e);
  mlir::FailureOr<Val> evalUnary(const Expr &e);
  mlir::FailureOr<Val> evalBinary(const Expr &e);
  mlir::FailureOr<Val> evalNumbers(const Expr &e, const Val &l, const Val &r);
  mlir::FailureOr<Val> evalSlice(const Expr &e);
  mlir::FailureOr<Val> evalCall(const Expr &e);
  mlir::FailureOr<Val> callFunction(const Expr &call, const FnDecl &fn, std::vector<Val> args);
  mlir::FailureOr<bool> condition(const Expr &e);

  mlir::MLIRContext &ctx;
  std::vector<SourceFile> &files;
  std::vector<Module> &modules;
  const FrontendOptions &options;

  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::OpBuilder body;   // inside @forward
  mlir::OpBuilder params; // module level, before @forward

  llvm::StringMap<const FnDecl *> functions;
  llvm::MapVector<llvm::StringRef, Val> configs;
  llvm::StringMap<SrcLoc> configLocs;
  llvm::StringMap<SrcLoc> paramLocs;
  struct Output {
    std::string name;
    mlir::Value value;
    SrcLoc loc;
  };
  std::vector<Output> outputs;
  std::vector<Output> reports;
  std::vector<std::string> inputNames;
  std::vector<Frame> frames;
  int64_t opCount = 0;
};

/// Calls builtin `name`, or returns nullopt when there is no such builtin.
std::optional<mlir::FailureOr<Val>> callBuiltin(Elaborator &el, llvm::StringRef name,
                                                CallArgs &args);

/// Every builtin's name, for "did you mean" and the docs test.
std::vector<llvm::StringRef> builtinNames();

} // namespace ra::graph

#endif // RA_FRONTEND_ELABORATOR_H
