//===- Prompts.h - what rarun generate continues -------------------*- C++ -*-===//
//
// Prompts come from --prompt, --prompt-ids or --prompts FILE (one per line,
// decoded together in one batch). Each is checked before any model call: not
// empty, every id inside the vocabulary, and short enough to leave room in
// the context. Errors name the prompt (`prompts.txt:3`, `--prompt`) and, for a
// bad id, its position.
//
//===----------------------------------------------------------------------===//
#ifndef RARUN_GENERATE_PROMPTS_H
#define RARUN_GENERATE_PROMPTS_H

#include <cstdint>
#include <string>
#include <vector>

namespace rarun {

struct Prompt {
  std::string origin; // where it came from, for errors: `--prompt`, `prompts.txt:3`
  std::string text;   // as given (ids: the comma-separated list)
  std::vector<int32_t> ids;
};

/// FILE's lines, each one prompt; a final newline ends the last line, a
/// carriage return before a newline is dropped. Empty lines are kept (and
/// refused by checkPrompt, with their line). False with `error` when FILE
/// cannot be read or holds no line.
bool readPromptLines(const std::string &path, std::vector<Prompt> &out, std::string &error);

/// "1,2,3" into prompt.ids; an item that is not an id below `vocab` is an error.
bool parsePromptIds(Prompt &prompt, int64_t vocab, std::string &error);

/// Empty if the prompt can be continued: at least one token, every id below
/// `vocab` (`unit` names what an id is in the message: byte, token), and at
/// most `context - 1` tokens so that one more fits.
std::string checkPrompt(const Prompt &prompt, int64_t vocab, int64_t context,
                        const std::string &unit);

} // namespace rarun

#endif // RARUN_GENERATE_PROMPTS_H
