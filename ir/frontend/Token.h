//===- Token.h - tokens of the .graph language -------------------*- C++ -*-===//
#ifndef RA_FRONTEND_TOKEN_H
#define RA_FRONTEND_TOKEN_H

#include <cstdint>
#include <string>

namespace ra::graph {

/// A position in a loaded source file: index into the SourceSet, 1-based line
/// and byte column.
struct SrcLoc {
  uint32_t file = 0;
  uint32_t line = 0;
  uint32_t col = 0;
};

enum class Tok {
  Eof,
  Newline,
  Error,
  Ident,
  Int,
  Float,
  String,
  // keywords
  KwImport,
  KwConfig,
  KwFn,
  KwParam,
  KwInput,
  KwOutput,
  KwReturn,
  KwFor,
  KwIn,
  KwIf,
  KwElse,
  KwAs,
  KwNone,
  KwAnd,
  KwOr,
  KwNot,
  KwDecay,
  KwNoDecay,
  KwMechanism,
  KwReport,
  // punctuation
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  Comma,
  Colon,
  Assign,
  DotDot,
  Plus,
  Minus,
  Star,
  Slash,
  SlashSlash,
  Percent,
  At,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
};

struct Token {
  Tok kind = Tok::Eof;
  SrcLoc loc;
  std::string text; // identifier, string contents, or the literal's spelling
  int64_t intValue = 0;
  double floatValue = 0;
};

/// How a token kind reads in an error message: `')'`, `identifier`.
const char *describe(Tok kind);

} // namespace ra::graph

#endif // RA_FRONTEND_TOKEN_H
