//===- Sample.cpp - rarun sample -------------------------------------------===//
//
// Autoregressive sampling from a checkpoint through the artifact's forward
// entry point, which takes a fixed [batch, seq] of token ids: each step
// places the last seq tokens of every sample (up to batch samples at once)
// at positions 0.., reads the logits at the last of them and draws the next
// token (greedy at temperature 0, else softmax(logits / T) over the top k).
// Padding after the window cannot change those logits in a causal model.
// There is no KV cache: a step costs a whole forward call.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

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
      "prompt", "Text to continue (byte vocabularies)",
      cxxopts::value<std::string>()->default_value("\n"))(
      "prompt-ids", "Token ids to continue, comma-separated (any vocabulary)",
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
  int logitsIndex = -1;
  for (size_t i = 0; i < forward->outputs.size(); ++i)
    if (forward->outputs[i].name == "logits" &&
        forward->outputs[i].shape == std::vector<int64_t>{shape.batch, shape.seq, shape.vocab})
      logitsIndex = int(i);
  if (logitsIndex < 0)
    return fail(fmt::format("the artifact's forward has no logits output of [{}, {}, {}]",
                            shape.batch, shape.seq, shape.vocab));
  if (samples > shape.batch)
    return fail(fmt::format("--samples {}: at most the compiled batch, {}", samples, shape.batch));

  // The prompt: bytes for a byte vocabulary, else ids.
  bool bytes = shape.vocab <= 256;
  std::vector<int32_t> prompt;
  if (args.count("prompt-ids")) {
    if (!parseIds(args["prompt-ids"].as<std::string>(), shape.vocab, prompt))
      return 1;
  } else if (!bytes) {
    return fail(fmt::format("the vocabulary ({} tokens) is not bytes: give the prompt as "
                            "--prompt-ids",
                            shape.vocab));
  } else {
    const std::string text = args["prompt"].as<std::string>();
    for (size_t i = 0; i < text.size(); ++i) {
      int32_t b = (unsigned char)text[i];
      if (b >= shape.vocab)
        return fail(fmt::format("--prompt: byte {} at position {} is outside the vocabulary of {}",
                                b, i, shape.vocab));
      prompt.push_back(b);
    }
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
    std::string text;
    for (int32_t id : seqs[s])
      text += bytes ? std::string(1, char(id)) : fmt::format("{} ", id);
    fmt::print("{}\n", text);
  }
  return 0;
}

} // namespace rarun
