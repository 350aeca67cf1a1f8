//===- AST.h - syntax tree of the .graph language ----------------*- C++ -*-===//
//
// The parser's output. Nothing here knows about shapes or MLIR: the
// elaborator gives the tree its meaning.
//
//===----------------------------------------------------------------------===//
#ifndef RA_FRONTEND_AST_H
#define RA_FRONTEND_AST_H

#include "ir/frontend/Token.h"

#include <memory>
#include <string>
#include <vector>

namespace ra::graph {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind { Int, Float, None, Name, Unary, Binary, Call, Slice, List };

/// One axis of `x[...]`: `lo:hi` (either may be absent) or a bare index.
struct SliceItem {
  ExprPtr lo, hi;
  bool isRange = false;
  SrcLoc loc;
};

struct KeywordArg {
  std::string name;
  SrcLoc loc;
  ExprPtr value;
};

struct Expr {
  ExprKind kind;
  SrcLoc loc;
  int64_t intValue = 0;
  double floatValue = 0;
  std::string name;               // Name: the name; Call: the callee
  Tok op = Tok::Eof;              // Unary/Binary: the operator
  std::vector<ExprPtr> args;      // Unary/Binary operands, Call positional args, List elements,
                                  // Slice: args[0] is the sliced value
  std::vector<KeywordArg> kwargs; // Call
  std::vector<SliceItem> slices;  // Slice
  // Call `f(x) as name[index]`: the scope its parameters are named under.
  std::string scopeName;
  ExprPtr scopeIndex;
  SrcLoc scopeLoc;

  Expr(ExprKind kind, SrcLoc loc) : kind(kind), loc(loc) {}
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Block = std::vector<StmtPtr>;

enum class StmtKind { Param, Input, Output, Report, Return, For, If, Assign, Expr, Config };

struct Stmt {
  StmtKind kind;
  SrcLoc loc;
  std::vector<std::string> names; // Assign targets; Param/Input/Output/Config/For: names[0]
  std::vector<SrcLoc> nameLocs;
  std::vector<ExprPtr> values; // Assign/Return/Output/Expr/Config values; For: lo, hi;
                               // If: condition; Param: shape dims, Input: shape dims
  // Param
  std::string init; // normal, zeros, ones, const
  SrcLoc initLoc;
  std::vector<ExprPtr> initArgs;
  int decay = -1; // -1: by rank (matrices decay), 0: no, 1: yes
  // Input
  std::string dtype; // f32 or i32
  // For / If
  Block body, elseBody;

  Stmt(StmtKind kind, SrcLoc loc) : kind(kind), loc(loc) {}
};

struct FnDecl {
  std::string name;
  SrcLoc loc;
  std::vector<std::string> params;
  std::vector<SrcLoc> paramLocs;
  std::string mechanism; // empty: inherit the caller's
  Block body;
};

struct Import {
  std::string path;
  SrcLoc loc;
};

/// One parsed file: its imports, functions, and top-level statements
/// (configs, inputs, params, code, outputs) in source order.
struct Module {
  uint32_t file = 0;
  std::vector<Import> imports;
  std::vector<std::unique_ptr<FnDecl>> functions;
  Block statements;
};

} // namespace ra::graph

#endif // RA_FRONTEND_AST_H
