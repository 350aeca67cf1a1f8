#include "ir/frontend/Parser.h"

#include <catch2/catch.hpp>

using namespace ra::graph;

struct ParseResult {
  std::optional<Module> module;
  std::string error;
  SrcLoc at;
};

static ParseResult parse(const std::string &text) {
  ParseResult r;
  Parser p(text, 0, [&](SrcLoc loc, const std::string &msg) {
    r.error = msg;
    r.at = loc;
  });
  r.module = p.parseModule();
  return r;
}

TEST_CASE("parser: a file's structure", "[parser]") {
  auto r = parse("import \"lib.graph\"\nconfig d = 4 * 2\nfn f(x, y) mechanism gate {\n"
                 "  param w: [d, d] = normal(0.02), nodecay\n  return x @ w, y\n}\n"
                 "input t: i32[2, d]\na, b = f(t, 1) as s[0]\noutput o = a\n");
  REQUIRE(r.module);
  CHECK(r.error.empty());
  REQUIRE(r.module->imports.size() == 1);
  CHECK(r.module->imports[0].path == "lib.graph");
  REQUIRE(r.module->functions.size() == 1);
  const FnDecl &f = *r.module->functions[0];
  CHECK(f.name == "f");
  CHECK(f.params == std::vector<std::string>{"x", "y"});
  CHECK(f.mechanism == "gate");
  REQUIRE(f.body.size() == 2);
  CHECK(f.body[0]->kind == StmtKind::Param);
  CHECK(f.body[0]->decay == 0);
  CHECK(f.body[1]->values.size() == 2);
  REQUIRE(r.module->statements.size() == 4);
  const Stmt &assign = *r.module->statements[2];
  CHECK(assign.kind == StmtKind::Assign);
  CHECK(assign.names == std::vector<std::string>{"a", "b"});
  const Expr &call = *assign.values[0];
  CHECK(call.kind == ExprKind::Call);
  CHECK(call.scopeName == "s");
  CHECK(call.scopeIndex != nullptr);
}

TEST_CASE("parser: precedence and keyword arguments", "[parser]") {
  auto r = parse("y = a + b * c @ d\nz = f(x, k=1 + 2)\n");
  REQUIRE(r.module);
  const Expr &sum = *r.module->statements[0]->values[0];
  CHECK(sum.op == Tok::Plus);
  CHECK(sum.args[1]->op == Tok::At);
  CHECK(sum.args[1]->args[0]->op == Tok::Star);
  const Expr &call = *r.module->statements[1]->values[0];
  REQUIRE(call.kwargs.size() == 1);
  CHECK(call.kwargs[0].name == "k");
  CHECK(call.kwargs[0].value->op == Tok::Plus);
}

TEST_CASE("parser: errors name what was expected", "[parser]") {
  auto r = parse("y = f(x\n");
  CHECK(!r.module);
  CHECK(r.error == "'(' is never closed");
  r = parse("fn f(x) {\n  config a = 1\n}\n");
  CHECK(r.error == "'config' is only allowed at the top level of a file");
  CHECK(r.at.line == 2);
  CHECK(r.at.col == 3);
  r = parse("y = f(a=1, 2)\n");
  CHECK(r.error == "positional argument after keyword arguments");
  r = parse("3 = x\n");
  CHECK(r.error == "only names can be assigned to");
}

TEST_CASE("parser: deep nesting is an error, not a stack overflow", "[parser]") {
  std::string deep = "y = " + std::string(100000, '(') + "x" + std::string(100000, ')') + "\n";
  auto r = parse(deep);
  CHECK(!r.module);
  CHECK(r.error.find("nesting is too deep") != std::string::npos);
  std::string minus = "y = " + std::string(100000, '-') + "x\n";
  CHECK(parse(minus).error.find("nesting is too deep") != std::string::npos);
}
