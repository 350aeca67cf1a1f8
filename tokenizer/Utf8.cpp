//===- Utf8.cpp - characters of UTF-8 text and their regex classes --------===//
#include "tokenizer/Utf8.h"

#include <array>
#include <unicode/uchar.h>

namespace ra::tok {

namespace {

CharClass classFromIcu(uint32_t c) {
  UChar32 u = UChar32(c);
  if (u_isUWhiteSpace(u))
    return CharClass::Space;
  uint32_t mask = U_GET_GC_MASK(u);
  if (mask & U_GC_L_MASK)
    return CharClass::Letter;
  if (mask & U_GC_N_MASK)
    return CharClass::Number;
  return CharClass::Other;
}

/// The Basic Multilingual Plane's classes, looked up once: almost all text
/// lies there, and a table read is cheaper than ICU's trie.
const std::array<CharClass, 0x10000> &bmpClasses() {
  static const auto table = [] {
    std::array<CharClass, 0x10000> t;
    for (uint32_t c = 0; c < t.size(); ++c)
      t[c] = classFromIcu(c);
    return t;
  }();
  return table;
}

bool continuation(std::string_view s, size_t at) {
  return at < s.size() && (uint8_t(s[at]) & 0xC0) == 0x80;
}

} // namespace

CharClass classOf(uint32_t codePoint) {
  return codePoint < 0x10000 ? bmpClasses()[codePoint] : classFromIcu(codePoint);
}

Char charAt(std::string_view s, size_t at) {
  static const std::array<CharClass, 0x10000> &bmp = bmpClasses();
  uint8_t b0 = uint8_t(s[at]);
  if (b0 < 0x80)
    return {b0, 1, bmp[b0]};
  const Char invalid{0xFFFD, 1, CharClass::Other};
  // The second byte's range depends on the first (Unicode's table 3-7), which
  // rules out overlong forms, surrogates and code points past U+10FFFF.
  uint8_t lo = 0x80, hi = 0xBF;
  int length;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    lo = b0 == 0xE0 ? 0xA0 : 0x80;
    hi = b0 == 0xED ? 0x9F : 0xBF;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    lo = b0 == 0xF0 ? 0x90 : 0x80;
    hi = b0 == 0xF4 ? 0x8F : 0xBF;
  } else {
    return invalid;
  }
  if (at + 1 >= s.size() || uint8_t(s[at + 1]) < lo || uint8_t(s[at + 1]) > hi)
    return invalid;
  uint32_t cp = b0 & (0x7F >> length);
  for (int k = 1; k < length; ++k) {
    if (!continuation(s, at + k))
      return invalid;
    cp = (cp << 6) | (uint8_t(s[at + k]) & 0x3F);
  }
  return {cp, uint8_t(length), cp < 0x10000 ? bmp[cp] : classFromIcu(cp)};
}

} // namespace ra::tok
