//===- Lexer.h - the .graph lexer ------------------------------*- C++ -*-===//
//
// Newlines end statements, except inside ( ) and [ ], so long calls and
// shape lists can span lines. `#` starts a comment.
//
//===----------------------------------------------------------------------===//
#ifndef RA_FRONTEND_LEXER_H
#define RA_FRONTEND_LEXER_H

#include "ir/frontend/Token.h"
#include "llvm/ADT/StringRef.h"

#include <utility>
#include <vector>

namespace ra::graph {

class Lexer {
public:
  Lexer(llvm::StringRef text, uint32_t fileIndex) : text(text), file(fileIndex) {}

  /// The next token. An `Error` token carries its message in `text`.
  Token next();

private:
  Token make(Tok kind, SrcLoc loc, std::string text = {});
  Token error(SrcLoc loc, std::string message);
  SrcLoc here() const { return {file, line, col}; }
  char peek(size_t ahead = 0) const { return pos + ahead < text.size() ? text[pos + ahead] : '\0'; }
  void advance();
  Token lexNumber();
  Token lexIdentifier();
  Token lexString();

  llvm::StringRef text;
  uint32_t file;
  size_t pos = 0;
  uint32_t line = 1, col = 1;
  std::vector<std::pair<char, SrcLoc>> openBrackets; // ( and [ not yet closed
};

/// Offset of the first byte that is not valid UTF-8, or npos when all are.
size_t firstInvalidUtf8(llvm::StringRef text);

} // namespace ra::graph

#endif // RA_FRONTEND_LEXER_H
