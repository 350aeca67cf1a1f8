//===- Lexer.cpp - the .graph lexer ---------------------------------------===//
#include "ir/frontend/Lexer.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/ConvertUTF.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace ra::graph {

const char *describe(Tok kind) {
  switch (kind) {
  case Tok::Eof:
    return "end of file";
  case Tok::Newline:
    return "end of line";
  case Tok::Error:
    return "invalid token";
  case Tok::Ident:
    return "identifier";
  case Tok::Int:
    return "integer";
  case Tok::Float:
    return "number";
  case Tok::String:
    return "string";
  case Tok::KwImport:
    return "'import'";
  case Tok::KwConfig:
    return "'config'";
  case Tok::KwFn:
    return "'fn'";
  case Tok::KwParam:
    return "'param'";
  case Tok::KwInput:
    return "'input'";
  case Tok::KwOutput:
    return "'output'";
  case Tok::KwReturn:
    return "'return'";
  case Tok::KwFor:
    return "'for'";
  case Tok::KwIn:
    return "'in'";
  case Tok::KwIf:
    return "'if'";
  case Tok::KwElse:
    return "'else'";
  case Tok::KwAs:
    return "'as'";
  case Tok::KwNone:
    return "'none'";
  case Tok::KwAnd:
    return "'and'";
  case Tok::KwOr:
    return "'or'";
  case Tok::KwNot:
    return "'not'";
  case Tok::KwDecay:
    return "'decay'";
  case Tok::KwNoDecay:
    return "'nodecay'";
  case Tok::KwMechanism:
    return "'mechanism'";
  case Tok::LParen:
    return "'('";
  case Tok::RParen:
    return "')'";
  case Tok::LBracket:
    return "'['";
  case Tok::RBracket:
    return "']'";
  case Tok::LBrace:
    return "'{'";
  case Tok::RBrace:
    return "'}'";
  case Tok::Comma:
    return "','";
  case Tok::Colon:
    return "':'";
  case Tok::Assign:
    return "'='";
  case Tok::DotDot:
    return "'..'";
  case Tok::Plus:
    return "'+'";
  case Tok::Minus:
    return "'-'";
  case Tok::Star:
    return "'*'";
  case Tok::Slash:
    return "'/'";
  case Tok::SlashSlash:
    return "'//'";
  case Tok::Percent:
    return "'%'";
  case Tok::At:
    return "'@'";
  case Tok::Eq:
    return "'=='";
  case Tok::Ne:
    return "'!='";
  case Tok::Lt:
    return "'<'";
  case Tok::Le:
    return "'<='";
  case Tok::Gt:
    return "'>'";
  case Tok::Ge:
    return "'>='";
  }
  return "token";
}

size_t firstInvalidUtf8(llvm::StringRef text) {
  const auto *p = reinterpret_cast<const llvm::UTF8 *>(text.data());
  const auto *end = p + text.size();
  const auto *begin = p;
  while (p < end) {
    unsigned n = llvm::getNumBytesForUTF8(*p);
    if (p + n > end || !llvm::isLegalUTF8Sequence(p, p + n))
      return size_t(p - begin);
    p += n;
  }
  return llvm::StringRef::npos;
}

void Lexer::advance() {
  if (pos >= text.size())
    return;
  if (text[pos] == '\n') {
    ++line;
    col = 1;
  } else {
    ++col;
  }
  ++pos;
}

Token Lexer::make(Tok kind, SrcLoc loc, std::string spelling) {
  Token t;
  t.kind = kind;
  t.loc = loc;
  t.text = std::move(spelling);
  return t;
}

Token Lexer::error(SrcLoc loc, std::string message) {
  return make(Tok::Error, loc, std::move(message));
}

Token Lexer::next() {
  for (;;) {
    char c = peek();
    if (c == '#') {
      while (peek() != '\n' && pos < text.size())
        advance();
      continue;
    }
    if (c == '\n' && !openBrackets.empty()) {
      advance();
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      advance();
      continue;
    }
    break;
  }
  SrcLoc loc = here();
  if (pos >= text.size()) {
    if (!openBrackets.empty())
      return error(openBrackets.back().second,
                   std::string("'") + openBrackets.back().first + "' is never closed");
    return make(Tok::Eof, loc);
  }
  char c = peek();
  if (c == '\n') {
    advance();
    return make(Tok::Newline, loc);
  }
  if (std::isdigit((unsigned char)c) || (c == '.' && std::isdigit((unsigned char)peek(1))))
    return lexNumber();
  if (std::isalpha((unsigned char)c) || c == '_')
    return lexIdentifier();
  if (c == '"')
    return lexString();

  auto one = [&](Tok kind) {
    advance();
    return make(kind, loc);
  };
  auto two = [&](Tok kind) {
    advance();
    advance();
    return make(kind, loc);
  };
  switch (c) {
  case '(':
  case '[':
    openBrackets.push_back({c, loc});
    return one(c == '(' ? Tok::LParen : Tok::LBracket);
  case ')':
  case ']': {
    char open = c == ')' ? '(' : '[';
    if (!openBrackets.empty() && openBrackets.back().first != open)
      return error(loc, std::string("'") + c + "' closes '" + openBrackets.back().first +
                            "' opened at line " + std::to_string(openBrackets.back().second.line) +
                            ", column " + std::to_string(openBrackets.back().second.col));
    if (!openBrackets.empty())
      openBrackets.pop_back();
    return one(c == ')' ? Tok::RParen : Tok::RBracket);
  }
  case '{':
    return one(Tok::LBrace);
  case '}':
    return one(Tok::RBrace);
  case ',':
    return one(Tok::Comma);
  case ':':
    return one(Tok::Colon);
  case '+':
    return one(Tok::Plus);
  case '-':
    return one(Tok::Minus);
  case '*':
    return one(Tok::Star);
  case '%':
    return one(Tok::Percent);
  case '@':
    return one(Tok::At);
  case '/':
    return peek(1) == '/' ? two(Tok::SlashSlash) : one(Tok::Slash);
  case '=':
    return peek(1) == '=' ? two(Tok::Eq) : one(Tok::Assign);
  case '<':
    return peek(1) == '=' ? two(Tok::Le) : one(Tok::Lt);
  case '>':
    return peek(1) == '=' ? two(Tok::Ge) : one(Tok::Gt);
  case '!':
    if (peek(1) == '=')
      return two(Tok::Ne);
    break;
  case '.':
    if (peek(1) == '.')
      return two(Tok::DotDot);
    break;
  default:
    break;
  }
  unsigned char uc = (unsigned char)c;
  if (uc >= 0x80)
    return error(loc, "unexpected non-ASCII character; names and operators are ASCII");
  if (!std::isprint(uc))
    return error(loc, "unexpected control character (byte " + std::to_string(uc) + ")");
  return error(loc, std::string("unexpected character '") + c + "'");
}

Token Lexer::lexNumber() {
  SrcLoc loc = here();
  std::string digits;
  bool isFloat = false;
  auto takeDigits = [&] {
    while (std::isdigit((unsigned char)peek()) ||
           (peek() == '_' && std::isdigit((unsigned char)peek(1)))) {
      if (peek() != '_')
        digits += peek();
      advance();
    }
  };
  takeDigits();
  // `0..n` is a range, not the float `0.`
  if (peek() == '.' && peek(1) != '.') {
    isFloat = true;
    digits += '.';
    advance();
    takeDigits();
  }
  if (peek() == 'e' || peek() == 'E') {
    size_t save = 1;
    if (peek(1) == '+' || peek(1) == '-')
      save = 2;
    if (std::isdigit((unsigned char)peek(save))) {
      isFloat = true;
      digits += 'e';
      advance();
      if (save == 2) {
        digits += peek();
        advance();
      }
      takeDigits();
    }
  }
  if (std::isalpha((unsigned char)peek()) || peek() == '_')
    return error(here(), "unexpected character '" + std::string(1, peek()) + "' after a number");
  Token t = make(isFloat ? Tok::Float : Tok::Int, loc, digits);
  errno = 0;
  if (isFloat) {
    t.floatValue = std::strtod(digits.c_str(), nullptr);
    if (errno == ERANGE)
      return error(loc, "number '" + digits + "' is out of range");
  } else {
    char *end = nullptr;
    long long v = std::strtoll(digits.c_str(), &end, 10);
    if (errno == ERANGE)
      return error(loc, "integer '" + digits + "' does not fit in 64 bits");
    t.intValue = v;
  }
  return t;
}

Token Lexer::lexIdentifier() {
  SrcLoc loc = here();
  size_t start = pos;
  while (std::isalnum((unsigned char)peek()) || peek() == '_')
    advance();
  std::string word = text.substr(start, pos - start).str();
  Tok kind = llvm::StringSwitch<Tok>(word)
                 .Case("import", Tok::KwImport)
                 .Case("config", Tok::KwConfig)
                 .Case("fn", Tok::KwFn)
                 .Case("param", Tok::KwParam)
                 .Case("input", Tok::KwInput)
                 .Case("output", Tok::KwOutput)
                 .Case("return", Tok::KwReturn)
                 .Case("for", Tok::KwFor)
                 .Case("in", Tok::KwIn)
                 .Case("if", Tok::KwIf)
                 .Case("else", Tok::KwElse)
                 .Case("as", Tok::KwAs)
                 .Case("none", Tok::KwNone)
                 .Case("and", Tok::KwAnd)
                 .Case("or", Tok::KwOr)
                 .Case("not", Tok::KwNot)
                 .Case("decay", Tok::KwDecay)
                 .Case("nodecay", Tok::KwNoDecay)
                 .Case("mechanism", Tok::KwMechanism)
                 .Case("report", Tok::KwReport)
                 .Default(Tok::Ident);
  return make(kind, loc, word);
}

Token Lexer::lexString() {
  SrcLoc loc = here();
  advance(); // opening quote
  std::string value;
  for (;;) {
    char c = peek();
    if (pos >= text.size() || c == '\n')
      return error(loc, "unterminated string");
    if (c == '"') {
      advance();
      break;
    }
    if (c == '\\') {
      char e = peek(1);
      if (e != '"' && e != '\\')
        return error(here(), "unknown escape in string; only \\\" and \\\\ are allowed");
      value += e;
      advance();
      advance();
      continue;
    }
    value += c;
    advance();
  }
  return make(Tok::String, loc, value);
}

} // namespace ra::graph
