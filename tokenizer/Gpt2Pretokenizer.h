//===- Gpt2Pretokenizer.h - GPT-2's split of text into pieces -----*- C++ -*-===//
//
// Before byte-pair merging, GPT-2 cuts text with the pattern
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// matched leftmost-first, as tiktoken's regex engine does. This is that
// pattern as a hand-written scanner (no regex engine: the alternatives only
// ever look one character ahead, and a scanner is several times faster).
// Every byte of the input lands in exactly one piece; see Utf8.h for bytes
// that are not well-formed UTF-8.
//
//===----------------------------------------------------------------------===//
#ifndef RA_TOKENIZER_GPT2PRETOKENIZER_H
#define RA_TOKENIZER_GPT2PRETOKENIZER_H

#include <string_view>

namespace ra::tok {

/// The length in bytes of the piece that starts at byte `at` of `text`
/// (at < text.size(); the result is at least 1).
size_t gpt2PieceLength(std::string_view text, size_t at);

/// A position at or after `from` where the text can be cut without changing
/// any piece (encoding the two parts apart equals encoding the whole): before
/// a newline between two printable ASCII characters. text.size() when there
/// is none. Lets long inputs be encoded in parts (progress, memory).
size_t gpt2SafeCut(std::string_view text, size_t from);

/// Calls `piece(std::string_view)` for each piece of `text`, in order.
template <class F> void forEachGpt2Piece(std::string_view text, F &&piece) {
  for (size_t at = 0; at < text.size();) {
    size_t n = gpt2PieceLength(text, at);
    piece(text.substr(at, n));
    at += n;
  }
}

} // namespace ra::tok

#endif // RA_TOKENIZER_GPT2PRETOKENIZER_H
