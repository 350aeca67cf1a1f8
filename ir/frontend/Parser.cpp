//===- Parser.cpp - the .graph parser -------------------------------------===//
//
//   file      := (import | fn | statement)*
//   fn        := 'fn' NAME '(' names? ')' ('mechanism' NAME)? block
//   statement := config | input | param | output | return | for | if | assign | expr
//   expr      := or;  or := and ('or' and)*;  and := not ('and' not)*
//   not       := 'not' not | cmp;  cmp := add (CMP add)?
//   add       := mul (('+'|'-') mul)*;  mul := unary (('*'|'/'|'//'|'%'|'@') unary)*
//   unary     := '-' unary | postfix
//   postfix   := primary ('(' args ')' ('as' NAME ('[' expr ']')?)? | '[' slices ']')*
//   primary   := INT | FLOAT | 'none' | NAME | '(' expr ')' | '[' exprs ']'
//
//===----------------------------------------------------------------------===//
#include "ir/frontend/Parser.h"

#include "llvm/ADT/STLExtras.h"

namespace ra::graph {

void Parser::advance() {
  if (failed)
    return;
  tok = lexer.next();
  if (tok.kind == Tok::Error)
    fail(tok.loc, tok.text);
}

bool Parser::accept(Tok k) {
  if (!at(k))
    return false;
  advance();
  return true;
}

bool Parser::fail(SrcLoc loc, const std::string &message) {
  if (!failed)
    sink(loc, message);
  failed = true;
  tok.kind = Tok::Eof; // stop every loop
  return false;
}

bool Parser::expect(Tok k, const char *context) {
  if (accept(k))
    return true;
  if (failed)
    return false;
  return failHere(std::string("expected ") + describe(k) + " " + context + ", found " +
                  describe(tok.kind));
}

void Parser::skipNewlines() {
  while (at(Tok::Newline))
    advance();
}

bool Parser::endStatement() {
  if (at(Tok::Newline) || at(Tok::Eof)) {
    advance();
    return !failed;
  }
  if (at(Tok::RBrace))
    return true;
  if (failed)
    return false;
  return failHere(std::string("expected the end of the statement, found ") + describe(tok.kind));
}

bool Parser::enter(SrcLoc loc) {
  if (++depth > kMaxNesting)
    return fail(loc, "nesting is too deep (more than " + std::to_string(kMaxNesting) + " levels)");
  return true;
}

std::optional<Module> Parser::parseModule() {
  Module m;
  m.file = file;
  for (;;) {
    skipNewlines();
    if (failed)
      return std::nullopt;
    if (at(Tok::Eof))
      break;
    if (at(Tok::KwImport)) {
      SrcLoc loc = tok.loc;
      advance();
      if (!at(Tok::String)) {
        failHere("expected a quoted file name after 'import'");
        return std::nullopt;
      }
      m.imports.push_back({tok.text, loc});
      advance();
      if (!endStatement())
        return std::nullopt;
    } else if (at(Tok::KwFn)) {
      auto fn = parseFn();
      if (!fn)
        return std::nullopt;
      m.functions.push_back(std::move(fn));
    } else {
      auto s = parseStatement(/*topLevel=*/true);
      if (!s)
        return std::nullopt;
      m.statements.push_back(std::move(s));
    }
  }
  if (failed)
    return std::nullopt;
  return m;
}

std::unique_ptr<FnDecl> Parser::parseFn() {
  auto fn = std::make_unique<FnDecl>();
  fn->loc = tok.loc;
  advance(); // fn
  if (!at(Tok::Ident)) {
    failHere("expected a function name after 'fn'");
    return nullptr;
  }
  fn->name = tok.text;
  advance();
  if (!expect(Tok::LParen, "after the function name"))
    return nullptr;
  if (!at(Tok::RParen)) {
    do {
      if (!at(Tok::Ident)) {
        failHere("expected a parameter name");
        return nullptr;
      }
      fn->params.push_back(tok.text);
      fn->paramLocs.push_back(tok.loc);
      advance();
    } while (accept(Tok::Comma));
  }
  if (!expect(Tok::RParen, "to close the parameter list"))
    return nullptr;
  if (accept(Tok::KwMechanism)) {
    if (!at(Tok::Ident)) {
      failHere("expected a mechanism name after 'mechanism'");
      return nullptr;
    }
    fn->mechanism = tok.text;
    advance();
  }
  if (!parseBlock(fn->body))
    return nullptr;
  return fn;
}

bool Parser::parseBlock(Block &block) {
  if (!enter(tok.loc))
    return false;
  if (!expect(Tok::LBrace, "to open a block"))
    return false;
  for (;;) {
    skipNewlines();
    if (failed)
      return false;
    if (accept(Tok::RBrace))
      break;
    if (at(Tok::Eof))
      return failHere("expected '}' to close the block, found end of file");
    auto s = parseStatement(/*topLevel=*/false);
    if (!s)
      return false;
    block.push_back(std::move(s));
  }
  leave();
  return !failed;
}

bool Parser::parseShape(std::vector<ExprPtr> &dims) {
  if (!expect(Tok::LBracket, "to open the shape"))
    return false;
  if (!at(Tok::RBracket)) {
    do {
      auto e = parseExpr();
      if (!e)
        return false;
      dims.push_back(std::move(e));
    } while (accept(Tok::Comma));
  }
  return expect(Tok::RBracket, "to close the shape");
}

StmtPtr Parser::parseStatement(bool topLevel) {
  SrcLoc loc = tok.loc;
  auto topOnly = [&](const char *what) {
    fail(loc, std::string("'") + what + "' is only allowed at the top level of a file");
    return nullptr;
  };
  StmtPtr s;
  switch (tok.kind) {
  case Tok::KwConfig: {
    if (!topLevel)
      return topOnly("config");
    advance();
    s = std::make_unique<Stmt>(StmtKind::Config, loc);
    if (!at(Tok::Ident)) {
      failHere("expected a config name after 'config'");
      return nullptr;
    }
    s->names.push_back(tok.text);
    s->nameLocs.push_back(tok.loc);
    advance();
    if (!expect(Tok::Assign, "after the config name"))
      return nullptr;
    auto e = parseExpr();
    if (!e)
      return nullptr;
    s->values.push_back(std::move(e));
    break;
  }
  case Tok::KwInput:
    if (!topLevel)
      return topOnly("input");
    s = parseInput();
    break;
  case Tok::KwParam:
    s = parseParam();
    break;
  case Tok::KwOutput:
  case Tok::KwReport: {
    bool isReport = at(Tok::KwReport);
    if (!isReport && !topLevel)
      return topOnly("output");
    advance();
    s = std::make_unique<Stmt>(isReport ? StmtKind::Report : StmtKind::Output, loc);
    if (!at(Tok::Ident)) {
      failHere(isReport ? "expected a report name after 'report'"
                        : "expected an output name after 'output'");
      return nullptr;
    }
    s->names.push_back(tok.text);
    s->nameLocs.push_back(tok.loc);
    advance();
    if (!expect(Tok::Assign, isReport ? "after the report name" : "after the output name"))
      return nullptr;
    auto e = parseExpr();
    if (!e)
      return nullptr;
    s->values.push_back(std::move(e));
    break;
  }
  case Tok::KwReturn: {
    advance();
    s = std::make_unique<Stmt>(StmtKind::Return, loc);
    if (!at(Tok::Newline) && !at(Tok::Eof) && !at(Tok::RBrace)) {
      do {
        auto e = parseExpr();
        if (!e)
          return nullptr;
        s->values.push_back(std::move(e));
      } while (accept(Tok::Comma));
    }
    break;
  }
  case Tok::KwFor:
    s = parseFor();
    break;
  case Tok::KwIf:
    s = parseIf();
    break;
  case Tok::KwFn:
    fail(loc, "functions are declared at the top level of a file, not inside a block");
    return nullptr;
  case Tok::KwImport:
    fail(loc, "'import' is only allowed at the top level of a file");
    return nullptr;
  default: {
    auto first = parseExpr();
    if (!first)
      return nullptr;
    if (at(Tok::Comma) || at(Tok::Assign)) {
      s = std::make_unique<Stmt>(StmtKind::Assign, loc);
      std::vector<ExprPtr> targets;
      targets.push_back(std::move(first));
      while (accept(Tok::Comma)) {
        auto t = parseExpr();
        if (!t)
          return nullptr;
        targets.push_back(std::move(t));
      }
      for (auto &t : targets) {
        if (t->kind != ExprKind::Name) {
          fail(t->loc, "only names can be assigned to");
          return nullptr;
        }
        s->names.push_back(t->name);
        s->nameLocs.push_back(t->loc);
      }
      if (!expect(Tok::Assign, "in the assignment"))
        return nullptr;
      auto value = parseExpr();
      if (!value)
        return nullptr;
      s->values.push_back(std::move(value));
    } else {
      s = std::make_unique<Stmt>(StmtKind::Expr, loc);
      s->values.push_back(std::move(first));
    }
    break;
  }
  }
  if (!s || failed)
    return nullptr;
  // Blocks end their own statement.
  if (s->kind == StmtKind::For || s->kind == StmtKind::If)
    return s;
  if (!endStatement())
    return nullptr;
  return s;
}

StmtPtr Parser::parseParam() {
  auto s = std::make_unique<Stmt>(StmtKind::Param, tok.loc);
  advance(); // param
  if (!at(Tok::Ident)) {
    failHere("expected a parameter name after 'param'");
    return nullptr;
  }
  s->names.push_back(tok.text);
  s->nameLocs.push_back(tok.loc);
  advance();
  if (!expect(Tok::Colon, "after the parameter name") || !parseShape(s->values))
    return nullptr;
  if (!expect(Tok::Assign, "before the initializer"))
    return nullptr;
  if (!at(Tok::Ident)) {
    failHere("expected an initializer: normal(std), zeros, ones or const(value)");
    return nullptr;
  }
  s->init = tok.text;
  s->initLoc = tok.loc;
  advance();
  if (accept(Tok::LParen)) {
    if (!at(Tok::RParen)) {
      do {
        auto e = parseExpr();
        if (!e)
          return nullptr;
        s->initArgs.push_back(std::move(e));
      } while (accept(Tok::Comma));
    }
    if (!expect(Tok::RParen, "to close the initializer's arguments"))
      return nullptr;
  }
  if (accept(Tok::Comma)) {
    if (accept(Tok::KwDecay))
      s->decay = 1;
    else if (accept(Tok::KwNoDecay))
      s->decay = 0;
    else {
      failHere("expected 'decay' or 'nodecay' after ','");
      return nullptr;
    }
  }
  return s;
}

StmtPtr Parser::parseInput() {
  auto s = std::make_unique<Stmt>(StmtKind::Input, tok.loc);
  advance(); // input
  if (!at(Tok::Ident)) {
    failHere("expected an input name after 'input'");
    return nullptr;
  }
  s->names.push_back(tok.text);
  s->nameLocs.push_back(tok.loc);
  advance();
  if (!expect(Tok::Colon, "after the input name"))
    return nullptr;
  if (!at(Tok::Ident) || (tok.text != "f32" && tok.text != "i32")) {
    failHere("expected an element type, f32 or i32");
    return nullptr;
  }
  s->dtype = tok.text;
  advance();
  if (!parseShape(s->values))
    return nullptr;
  return s;
}

StmtPtr Parser::parseFor() {
  auto s = std::make_unique<Stmt>(StmtKind::For, tok.loc);
  advance(); // for
  if (!at(Tok::Ident)) {
    failHere("expected a loop variable after 'for'");
    return nullptr;
  }
  s->names.push_back(tok.text);
  s->nameLocs.push_back(tok.loc);
  advance();
  if (!expect(Tok::KwIn, "after the loop variable"))
    return nullptr;
  auto lo = parseAdditive();
  if (!lo || !expect(Tok::DotDot, "in the range 'lo..hi'"))
    return nullptr;
  auto hi = parseAdditive();
  if (!hi)
    return nullptr;
  s->values.push_back(std::move(lo));
  s->values.push_back(std::move(hi));
  if (!parseBlock(s->body))
    return nullptr;
  return s;
}

StmtPtr Parser::parseIf() {
  if (!enter(tok.loc))
    return nullptr;
  auto s = std::make_unique<Stmt>(StmtKind::If, tok.loc);
  advance(); // if
  auto cond = parseExpr();
  if (!cond)
    return nullptr;
  s->values.push_back(std::move(cond));
  if (!parseBlock(s->body))
    return nullptr;
  // `else` may follow the closing brace on the same line or the next one.
  if (at(Tok::Newline)) {
    // Look past newlines only if an else follows; otherwise leave them.
    // The lexer is single-pass, so consume newlines: statements tolerate that.
    skipNewlines();
  }
  if (accept(Tok::KwElse)) {
    if (at(Tok::KwIf)) {
      auto nested = parseIf();
      if (!nested)
        return nullptr;
      s->elseBody.push_back(std::move(nested));
    } else if (!parseBlock(s->elseBody)) {
      return nullptr;
    }
  }
  leave();
  return s;
}

ExprPtr Parser::parseExpr() {
  if (!enter(tok.loc))
    return nullptr;
  auto e = parseOr();
  leave();
  return e;
}

static ExprPtr binary(Tok op, SrcLoc loc, ExprPtr lhs, ExprPtr rhs) {
  auto e = std::make_unique<Expr>(ExprKind::Binary, loc);
  e->op = op;
  e->args.push_back(std::move(lhs));
  e->args.push_back(std::move(rhs));
  return e;
}

ExprPtr Parser::parseLeftAssociative(std::initializer_list<Tok> ops, ExprPtr (Parser::*operand)()) {
  auto lhs = (this->*operand)();
  while (lhs && llvm::is_contained(ops, tok.kind)) {
    Tok op = tok.kind;
    SrcLoc loc = tok.loc;
    advance();
    auto rhs = (this->*operand)();
    if (!rhs)
      return nullptr;
    lhs = binary(op, loc, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

ExprPtr Parser::parsePrefix(Tok op, ExprPtr (Parser::*self)(), ExprPtr (Parser::*operand)()) {
  if (!at(op))
    return (this->*operand)();
  SrcLoc loc = tok.loc;
  advance();
  if (!enter(loc))
    return nullptr;
  auto inner = (this->*self)();
  leave();
  if (!inner)
    return nullptr;
  auto e = std::make_unique<Expr>(ExprKind::Unary, loc);
  e->op = op;
  e->args.push_back(std::move(inner));
  return e;
}

ExprPtr Parser::parseOr() { return parseLeftAssociative({Tok::KwOr}, &Parser::parseAnd); }

ExprPtr Parser::parseAnd() { return parseLeftAssociative({Tok::KwAnd}, &Parser::parseNot); }

ExprPtr Parser::parseNot() {
  return parsePrefix(Tok::KwNot, &Parser::parseNot, &Parser::parseComparison);
}

ExprPtr Parser::parseComparison() {
  auto lhs = parseAdditive();
  if (!lhs)
    return nullptr;
  switch (tok.kind) {
  case Tok::Eq:
  case Tok::Ne:
  case Tok::Lt:
  case Tok::Le:
  case Tok::Gt:
  case Tok::Ge: {
    Tok op = tok.kind;
    SrcLoc loc = tok.loc;
    advance();
    auto rhs = parseAdditive();
    if (!rhs)
      return nullptr;
    return binary(op, loc, std::move(lhs), std::move(rhs));
  }
  default:
    return lhs;
  }
}

ExprPtr Parser::parseAdditive() {
  return parseLeftAssociative({Tok::Plus, Tok::Minus}, &Parser::parseMultiplicative);
}

ExprPtr Parser::parseMultiplicative() {
  return parseLeftAssociative({Tok::Star, Tok::Slash, Tok::SlashSlash, Tok::Percent, Tok::At},
                              &Parser::parseUnary);
}

ExprPtr Parser::parseUnary() {
  return parsePrefix(Tok::Minus, &Parser::parseUnary, &Parser::parsePostfix);
}

bool Parser::parseCallArgs(Expr &call) {
  // '(' already consumed. An argument that parses as a bare name followed by
  // '=' is a keyword argument: '=' is no expression operator, so the
  // expression parser stops right before it.
  if (!at(Tok::RParen)) {
    do {
      auto e = parseExpr();
      if (!e)
        return false;
      if (e->kind == ExprKind::Name && accept(Tok::Assign)) {
        auto v = parseExpr();
        if (!v)
          return false;
        for (auto &kw : call.kwargs)
          if (kw.name == e->name)
            return fail(e->loc, "keyword argument '" + e->name + "' given twice");
        call.kwargs.push_back({e->name, e->loc, std::move(v)});
        continue;
      }
      if (!call.kwargs.empty())
        return fail(e->loc, "positional argument after keyword arguments");
      call.args.push_back(std::move(e));
    } while (accept(Tok::Comma));
  }
  if (!expect(Tok::RParen, "to close the argument list"))
    return false;
  if (!accept(Tok::KwAs))
    return !failed;
  // `f(x) as name` or `f(x) as name[index]`: the scope of f's parameters.
  if (!at(Tok::Ident))
    return failHere("expected a scope name after 'as'");
  call.scopeName = tok.text;
  call.scopeLoc = tok.loc;
  advance();
  if (accept(Tok::LBracket)) {
    call.scopeIndex = parseExpr();
    if (!call.scopeIndex || !expect(Tok::RBracket, "after the scope index"))
      return false;
  }
  return !failed;
}

bool Parser::parseSlices(Expr &slice) {
  // '[' already consumed.
  do {
    SliceItem item;
    item.loc = tok.loc;
    if (!at(Tok::Colon)) {
      item.lo = parseExpr();
      if (!item.lo)
        return false;
    }
    if (accept(Tok::Colon)) {
      item.isRange = true;
      if (!at(Tok::Comma) && !at(Tok::RBracket)) {
        item.hi = parseExpr();
        if (!item.hi)
          return false;
      }
    }
    slice.slices.push_back(std::move(item));
  } while (accept(Tok::Comma));
  return expect(Tok::RBracket, "to close the slice");
}

ExprPtr Parser::parsePostfix() {
  auto e = parsePrimary();
  while (e) {
    if (at(Tok::LParen)) {
      if (e->kind != ExprKind::Name) {
        failHere("only named functions can be called");
        return nullptr;
      }
      auto c = std::make_unique<Expr>(ExprKind::Call, e->loc);
      c->name = e->name;
      advance();
      if (!enter(c->loc) || !parseCallArgs(*c))
        return nullptr;
      leave();
      e = std::move(c);
    } else if (at(Tok::LBracket)) {
      auto sl = std::make_unique<Expr>(ExprKind::Slice, tok.loc);
      sl->args.push_back(std::move(e));
      advance();
      if (!enter(sl->loc) || !parseSlices(*sl))
        return nullptr;
      leave();
      e = std::move(sl);
    } else {
      break;
    }
  }
  return e;
}

ExprPtr Parser::parsePrimary() {
  SrcLoc loc = tok.loc;
  switch (tok.kind) {
  case Tok::Int: {
    auto e = std::make_unique<Expr>(ExprKind::Int, loc);
    e->intValue = tok.intValue;
    advance();
    return failed ? nullptr : std::move(e);
  }
  case Tok::Float: {
    auto e = std::make_unique<Expr>(ExprKind::Float, loc);
    e->floatValue = tok.floatValue;
    advance();
    return failed ? nullptr : std::move(e);
  }
  case Tok::KwNone:
    advance();
    return failed ? nullptr : std::make_unique<Expr>(ExprKind::None, loc);
  case Tok::Ident: {
    auto e = std::make_unique<Expr>(ExprKind::Name, loc);
    e->name = tok.text;
    advance();
    return failed ? nullptr : std::move(e);
  }
  case Tok::LParen: {
    advance();
    auto e = parseExpr();
    if (!e || !expect(Tok::RParen, "to close the parenthesis"))
      return nullptr;
    return e;
  }
  case Tok::LBracket: {
    advance();
    auto e = std::make_unique<Expr>(ExprKind::List, loc);
    if (!at(Tok::RBracket)) {
      do {
        auto item = parseExpr();
        if (!item)
          return nullptr;
        e->args.push_back(std::move(item));
      } while (accept(Tok::Comma));
    }
    if (!expect(Tok::RBracket, "to close the list"))
      return nullptr;
    return e;
  }
  default:
    if (!failed)
      failHere(std::string("expected an expression, found ") + describe(tok.kind));
    return nullptr;
  }
}

} // namespace ra::graph
