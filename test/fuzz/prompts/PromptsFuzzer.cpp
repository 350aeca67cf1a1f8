//===- PromptsFuzzer.cpp - libFuzzer target for rarun generate's prompts --===//
//
// Arbitrary bytes as a --prompts file, each line then read as --prompt-ids
// and checked as rarun generate checks it. The contract: every error names
// the prompt (FILE:LINE) and never crashes; a prompt that passes the checks
// has 1 to context - 1 ids, each inside the vocabulary.
//
//===----------------------------------------------------------------------===//
#include "generate/Prompts.h"
#include "test/fuzz/FuzzInput.h"

using namespace racc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string &path = inputFile(data, size, ".txt");
  std::vector<rarun::Prompt> prompts;
  std::string error;
  if (!rarun::readPromptLines(path, prompts, error)) {
    fuzzCheck(error.find(path) != std::string::npos, "an unreadable or empty file is named");
    return 0;
  }
  const int64_t vocab = 50, context = 8;
  for (rarun::Prompt &p : prompts) {
    fuzzCheck(p.origin.rfind(path + ":", 0) == 0, "a prompt's origin is FILE:LINE");
    fuzzCheck(p.text.find('\n') == std::string::npos, "a prompt is one line");
    if (!rarun::parsePromptIds(p, vocab, error)) {
      fuzzCheck(error.rfind(p.origin + ":", 0) == 0, "a bad id names its prompt");
      continue;
    }
    std::string bad = rarun::checkPrompt(p, vocab, context, "token");
    if (!bad.empty()) {
      fuzzCheck(bad.rfind(p.origin + ":", 0) == 0, "a refused prompt is named");
      continue;
    }
    fuzzCheck(!p.ids.empty() && int64_t(p.ids.size()) < context, "a prompt leaves room");
    for (int32_t id : p.ids)
      fuzzCheck(id >= 0 && id < vocab, "ids lie in the vocabulary");
  }
  return 0;
}
