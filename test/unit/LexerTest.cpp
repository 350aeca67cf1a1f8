#include "ir/frontend/Lexer.h"

#include <catch2/catch.hpp>

using namespace ra::graph;

static std::vector<Token> lex(const std::string &text) {
  Lexer lexer(text, 0);
  std::vector<Token> out;
  for (;;) {
    Token t = lexer.next();
    out.push_back(t);
    if (t.kind == Tok::Eof || t.kind == Tok::Error)
      return out;
  }
}

TEST_CASE("lexer: numbers, ranges and separators", "[lexer]") {
  auto t = lex("0..n_layer 1.5e-3 50_257 2e3 .5");
  REQUIRE(t.size() == 8);
  CHECK(t[0].kind == Tok::Int);
  CHECK(t[1].kind == Tok::DotDot);
  CHECK(t[2].kind == Tok::Ident);
  CHECK(t[3].kind == Tok::Float);
  CHECK(t[3].floatValue == Approx(1.5e-3));
  CHECK(t[4].intValue == 50257);
  CHECK(t[5].kind == Tok::Float);
  CHECK(t[5].floatValue == 2000.0);
  CHECK(t[6].floatValue == 0.5);
}

TEST_CASE("lexer: operators and keywords", "[lexer]") {
  auto t = lex("a // b == c != d <= e @ f as for");
  std::vector<Tok> kinds;
  for (auto &x : t)
    kinds.push_back(x.kind);
  CHECK(kinds == std::vector<Tok>{Tok::Ident, Tok::SlashSlash, Tok::Ident, Tok::Eq, Tok::Ident,
                                  Tok::Ne, Tok::Ident, Tok::Le, Tok::Ident, Tok::At, Tok::Ident,
                                  Tok::KwAs, Tok::KwFor, Tok::Eof});
}

TEST_CASE("lexer: newlines end statements except inside brackets", "[lexer]") {
  auto t = lex("f(a,\n  b)\n# comment\nx");
  std::vector<Tok> kinds;
  for (auto &x : t)
    kinds.push_back(x.kind);
  CHECK(kinds == std::vector<Tok>{Tok::Ident, Tok::LParen, Tok::Ident, Tok::Comma, Tok::Ident,
                                  Tok::RParen, Tok::Newline, Tok::Newline, Tok::Ident, Tok::Eof});
  CHECK(t[8].loc.line == 4);
  CHECK(t[8].loc.col == 1);
}

TEST_CASE("lexer: errors carry a position and a message", "[lexer]") {
  auto t = lex("x = 3 $");
  REQUIRE(t.back().kind == Tok::Error);
  CHECK(t.back().loc.col == 7);
  CHECK(t.back().text == "unexpected character '$'");
  CHECK(lex("99999999999999999999").back().text == "integer '99999999999999999999' does not "
                                                   "fit in 64 bits");
  CHECK(lex("\"open").back().text == "unterminated string");
  CHECK(lex("12abc").back().kind == Tok::Error);
}

TEST_CASE("lexer: UTF-8 validation finds the first bad byte", "[lexer]") {
  CHECK(firstInvalidUtf8("plain # caf\xc3\xa9") == llvm::StringRef::npos);
  CHECK(firstInvalidUtf8("ab\xff") == 2);
  CHECK(firstInvalidUtf8("ab\xc3") == 2); // truncated sequence
}
