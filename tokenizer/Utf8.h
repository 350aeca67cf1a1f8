//===- Utf8.h - characters of UTF-8 text and their regex classes --*- C++ -*-===//
//
// GPT-2's pre-tokenizer sees text as characters of four classes: letters
// (\p{L}), numbers (\p{N}), white space (\s, Unicode's White_Space) and
// everything else. The classes come from ICU, so they follow Unicode as ICU
// ships it (ICU 72: Unicode 15.0).
//
// Well-formed UTF-8 only (RFC 3629: no overlong forms, no surrogates, nothing
// past U+10FFFF). A byte that does not begin a well-formed sequence is a
// character of its own, one byte long, of class Other: the class of U+FFFD,
// the character a decoder puts in its place. So every byte of any input lands
// in exactly one character and decoding gives back the input, invalid or not.
//
//===----------------------------------------------------------------------===//
#ifndef RA_TOKENIZER_UTF8_H
#define RA_TOKENIZER_UTF8_H

#include <cstdint>
#include <string_view>

namespace ra::tok {

enum class CharClass : uint8_t { Letter, Number, Space, Other };

struct Char {
  uint32_t codePoint; // 0xFFFD for a byte that is not well-formed UTF-8
  uint8_t bytes;      // 1 to 4
  CharClass cls;
};

/// The class of a code point.
CharClass classOf(uint32_t codePoint);

/// The character that starts at byte `at` of `text` (at < text.size()).
Char charAt(std::string_view text, size_t at);

} // namespace ra::tok

#endif // RA_TOKENIZER_UTF8_H
