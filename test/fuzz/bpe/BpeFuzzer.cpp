//===- BpeFuzzer.cpp - libFuzzer target for GPT-2's tokenizer -------------===//
//
// Arbitrary bytes as text for GPT-2's tokenizer (the real ranks, from
// data/gpt2.tiktoken). Its contract: the pieces cover the input exactly, in
// order, none empty; every id lies in the vocabulary; decode(encode(x)) == x
// for any bytes, UTF-8 or not; encoding parts cut at gpt2SafeCut gives the
// ids of the whole.
//
//===----------------------------------------------------------------------===//
#include "test/fuzz/FuzzInput.h"
#include "tokenizer/Gpt2Pretokenizer.h"
#include "tokenizer/Tokenizer.h"

using namespace racc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static std::unique_ptr<ra::tok::Tokenizer> gpt2 = [] {
    std::string error;
    auto t = ra::tok::makeTokenizer("gpt2", error);
    if (!t)
      std::fprintf(stderr, "racc fuzz: %s\n", error.c_str());
    fuzzCheck(t != nullptr, "GPT-2's ranks load (scripts/fetch_gpt2_ranks.sh)");
    return t;
  }();
  std::string_view text(reinterpret_cast<const char *>(data), size);

  size_t covered = 0;
  ra::tok::forEachGpt2Piece(text, [&](std::string_view piece) {
    fuzzCheck(!piece.empty(), "no piece is empty");
    fuzzCheck(piece.data() == text.data() + covered, "pieces follow each other");
    covered += piece.size();
  });
  fuzzCheck(covered == size, "the pieces cover the input");

  std::vector<int32_t> ids;
  gpt2->encode(text, ids);
  for (int32_t id : ids)
    fuzzCheck(id >= 0 && id < gpt2->endOfText(), "every id is an ordinary token");
  std::string back, error;
  fuzzCheck(gpt2->decode(ids, back, error), "the ids decode");
  fuzzCheck(back == text, "decode(encode(x)) == x");

  std::vector<int32_t> parts;
  for (size_t at = 0; at < size;) {
    size_t cut = ra::tok::gpt2SafeCut(text, at + 1);
    fuzzCheck(cut > at && cut <= size, "a safe cut moves forward");
    gpt2->encode(text.substr(at, cut - at), parts);
    at = cut;
  }
  fuzzCheck(parts == ids, "parts cut safely encode as the whole");
  return 0;
}
