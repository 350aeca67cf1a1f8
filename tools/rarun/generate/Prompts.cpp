//===- Prompts.cpp - what rarun generate continues ------------------------===//
#include "generate/Prompts.h"

#include <fmt/format.h>
#include <fstream>
#include <sstream>

namespace rarun {

bool readPromptLines(const std::string &path, std::vector<Prompt> &out, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("--prompts {}: cannot read the file", path);
    return false;
  }
  std::string line;
  size_t before = out.size();
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    out.push_back({fmt::format("{}:{}", path, number), line, {}});
  }
  if (out.size() == before) {
    error = fmt::format("--prompts {}: the file holds no prompt (one per line)", path);
    return false;
  }
  return true;
}

bool parsePromptIds(Prompt &prompt, int64_t vocab, std::string &error) {
  std::stringstream in(prompt.text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char *end = nullptr;
    long id = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || id < 0 || id >= vocab) {
      error = fmt::format("{}: '{}' is not a token id below the vocabulary of {}", prompt.origin,
                          item, vocab);
      return false;
    }
    prompt.ids.push_back(int32_t(id));
  }
  return true;
}

std::string checkPrompt(const Prompt &prompt, int64_t vocab, int64_t context,
                        const std::string &unit) {
  if (prompt.ids.empty())
    return fmt::format("{}: the prompt is empty", prompt.origin);
  for (size_t i = 0; i < prompt.ids.size(); ++i)
    if (prompt.ids[i] < 0 || prompt.ids[i] >= vocab)
      return fmt::format("{}: {} {} at position {} is outside the vocabulary of {}", prompt.origin,
                         unit, prompt.ids[i], i, vocab);
  if (int64_t(prompt.ids.size()) >= context)
    return fmt::format("{}: the prompt is {} tokens, and the context holds {}: at most {} leave "
                       "room for one more",
                       prompt.origin, prompt.ids.size(), context, context - 1);
  return "";
}

} // namespace rarun
