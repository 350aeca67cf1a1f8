//===- Tokenize.cpp - rarun tokenize ---------------------------------------===//
//
//   rarun tokenize --tokenizer gpt2|bytes INPUT... -o DIR
//
// Writes DIR/train.bin and DIR/val.bin in llm.c's format (a header of 256
// int32: 20240520, version 1, the token count; then uint16 tokens) and
// DIR/data.json (the tokenizer and the counts), which rarun train reads.
// Each input file is a document; with GPT-2's tokenizer each document is
// preceded by <|endoftext|>, as llm.c's data scripts do. The last
// --val-fraction of the token stream is the validation split.
//
// --print ids|pieces writes the tokens (one id per line) or GPT-2's
// pre-tokenizer pieces (hex bytes per line) to stdout instead: the form the
// tests hold against tiktoken.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "tokenizer/Gpt2Pretokenizer.h"
#include "tokenizer/Tokenizer.h"

#include <chrono>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rarun {

namespace {

constexpr size_t kPartBytes = 4 << 20; // encoded at a time, between progress updates

/// `rarun tokenize: 12.3/45.6 MB (27%), 3,456,789 tokens, 15.2 MB/s` on
/// stderr, rewritten in place on a terminal, a line every 30 s otherwise.
class Progress {
public:
  explicit Progress(uint64_t totalBytes) : total(totalBytes) {}
  void update(uint64_t bytes, uint64_t tokens, bool last = false) {
    double seconds = elapsed();
    if (!last && (seconds < 1 || seconds - shownAt < (tty ? 0.25 : 30)))
      return;
    if (last && !shown)
      return;
    shownAt = seconds;
    shown = true;
    std::string line =
        fmt::format("rarun tokenize: {:.1f}/{:.1f} MB ({:.0f}%), {} tokens, "
                    "{:.1f} MB/s",
                    bytes / 1e6, total / 1e6, 100.0 * bytes / std::max<uint64_t>(total, 1), tokens,
                    bytes / 1e6 / std::max(seconds, 1e-9));
    fmt::print(stderr, "{}{}{}", tty ? "\r" : "", line, tty && !last ? "" : "\n");
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

private:
  uint64_t total;
  bool tty = isatty(STDERR_FILENO);
  bool shown = false;
  double shownAt = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

std::string hex(std::string_view bytes) {
  std::string s;
  for (unsigned char c : bytes)
    s += fmt::format("{:02x}", c);
  return s;
}

} // namespace

int tokenizeCommand(int argc, char **argv) {
  cxxopts::Options options("rarun tokenize", "Text files to llm.c token files");
  options.positional_help("INPUT...");
  options.add_options()("h,help", "Show this help")(
      "tokenizer", "gpt2 (GPT-2's BPE, 50,257 ids) or bytes (256)",
      cxxopts::value<std::string>()->default_value("gpt2"))(
      "o,out", "Directory for train.bin, val.bin and data.json", cxxopts::value<std::string>())(
      "print", "ids or pieces: write the tokens of the inputs to stdout instead of DIR",
      cxxopts::value<std::string>())("inputs", "INPUT...",
                                     cxxopts::value<std::vector<std::string>>());
  ra::tools::NumericOptions numbers(options);
  numbers.real("val-fraction", "The end of the token stream kept for validation", 0.1, 0, true,
               0.9);
  options.parse_positional({"inputs"});
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    fmt::print("{}\n", options.help());
    return 0;
  }
  numbers.enforce(args);
  if (!args.count("inputs"))
    return fail("rarun tokenize needs at least one INPUT (a file or a directory of files)");
  std::string print = args.count("print") ? args["print"].as<std::string>() : "";
  if (!print.empty() && print != "ids" && print != "pieces")
    return fail(fmt::format("--print {}: ids or pieces", print));
  if (print.empty() && !args.count("out"))
    return fail("rarun tokenize needs -o DIR (or --print ids|pieces)");
  std::string name = args["tokenizer"].as<std::string>(), error;
  if (print == "pieces" && name != "gpt2")
    return fail("--print pieces shows GPT-2's pre-tokenizer: it needs --tokenizer gpt2");
  auto tokenizer = ra::tok::makeTokenizer(name, error);
  if (!tokenizer)
    return fail(error);

  std::vector<std::string> files;
  for (const std::string &input : args["inputs"].as<std::vector<std::string>>())
    if (std::string err = ra::rt::listDataFiles(input, files); !err.empty())
      return fail(err);
  if (files.empty())
    return fail("the inputs hold no files");
  uint64_t totalBytes = 0;
  for (const std::string &f : files) {
    struct stat st;
    if (stat(f.c_str(), &st) == 0)
      totalBytes += uint64_t(st.st_size);
  }

  std::vector<uint16_t> tokens;
  std::vector<int32_t> ids;
  Progress progress(totalBytes);
  uint64_t doneBytes = 0;
  std::string text;
  for (const std::string &f : files) {
    if (!ra::rt::readFile(f, text, error))
      return fail(error);
    if (print == "pieces") {
      ra::tok::forEachGpt2Piece(text, [](std::string_view p) { fmt::print("{}\n", hex(p)); });
      continue;
    }
    if (tokenizer->endOfText() >= 0)
      tokens.push_back(uint16_t(tokenizer->endOfText()));
    // In parts cut where the pieces stay the same, for the progress line.
    std::string_view rest = text;
    while (!rest.empty()) {
      size_t cut = rest.size() <= kPartBytes ? rest.size() : ra::tok::gpt2SafeCut(rest, kPartBytes);
      ids.clear();
      tokenizer->encode(rest.substr(0, cut), ids);
      tokens.insert(tokens.end(), ids.begin(), ids.end());
      rest.remove_prefix(cut);
      doneBytes += cut;
      progress.update(doneBytes, tokens.size());
    }
  }
  progress.update(doneBytes, tokens.size(), /*last=*/true);
  double seconds = progress.elapsed();
  if (print == "pieces")
    return 0;
  if (print == "ids") {
    std::string out;
    for (uint16_t t : tokens)
      out += fmt::format("{}\n", t);
    fmt::print("{}", out);
    return 0;
  }

  std::string dir = args["out"].as<std::string>();
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail(fmt::format("cannot create '{}': {}", dir, std::strerror(errno)));
  size_t val = size_t(double(tokens.size()) * args["val-fraction"].as<double>());
  size_t train = tokens.size() - val;
  if (val == 0 || train == 0)
    return fail(fmt::format("the inputs hold {} tokens: too few to split into training and "
                            "validation",
                            tokens.size()));
  ra::rt::TokenizedData meta;
  meta.tokenizer = tokenizer->name();
  meta.vocab = tokenizer->vocabSize();
  meta.trainTokens = int64_t(train);
  meta.valTokens = int64_t(val);
  meta.sourceFiles = int64_t(files.size());
  meta.sourceBytes = int64_t(doneBytes);
  if (meta.tokenizer == "gpt2")
    meta.ranksSha256 = ra::tok::kGpt2RanksSha256;
  if (std::string err = ra::rt::writeTokenizedData(dir, meta, tokens.data()); !err.empty())
    return fail(err);
  fmt::print("rarun: {} {} tokens from {} files ({:.1f} MB, {:.1f} MB/s): {}/train.bin {}, "
             "{}/val.bin {}\n",
             tokens.size(), tokenizer->name(), files.size(), doneBytes / 1e6,
             doneBytes / 1e6 / std::max(seconds, 1e-9), dir, train, dir, val);
  return 0;
}

} // namespace rarun
