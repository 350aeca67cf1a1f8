//===- TokenizerTest.cpp - GPT-2's pre-tokenizer, BPE merges, ranks files -===//
//
// The pattern's cases by hand, merges on a vocabulary small enough to follow,
// the ranks reader's errors, and on GPT-2's real ranks: decode(encode(x)) == x
// for any bytes, and encoding in parts cut at gpt2SafeCut equals the whole.
// (Agreement with tiktoken itself: test/tokenizer/.)
//
//===----------------------------------------------------------------------===//
#include "tokenizer/Tokenizer.h"
#include "tokenizer/BpeRanks.h"
#include "tokenizer/Gpt2Pretokenizer.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <random>

using namespace ra::tok;

namespace {

std::vector<std::string> pieces(std::string_view text) {
  std::vector<std::string> out;
  forEachGpt2Piece(text, [&](std::string_view p) { out.emplace_back(p); });
  return out;
}

std::string base64(std::string_view bytes) {
  static const char *digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size())
      v |= uint8_t(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size())
      v |= uint8_t(bytes[i + 2]);
    out += digits[(v >> 18) & 63];
    out += digits[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? digits[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? digits[v & 63] : '=';
  }
  return out;
}

/// The 256 bytes (ranks 0..255) and then `merges` in rank order.
std::string ranksText(const std::vector<std::string> &merges) {
  std::string text;
  int rank = 0;
  for (int b = 0; b < 256; ++b)
    text += base64(std::string(1, char(b))) + " " + std::to_string(rank++) + "\n";
  for (const std::string &m : merges)
    text += base64(m) + " " + std::to_string(rank++) + "\n";
  return text;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace

TEST_CASE("gpt2 pattern: words, numbers, symbols, contractions", "[tokenizer]") {
  using V = std::vector<std::string>;
  CHECK(pieces("Hello world") == V{"Hello", " world"});
  CHECK(pieces("don't we'll I'M") == V{"don", "'t", " we", "'ll", " I", "'", "M"});
  CHECK(pieces("''s 's") == V{"''", "s", " '", "s"});
  CHECK(pieces("1234 ab12") == V{"1234", " ab", "12"});
  CHECK(pieces("!!! ?x") == V{"!!!", " ?", "x"});
  CHECK(pieces("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87") ==
        V{"caf\xc3\xa9", " \xe4\xb8\xad\xe6\x96\x87"});
}

TEST_CASE("gpt2 pattern: white space keeps its last character for the next word", "[tokenizer]") {
  using V = std::vector<std::string>;
  CHECK(pieces("  x") == V{" ", " x"});
  CHECK(pieces("a\n\nb") == V{"a", "\n", "\n", "b"});
  CHECK(pieces("a \n b") == V{"a", " \n", " b"});
  CHECK(pieces("x   ") == V{"x", "   "});
  CHECK(pieces("\t\tx") == V{"\t", "\t", "x"});
  // U+3000 IDEOGRAPHIC SPACE is White_Space; U+001F is not.
  CHECK(pieces("a\xe3\x80\x80\xe3\x80\x80z") == V{"a", "\xe3\x80\x80", "\xe3\x80\x80", "z"});
  CHECK(pieces("a\x1f b") == V{"a", "\x1f", " b"});
}

TEST_CASE("gpt2 pattern: a byte that is not UTF-8 is a character of class Other", "[tokenizer]") {
  using V = std::vector<std::string>;
  CHECK(pieces("\xff a") == V{"\xff", " a"});
  CHECK(pieces("a\xe2\x82z") == V{"a", "\xe2\x82", "z"});
  CHECK(pieces("x\xc0\xaf!") == V{"x", "\xc0\xaf!"});               // overlong '/'
  CHECK(pieces("x\xed\xa0\x80y") == V{"x", "\xed\xa0\x80", "y"});   // a surrogate
  CHECK(pieces("x\xf4\x90\x80\x80") == V{"x", "\xf4\x90\x80\x80"}); // past U+10FFFF
}

TEST_CASE("bpe: merges the lowest-ranked pair first", "[tokenizer]") {
  std::string error;
  auto ranks = BpeRanks::parse(ranksText({"ab", "bc", "abc", "cd"}), "tiny", error);
  REQUIRE(ranks);
  std::vector<int32_t> ids;
  ranks->merge("abcd", ids); // ab (256) before bc (257); then abc (258)
  CHECK(ids == std::vector<int32_t>{258, 'd'});
  ids.clear();
  ranks->merge("bcd", ids); // bc (257) before cd (259)
  CHECK(ids == std::vector<int32_t>{257, 'd'});
  ids.clear();
  ranks->merge("xcd", ids);
  CHECK(ids == std::vector<int32_t>{'x', 259});

  auto tokenizer = gpt2StyleTokenizerFromText(ranksText({"ab", " a"}), error);
  REQUIRE(tokenizer);
  CHECK(tokenizer->vocabSize() == 259);
  CHECK(tokenizer->endOfText() == 258);
  ids.clear();
  tokenizer->encode("ab ab", ids);
  CHECK(ids == std::vector<int32_t>{256, ' ', 256}); // " ab": ab (256) wins over " a" (257)
  std::string text;
  CHECK(tokenizer->decode(ids, text, error));
  CHECK(text == "ab ab");
  std::vector<int32_t> bad{'a', 259};
  CHECK_FALSE(tokenizer->decode(bad, text, error));
  CHECK(error == "token id 259 at position 1 is outside the bpe vocabulary of 259");
}

TEST_CASE("bpe ranks: errors name the file, the line and the problem", "[tokenizer]") {
  std::string error;
  auto parse = [&](const std::string &text) {
    error.clear();
    return BpeRanks::parse(text, "r.tiktoken", error) != nullptr;
  };
  std::string bytes = ranksText({});
  CHECK(parse(bytes));
  CHECK_FALSE(parse(bytes + "YWI= 256 7\n"));
  CHECK(error == "r.tiktoken:257: '256 7' is not a rank");
  CHECK_FALSE(parse(bytes + "Y!I= 256\n"));
  CHECK(error == "r.tiktoken:257: 'Y!I=' is not base64");
  CHECK_FALSE(parse(bytes + "YWI=\n"));
  CHECK(error == "r.tiktoken:257: expected 'BASE64 RANK'");
  CHECK_FALSE(parse(bytes + "YWI= 12\n"));
  CHECK(error == "r.tiktoken:257: rank 12 is given twice");
  CHECK_FALSE(parse(bytes + "YWI= 900\n"));
  CHECK(error == "r.tiktoken:257: rank 900 is not below the 257 tokens");
  CHECK_FALSE(parse(bytes + "YQ== 256\n"));
  CHECK(error == "r.tiktoken:257: token 'a' is given twice");
  CHECK_FALSE(parse(bytes.substr(bytes.find('\n') + 1) + "YWI= 0\n"));
  CHECK(error == "the BPE ranks 'r.tiktoken' lack the single byte 0x00: not every text could be "
                 "encoded");
  CHECK_FALSE(parse(""));
  CHECK(error == "the BPE ranks 'r.tiktoken' hold no tokens");
  CHECK_FALSE(BpeRanks::load("/nonexistent/r.tiktoken", error));
  CHECK(error == "cannot read the BPE ranks '/nonexistent/r.tiktoken': No such file or directory");
}

TEST_CASE("gpt2: decode(encode(x)) == x, and parts cut safely encode as the whole", "[tokenizer]") {
  std::string error;
  auto gpt2 = makeTokenizer("gpt2", error);
  INFO(error);
  REQUIRE(gpt2); // scripts/fetch_gpt2_ranks.sh puts the ranks in data/
  CHECK(gpt2->vocabSize() == 50257);
  CHECK(gpt2->endOfText() == 50256);

  std::vector<std::string> texts = {
      readFile(RACC_SOURCE_DIR "/test/tokenizer/Inputs/adversarial.txt"),
      readFile(RACC_SOURCE_DIR "/test/tokenizer/Inputs/invalid_utf8.bin"), "", " ",
      "<|endoftext|>"};
  std::mt19937 rng(7);
  for (int n = 0; n < 50; ++n) { // random bytes, mostly invalid UTF-8
    std::string s(rng() % 200, '\0');
    for (char &c : s)
      c = char(rng() % 3 ? "ab \n'1\xc3\xe2\x80"[rng() % 10] : rng());
    texts.push_back(s);
  }
  REQUIRE(texts[0].size() > 10000);
  for (const std::string &text : texts) {
    std::vector<int32_t> whole;
    gpt2->encode(text, whole);
    std::string back;
    REQUIRE(gpt2->decode(whole, back, error));
    CHECK(back == text);
    // Cut at every safe place: the same ids.
    std::vector<int32_t> parts;
    for (size_t at = 0; at < text.size();) {
      size_t cut = gpt2SafeCut(text, at + 1);
      gpt2->encode(std::string_view(text).substr(at, cut - at), parts);
      at = cut;
    }
    CHECK(parts == whole);
  }
  // The special token's text is ordinary text; its id decodes to it.
  std::vector<int32_t> ids;
  gpt2->encode("<|endoftext|>", ids);
  CHECK(ids.size() > 1);
  std::string text;
  std::vector<int32_t> eot{50256};
  CHECK(gpt2->decode(eot, text, error));
  CHECK(text == "<|endoftext|>");
}
