//===- Parser.h - the .graph parser ----------------------------*- C++ -*-===//
//
// Recursive descent over the token stream; stops at the first error, which
// it hands to the caller's sink with a source position.
//
//===----------------------------------------------------------------------===//
#ifndef RA_FRONTEND_PARSER_H
#define RA_FRONTEND_PARSER_H

#include "ir/frontend/AST.h"
#include "ir/frontend/Lexer.h"

#include <functional>
#include <initializer_list>
#include <optional>

namespace ra::graph {

using ErrorSink = std::function<void(SrcLoc, const std::string &)>;

/// Deepest nesting of expressions and blocks the parser accepts.
constexpr int kMaxNesting = 200;

class Parser {
public:
  Parser(llvm::StringRef text, uint32_t fileIndex, ErrorSink sink)
      : lexer(text, fileIndex), file(fileIndex), sink(std::move(sink)) {
    advance();
  }

  /// The whole file, or nullopt after reporting an error.
  std::optional<Module> parseModule();

private:
  void advance();
  bool at(Tok k) const { return tok.kind == k; }
  bool accept(Tok k);
  bool expect(Tok k, const char *context);
  bool fail(SrcLoc loc, const std::string &message);
  bool failHere(const std::string &message) { return fail(tok.loc, message); }
  void skipNewlines();
  bool endStatement();
  bool enter(SrcLoc loc);
  void leave() { --depth; }

  std::unique_ptr<FnDecl> parseFn();
  StmtPtr parseStatement(bool topLevel);
  StmtPtr parseParam();
  StmtPtr parseInput();
  StmtPtr parseFor();
  StmtPtr parseIf();
  bool parseBlock(Block &block);
  bool parseShape(std::vector<ExprPtr> &dims);

  /// `operand (op operand)*` for any `op` in `ops`, folded to the left.
  ExprPtr parseLeftAssociative(std::initializer_list<Tok> ops, ExprPtr (Parser::*operand)());
  /// `op self` or `operand`: a prefix operator that may repeat.
  ExprPtr parsePrefix(Tok op, ExprPtr (Parser::*self)(), ExprPtr (Parser::*operand)());
  ExprPtr parseExpr();
  ExprPtr parseOr();
  ExprPtr parseAnd();
  ExprPtr parseNot();
  ExprPtr parseComparison();
  ExprPtr parseAdditive();
  ExprPtr parseMultiplicative();
  ExprPtr parseUnary();
  ExprPtr parsePostfix();
  ExprPtr parsePrimary();
  bool parseCallArgs(Expr &call);
  bool parseSlices(Expr &slice);

  Lexer lexer;
  uint32_t file;
  ErrorSink sink;
  Token tok;
  bool failed = false;
  int depth = 0;
};

} // namespace ra::graph

#endif // RA_FRONTEND_PARSER_H
