//===- Gpt2Pretokenizer.cpp - GPT-2's split of text into pieces -----------===//
#include "tokenizer/Gpt2Pretokenizer.h"

#include "tokenizer/Utf8.h"

#include <algorithm>

namespace ra::tok {

namespace {

/// 's 't 're 've 'm 'll 'd at `at` (which holds an apostrophe): the
/// contraction's length, or 0. Case-sensitive, as GPT-2's pattern is.
size_t contractionLength(std::string_view s, size_t at) {
  std::string_view rest = s.substr(at + 1);
  if (rest.empty())
    return 0;
  char c = rest[0];
  if (c == 's' || c == 't' || c == 'm' || c == 'd')
    return 2;
  if (rest.size() >= 2 &&
      (rest.substr(0, 2) == "re" || rest.substr(0, 2) == "ve" || rest.substr(0, 2) == "ll"))
    return 3;
  return 0;
}

} // namespace

size_t gpt2PieceLength(std::string_view s, size_t at) {
  Char c = charAt(s, at);
  if (c.codePoint == '\'')
    if (size_t n = contractionLength(s, at))
      return n;
  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then a
  // run of one class. The space is taken only if what follows is not space.
  size_t start = at;
  Char first = c;
  if (c.codePoint == ' ' && at + 1 < s.size()) {
    Char next = charAt(s, at + 1);
    if (next.cls != CharClass::Space) {
      start = at + 1;
      first = next;
    }
  }
  if (first.cls != CharClass::Space) {
    size_t end = start + first.bytes;
    while (end < s.size()) {
      Char d = charAt(s, end);
      if (d.cls != first.cls)
        break;
      end += d.bytes;
    }
    return end - at;
  }
  // White space. `\s+(?!\S)` takes a run up to the end of the text, or all
  // but the run's last character when text follows (that one belongs to
  // the next piece: " word"); `\s+` takes a lone one.
  size_t end = at, last = at;
  while (end < s.size()) {
    Char d = charAt(s, end);
    if (d.cls != CharClass::Space)
      break;
    last = end;
    end += d.bytes;
  }
  if (end == s.size())
    return end - at;
  return last > at ? last - at : end - at;
}

size_t gpt2SafeCut(std::string_view s, size_t from) {
  auto printable = [](char c) { return c > 0x20 && c < 0x7F; };
  for (size_t at = std::max<size_t>(from, 1); at + 1 < s.size(); ++at) {
    at = s.find('\n', at);
    if (at == std::string_view::npos || at + 1 >= s.size())
      break;
    if (printable(s[at - 1]) && printable(s[at + 1]))
      return at;
  }
  return s.size();
}

} // namespace ra::tok
