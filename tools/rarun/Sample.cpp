//===- Sample.cpp - rarun sample -------------------------------------------===//
//
// Autoregressive sampling from a checkpoint through the artifact's forward
// entry point, which takes a fixed [batch, seq] of token ids: each step
// places the last seq tokens of every sample (up to batch samples at once)
// at positions 0.., reads the logits at the last of them and draws the next
// token (greedy at temperature 0, else softmax(logits / T) over the top k).
// Prompts are encoded and samples printed with the tokenizer of the data the
// checkpoint was trained on (bytes, GPT-2's BPE) unless --tokenizer says.
// Padding after the window cannot change those logits in a causal model.
// There is no KV cache: a step costs a whole forward call.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "tokenizer/Tokenizer.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numeric>
#include <sstream>

namespace rarun {

namespace {

/// The next token from one position's logits.
int32_t draw(const float *logits, int64_t vocab, double temperature, int64_t topK, ra::Rng &rng) {
  if (temperature == 0)
    return int32_t(std::max_element(logits, logits + vocab) - logits);
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  int64_t keep = topK > 0 && topK < vocab ? topK : vocab;
  std::partial_sort(ids.begin(), ids.begin() + keep, ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::vector<double> weights(keep);
  for (int64_t i = 0; i < keep; ++i)
    weights[i] = std::exp((double(logits[ids[i]]) - logits[ids[0]]) / temperature);
  double u = rng.uniform() * std::accumulate(weights.begin(), weights.end(), 0.0);
  for (int64_t i = 0; i < keep; ++i)
    if ((u -= weights[i]) < 0)
      return ids[i];
  return ids[keep - 1];
}

/// "1,2,3" -> ids, each checked against the vocabulary.
bool parseIds(const std::string &text, int64_t vocab, std::vector<int32_t> &out) {
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char *end = nullptr;
    long id = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || id < 0 || id >= vocab) {
      fail(fmt::format("--prompt-ids: '{}' is not a token id below the vocabulary of {}", item,
                       vocab));
      return false;
    }
    out.push_back(int32_t(id));
  }
  return true;
}

} // namespace

int sampleCommand(int argc, char **argv) {
  cxxopts::Options options("rarun sample", "Generate text from a checkpoint");
  options.add_options()("ckpt", "Checkpoint (safetensors)", cxxopts::value<std::string>())(
      "prompt", "Text to continue (default: a newline; <|endoftext|> for GPT-2 tokens)",
      cxxopts::value<std::string>())("prompt-ids",
                                     "Token ids to continue, comma-separated (any vocabulary)",
                                     cxxopts::value<std::string>())(
      "tokenizer",
      "gpt2, bytes or ids (print token ids); default: the tokenizer of the data the "
      "checkpoint was trained on",
      cxxopts::value<std::string>());
  ra::tools::NumericOptions numbers(options);
  numbers.integer("tokens", "Tokens to generate", 200, 1, 1 << 20)
      .real("temperature", "Softmax temperature; 0 takes the most likely token", 0.8, 0, false)
      .integer("top-k", "Draw from the k most likely tokens only (0: all)", 0, 0)
      .integer("samples", "Independent samples, generated together (at most the compiled batch)", 1,
               1)
      .seed("seed", "Seed of the draws");
  auto parsed = parseArtifactCommand(options, argc, argv, &numbers);
  if (!parsed)
    return 0;
  const cxxopts::ParseResult &args = *parsed;
  if (!args.count("artifact") || !args.count("ckpt"))
    return fail("rarun sample needs an artifact and --ckpt CKPT");
  double temperature = args["temperature"].as<double>();
  int tokens = int(args["tokens"].as<int64_t>()), topK = int(args["top-k"].as<int64_t>());
  int samples = int(args["samples"].as<int64_t>());

  BatchShape shape;
  ra::rt::CheckpointMeta meta;
  auto model = loadCheckpointed(args["artifact"].as<std::string>(), deviceOf(args),
                                args["ckpt"].as<std::string>(), shape, meta);
  if (!model)
    return 1;
  const ra::rt::EntryInfo *forward = model->entry("forward");
  int logitsIndex = logitsOutput(*model, shape);
  if (logitsIndex < 0)
    return 1;
  if (samples > shape.batch)
    return fail(fmt::format("--samples {}: at most the compiled batch, {}", samples, shape.batch));

  // How text becomes tokens and back: as the training data was tokenized.
  std::string tokenizerName;
  if (args.count("tokenizer")) {
    tokenizerName = args["tokenizer"].as<std::string>();
  } else {
    // Recorded by rarun train, and by rarun import for GPT-2's vocabulary.
    if (auto it = meta.extra.find("run.tokenizer"); it != meta.extra.end())
      tokenizerName = it->second;
    if (tokenizerName.empty())
      tokenizerName = shape.vocab <= 256 ? "bytes" : "ids";
  }
  std::unique_ptr<ra::tok::Tokenizer> tokenizer;
  if (tokenizerName != "ids") {
    std::string error;
    if (!(tokenizer = ra::tok::makeTokenizer(tokenizerName, error)))
      return fail(error);
    // A byte model may use fewer ids than 256 (each prompt byte is checked).
    if (tokenizerName != "bytes" && tokenizer->vocabSize() > shape.vocab)
      return fail(fmt::format("the {} tokenizer has {} tokens: the model's vocab is {} (use "
                              "--tokenizer ids, or compile with -D vocab={})",
                              tokenizerName, tokenizer->vocabSize(), shape.vocab,
                              tokenizer->vocabSize()));
  }

  std::vector<int32_t> prompt;
  if (args.count("prompt-ids")) {
    if (!parseIds(args["prompt-ids"].as<std::string>(), shape.vocab, prompt))
      return 1;
  } else if (!tokenizer) {
    return fail(fmt::format("the vocabulary ({} tokens) has no tokenizer here: give the prompt "
                            "as --prompt-ids, or name one with --tokenizer",
                            shape.vocab));
  } else if (args.count("prompt")) {
    tokenizer->encode(args["prompt"].as<std::string>(), prompt);
    for (size_t i = 0; i < prompt.size(); ++i)
      if (prompt[i] >= shape.vocab)
        return fail(fmt::format("--prompt: {} {} at position {} is outside the vocabulary of {}",
                                tokenizerName == "bytes" ? "byte" : "token", prompt[i], i,
                                shape.vocab));
  } else if (tokenizer->endOfText() >= 0) {
    prompt.push_back(tokenizer->endOfText()); // a document's start, as GPT-2 samples
  } else {
    tokenizer->encode("\n", prompt);
  }
  if (prompt.empty())
    return fail("the prompt is empty");

  std::vector<std::vector<int32_t>> seqs(samples, prompt);
  std::vector<ra::Rng> rngs;
  for (int s = 0; s < samples; ++s)
    rngs.emplace_back(ra::hashName("sample." + std::to_string(s), args["seed"].as<uint64_t>()));
  std::vector<int32_t> ids(shape.batch * shape.seq), targets(ids.size(), 0);
  OutputBuffers outs(*forward);
  for (int t = 0; t < tokens; ++t) {
    int64_t len = std::min<int64_t>(int64_t(seqs[0].size()), shape.seq);
    std::fill(ids.begin(), ids.end(), 0);
    for (int64_t r = 0; r < shape.batch; ++r) {
      const auto &seq = seqs[r < samples ? r : 0]; // spare rows repeat the first
      std::copy(seq.end() - len, seq.end(), ids.begin() + r * shape.seq);
    }
    if (std::string err = model->call("forward", {ids.data(), targets.data()}, outs.ptrs);
        !err.empty())
      return fail(err);
    for (int s = 0; s < samples; ++s) {
      const float *row = outs.data[logitsIndex].data() + (s * shape.seq + len - 1) * shape.vocab;
      seqs[s].push_back(draw(row, shape.vocab, temperature, topK, rngs[s]));
    }
  }
  for (int s = 0; s < samples; ++s) {
    if (samples > 1)
      fmt::print("{}--- sample {}\n", s ? "\n" : "", s + 1);
    std::string text, error;
    if (!tokenizer) {
      for (int32_t id : seqs[s])
        text += fmt::format("{} ", id);
    } else {
      // Ids the model has beyond its tokenizer's (a padded vocabulary) print as <|id|>.
      for (int32_t id : seqs[s])
        if (id >= tokenizer->vocabSize())
          text += fmt::format("<|{}|>", id);
        else if (!tokenizer->decode({&id, 1}, text, error))
          return fail(error);
    }
    fmt::print("{}\n", text);
  }
  return 0;
}

} // namespace rarun
