//===- RanksFuzzer.cpp - libFuzzer target for BPE ranks files -------------===//
//
// Arbitrary bytes as a tiktoken ranks file. The reader's contract: an error
// names the file, never a crash; a file it accepts has every single byte,
// ranks 0..N-1 each naming its own bytes, and merging any bytes with it gives
// ids that spell those bytes.
//
//===----------------------------------------------------------------------===//
#include "test/fuzz/FuzzInput.h"
#include "tokenizer/BpeRanks.h"

using namespace racc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  std::string error;
  auto ranks = ra::tok::BpeRanks::parse(text, "fuzz.tiktoken", error);
  if (!ranks) {
    fuzzCheck(error.find("fuzz.tiktoken") != std::string::npos, "an error names the file");
    return 0;
  }
  fuzzCheck(ranks->size() >= 256, "every single byte is a token");
  for (int32_t r = 0; r < ranks->size(); ++r)
    fuzzCheck(ranks->rank(ranks->bytes(r)) == r, "a rank's bytes have that rank");
  std::string_view piece = text.substr(0, 64);
  std::vector<int32_t> ids;
  ranks->merge(piece, ids);
  std::string spelled;
  for (int32_t id : ids) {
    fuzzCheck(id >= 0 && id < ranks->size(), "merged ids are ranks");
    spelled += ranks->bytes(id);
  }
  fuzzCheck(spelled == piece, "merged ids spell the piece");
  return 0;
}
