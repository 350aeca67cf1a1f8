//===- Generate.cpp - rarun generate (and rarun sample) -------------------===//
//
// Autoregressive generation from a checkpoint. Up to the compiled batch of
// sequences (prompts, and --samples of each) are decoded together, each at
// its own length; every step draws one token per live sequence with its own
// seeded sampler (generate/TokenSampler.h).
//
// Two decoders. The cached one (runtime/DecodeCache.h) runs the artifact's
// @prefill and @decode entry points, which racc derives from @forward; an
// artifact without them is refused with racc's reason, never silently
// recomputed. `--no-cache` is the
// full-window reference: every step places each sequence's tokens at
// positions 0.. of @forward's [batch, seq] and reads the logits at its last
// position (padding after it cannot change them in a causal model), so a
// step costs a whole forward call and the context is the compiled `seq`.
//
// `rarun sample` is `rarun generate --no-cache` that, past the window, slides
// it (the last `seq` tokens at positions 0..) instead of stopping, as it
// always has.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "generate/Prompts.h"
#include "generate/TokenSampler.h"
#include "runtime/DecodeCache.h"
#include "tokenizer/Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>

namespace rarun {

namespace {

/// One sequence being generated.
struct Sequence {
  std::string name; // its heading when several are printed
  std::vector<int32_t> ids;
  int generated = 0;
  bool done = false;
};

/// The full-window decoder: one @forward call per step for every sequence.
class FullWindowDecoder {
public:
  FullWindowDecoder(ra::rt::Model &model, const BatchShape &shape, int logitsIndex)
      : model(model), shape(shape), logitsIndex(logitsIndex), outs(*model.entry("forward")),
        ids(shape.batch * shape.seq), targets(ids.size(), 0) {}

  /// The next-token logits of every live sequence (row r of `logits` for
  /// sequence r); a sequence longer than the window sees its last `seq`.
  std::string step(const std::vector<Sequence> &seqs, std::vector<const float *> &logits) {
    std::fill(ids.begin(), ids.end(), 0);
    logits.assign(seqs.size(), nullptr);
    std::vector<int64_t> lengths(seqs.size());
    for (size_t r = 0; r < seqs.size(); ++r) {
      const auto &seq = seqs[r].ids;
      lengths[r] = std::min<int64_t>(int64_t(seq.size()), shape.seq);
      std::copy(seq.end() - lengths[r], seq.end(), ids.begin() + r * shape.seq);
    }
    if (std::string err = model.call("forward", {ids.data(), targets.data()}, outs.ptrs);
        !err.empty())
      return err;
    for (size_t r = 0; r < seqs.size(); ++r)
      logits[r] = outs.data[logitsIndex].data() + (r * shape.seq + lengths[r] - 1) * shape.vocab;
    return "";
  }

private:
  ra::rt::Model &model;
  BatchShape shape;
  int logitsIndex;
  OutputBuffers outs;
  std::vector<int32_t> ids, targets;
};

/// The tokenizer that reads prompts and prints tokens: --tokenizer, else the
/// one the checkpoint's data was tokenized with; null for `ids`.
bool chooseTokenizer(const cxxopts::ParseResult &args, const ra::rt::CheckpointMeta &meta,
                     const BatchShape &shape, std::string &name,
                     std::unique_ptr<ra::tok::Tokenizer> &tokenizer) {
  if (args.count("tokenizer")) {
    name = args["tokenizer"].as<std::string>();
  } else {
    // Recorded by rarun train, and by rarun import for GPT-2's vocabulary.
    if (auto it = meta.extra.find("run.tokenizer"); it != meta.extra.end())
      name = it->second;
    if (name.empty())
      name = shape.vocab <= 256 ? "bytes" : "ids";
  }
  if (name == "ids")
    return true;
  std::string error;
  if (!(tokenizer = ra::tok::makeTokenizer(name, error)))
    return fail(error), false;
  // A byte model may use fewer ids than 256 (each prompt byte is checked).
  if (name != "bytes" && tokenizer->vocabSize() > shape.vocab)
    return fail(fmt::format("the {} tokenizer has {} tokens: the model's vocab is {} (use "
                            "--tokenizer ids, or compile with -D vocab={})",
                            name, tokenizer->vocabSize(), shape.vocab, tokenizer->vocabSize())),
           false;
  return true;
}

/// Text of tokens; ids the model has beyond its tokenizer's (a padded
/// vocabulary) print as <|id|>, and every id as `ID ` without a tokenizer.
bool tokenText(const ra::tok::Tokenizer *tokenizer, const int32_t *ids, size_t n, std::string &text,
               std::string &error) {
  for (size_t i = 0; i < n; ++i) {
    if (!tokenizer)
      text += fmt::format("{} ", ids[i]);
    else if (ids[i] >= tokenizer->vocabSize())
      text += fmt::format("<|{}|>", ids[i]);
    else if (!tokenizer->decode({ids + i, 1}, text, error))
      return false;
  }
  return true;
}

} // namespace

int generateCommand(int argc, char **argv, bool asSample) {
  const char *command = asSample ? "rarun sample" : "rarun generate";
  cxxopts::Options options(command, asSample ? "Generate text from a checkpoint through the full "
                                               "window (rarun generate --no-cache, sliding past it)"
                                             : "Generate text from a checkpoint");
  options.add_options()("ckpt", "Checkpoint (safetensors)", cxxopts::value<std::string>())(
      "prompt", "Text to continue (default: a newline; <|endoftext|> for GPT-2 tokens)",
      cxxopts::value<std::string>())("prompt-ids",
                                     "Token ids to continue, comma-separated (any vocabulary)",
                                     cxxopts::value<std::string>())(
      "prompts", "A file of prompts, one per line, decoded together in one batch",
      cxxopts::value<std::string>())(
      "tokenizer",
      "gpt2, bytes or ids (print token ids); default: the tokenizer of the data the "
      "checkpoint was trained on",
      cxxopts::value<std::string>());
  if (!asSample)
    options.add_options()("no-cache",
                          "Decode through @forward's full window, a whole forward call per "
                          "token (the reference the cached decoder is checked against)")(
        "cache-dtype",
        "f32, f16 or bf16: round what a float32 cache keeps to that precision (a half cache, "
        "racc compile --cache-dtype, keeps its own; docs/decoding.md)",
        cxxopts::value<std::string>());
  ra::tools::NumericOptions numbers(options);
  numbers.integer("tokens", "Tokens to generate per sequence", 200, 1, 1 << 20)
      .real("temperature", "Softmax temperature; 0 takes the most likely token", 0.8, 0, false)
      .integer("top-k", "Draw from the k most likely tokens only (0: all)", 0, 0)
      .real("top-p", "Draw from the most likely tokens whose probability reaches p (1: all)", 1.0,
            0, false)
      .integer("samples", "Sequences per prompt, generated together (all fit the compiled batch)",
               1, 1)
      .seed("seed", "Seed of the draws");
  auto parsed = parseArtifactCommand(options, argc, argv, &numbers);
  if (!parsed)
    return 0;
  const cxxopts::ParseResult &args = *parsed;
  if (!args.count("artifact") || !args.count("ckpt"))
    return fail(fmt::format("{} needs an artifact and --ckpt CKPT", command));
  SamplingOptions sampling;
  sampling.temperature = args["temperature"].as<double>();
  sampling.topK = args["top-k"].as<int64_t>();
  sampling.topP = args["top-p"].as<double>();
  if (!(sampling.topP > 0 && sampling.topP <= 1))
    return fail(fmt::format("--top-p {}: must be in (0, 1]", sampling.topP));
  int tokens = int(args["tokens"].as<int64_t>());
  int samples = int(args["samples"].as<int64_t>());
  if (int given = int(args.count("prompt") + args.count("prompt-ids") + args.count("prompts"));
      given > 1)
    return fail("give one of --prompt, --prompt-ids and --prompts");
  bool noCache = asSample || args.count("no-cache");

  BatchShape shape;
  ra::rt::CheckpointMeta meta;
  const std::string artifact = args["artifact"].as<std::string>();
  auto model =
      loadCheckpointed(artifact, deviceOf(args), args["ckpt"].as<std::string>(), shape, meta);
  if (!model)
    return 1;
  if (!asSample && noCache && args.count("cache-dtype"))
    return fail("--cache-dtype is the cached decoder's; --no-cache keeps no cache");
  std::unique_ptr<ra::rt::CachedDecoder> cached;
  if (!noCache) {
    std::string why;
    if (!(cached = ra::rt::CachedDecoder::create(*model, why)))
      return fail(fmt::format("{}: {}; --no-cache decodes through the full window, one forward "
                              "call per token",
                              artifact, why));
    if (args.count("cache-dtype"))
      if (std::string err = cached->roundCacheTo(args["cache-dtype"].as<std::string>());
          !err.empty())
        return fail(err);
  }
  int logitsIndex = logitsOutput(*model, shape);
  if (logitsIndex < 0)
    return 1;

  std::string tokenizerName;
  std::unique_ptr<ra::tok::Tokenizer> tokenizer;
  if (!chooseTokenizer(args, meta, shape, tokenizerName, tokenizer))
    return 1;

  // The prompts, each checked before the model runs.
  std::vector<Prompt> prompts;
  std::string error;
  if (args.count("prompts")) {
    if (!readPromptLines(args["prompts"].as<std::string>(), prompts, error))
      return fail(error);
  } else if (args.count("prompt-ids")) {
    prompts.push_back({"--prompt-ids", args["prompt-ids"].as<std::string>(), {}});
  } else if (args.count("prompt")) {
    prompts.push_back({"--prompt", args["prompt"].as<std::string>(), {}});
  } else if (tokenizer) {
    // A document's start for GPT-2, as its samples begin; a newline for bytes.
    Prompt start{"the default prompt", "", {}};
    if (tokenizer->endOfText() >= 0)
      start.ids.push_back(tokenizer->endOfText());
    else
      tokenizer->encode("\n", start.ids);
    prompts.push_back(start);
  }
  bool asIds = args.count("prompt-ids") || !tokenizer;
  if (prompts.empty() || (asIds && !args.count("prompt-ids") && !args.count("prompts")))
    return fail(fmt::format("the vocabulary ({} tokens) has no tokenizer here: give the prompt "
                            "as --prompt-ids, or name one with --tokenizer",
                            shape.vocab));
  // Past the window the sample command slides it; generate stops there.
  const int64_t context = asSample ? INT64_MAX : shape.seq;
  for (Prompt &p : prompts) {
    if (p.ids.empty() && !p.text.empty()) {
      if (asIds) {
        if (!parsePromptIds(p, shape.vocab, error))
          return fail(error);
      } else {
        tokenizer->encode(p.text, p.ids);
      }
    }
    if (std::string bad = checkPrompt(p, shape.vocab, context,
                                      !asIds && tokenizerName == "bytes" ? "byte" : "token");
        !bad.empty())
      return fail(bad);
  }
  if (int64_t rows = int64_t(prompts.size()) * samples; rows > shape.batch)
    return fail(fmt::format("{} prompt{} x --samples {} is {} sequences: at most the compiled "
                            "batch, {}",
                            prompts.size(), prompts.size() == 1 ? "" : "s", samples, rows,
                            shape.batch));

  std::vector<Sequence> seqs;
  std::vector<TokenSampler> samplers;
  for (size_t p = 0; p < prompts.size(); ++p)
    for (int s = 0; s < samples; ++s) {
      std::string name = prompts.size() * samples == 1 ? std::string("the sequence")
                         : prompts.size() == 1         ? fmt::format("sample {}", s + 1)
                         : samples == 1                ? prompts[p].origin
                                        : fmt::format("{} sample {}", prompts[p].origin, s + 1);
      seqs.push_back({name, prompts[p].ids, 0, false});
      // Seeded by row, as rarun sample always has: one prompt's samples draw as before.
      samplers.emplace_back(sampling, ra::hashName(fmt::format("sample.{}", seqs.size() - 1),
                                                   args["seed"].as<uint64_t>()));
    }

  // One sequence streams its text as it is produced; several print when done.
  const bool stream = seqs.size() == 1;
  std::string text;
  if (stream) {
    if (!tokenText(tokenizer.get(), seqs[0].ids.data(), seqs[0].ids.size(), text, error))
      return fail(error);
    fmt::print("{}", text);
    std::fflush(stdout);
  }
  FullWindowDecoder decoder(*model, shape, logitsIndex);
  // The cached decoder: @prefill with every prompt, then @decode with each
  // sequence's last token.
  auto step = [&](int t, std::vector<const float *> &logits) -> std::string {
    if (!cached)
      return decoder.step(seqs, logits);
    if (t == 0) {
      std::vector<std::vector<int32_t>> starts;
      for (const Sequence &seq : seqs)
        starts.push_back(seq.ids);
      return cached->prefill(starts, logits);
    }
    std::vector<int32_t> last;
    std::vector<bool> live;
    for (const Sequence &seq : seqs) {
      last.push_back(seq.ids.back());
      live.push_back(!seq.done);
    }
    return cached->decode(last, live, logits);
  };
  std::vector<const float *> logits;
  auto start = std::chrono::steady_clock::now();
  int64_t produced = 0;
  for (int t = 0; t < tokens; ++t) {
    if (std::string err = step(t, logits); !err.empty())
      return fail(err);
    bool live = false;
    for (size_t r = 0; r < seqs.size(); ++r) {
      Sequence &seq = seqs[r];
      if (seq.done)
        continue;
      int32_t id = samplers[r].draw(logits[r], shape.vocab);
      seq.ids.push_back(id);
      ++seq.generated;
      ++produced;
      if (stream) {
        text.clear();
        if (!tokenText(tokenizer.get(), &id, 1, text, error))
          return fail(error);
        fmt::print("{}", text);
        std::fflush(stdout);
      }
      if (int64_t(seq.ids.size()) >= context && seq.generated < tokens) {
        seq.done = true;
        fmt::print(stderr, "{}rarun: {} reached the context of {} tokens after {} new; stopped\n",
                   stream ? "\n" : "", seq.name, context, seq.generated);
      }
      if (seq.done && cached)
        cached->release(r); // its blocks go back to the pool
      live |= !seq.done;
    }
    if (!live)
      break;
  }
  if (stream)
    fmt::print("\n");
  for (size_t r = 0; !stream && r < seqs.size(); ++r) {
    text.clear();
    if (!tokenText(tokenizer.get(), seqs[r].ids.data(), seqs[r].ids.size(), text, error))
      return fail(error);
    fmt::print("{}--- {}\n{}\n", r ? "\n" : "", seqs[r].name, text);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!asSample)
    fmt::print(stderr, "rarun: {} tokens in {:.2f} s ({:.1f} tokens/s, {})\n", produced, seconds,
               produced / std::max(seconds, 1e-9), noCache ? "full window, no cache" : "cached");
  return 0;
}

} // namespace rarun
