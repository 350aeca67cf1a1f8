//===- Forward.cpp - rarun forward ----------------------------------------===//
//
//   rarun forward ART --ckpt CKPT --tokens TOKENS.npy --out LOGITS.npy
//
// The compiled forward pass on given weights and token ids, the logits
// written as float32 .npy: what anyone needs to hold racc against another
// implementation (test/hf/ holds it against transformers). TOKENS is
// [n, t] or [t] integer ids with n <= the compiled batch and t <= seq; the
// rows are placed at positions 0.. of the compiled [batch, seq] input, and
// in a causal model what follows them cannot change their logits.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "runtime/Npy.h"

#include <fmt/format.h>

namespace rarun {

int forwardCommand(int argc, char **argv) {
  cxxopts::Options options("rarun forward", "Logits of given tokens on given weights");
  options.add_options()("ckpt", "Checkpoint (weights-only or full)", cxxopts::value<std::string>())(
      "tokens", "Token ids, .npy of shape [n, t] or [t]", cxxopts::value<std::string>())(
      "out", "Logits, .npy float32 [n, t, vocab]", cxxopts::value<std::string>());
  auto parsed = parseArtifactCommand(options, argc, argv);
  if (!parsed)
    return 0;
  const cxxopts::ParseResult &args = *parsed;
  if (!args.count("artifact") || !args.count("ckpt") || !args.count("tokens") || !args.count("out"))
    return fail("rarun forward needs an artifact, --ckpt CKPT, --tokens TOKENS.npy and --out "
                "LOGITS.npy");
  BatchShape shape;
  ra::rt::CheckpointMeta meta;
  auto model = loadCheckpointed(args["artifact"].as<std::string>(), deviceOf(args),
                                args["ckpt"].as<std::string>(), shape, meta);
  if (!model)
    return 1;
  int logitsIndex = logitsOutput(*model, shape);
  if (logitsIndex < 0)
    return 1;

  std::string path = args["tokens"].as<std::string>();
  ra::rt::NpyArray tokens;
  if (std::string err = ra::rt::readNpy(path, tokens); !err.empty())
    return fail(err);
  if (!tokens.integer)
    return fail(fmt::format("'{}' holds {} values: token ids are integers", path, tokens.descr));
  if (tokens.shape.size() == 1)
    tokens.shape.insert(tokens.shape.begin(), 1);
  if (tokens.shape.size() != 2 || tokens.shape[0] < 1 || tokens.shape[1] < 1)
    return fail(fmt::format("'{}' has shape {}: token ids are [n, t] or [t]", path,
                            nlohmann::json(tokens.shape).dump()));
  int64_t n = tokens.shape[0], t = tokens.shape[1];
  if (n > shape.batch || t > shape.seq)
    return fail(fmt::format("'{}' holds [{}, {}] tokens: the artifact takes at most [{}, {}] "
                            "(batch, seq)",
                            path, n, t, shape.batch, shape.seq));
  std::vector<int32_t> ids(shape.batch * shape.seq, 0), targets(ids.size(), 0);
  for (int64_t r = 0; r < shape.batch; ++r)
    for (int64_t i = 0; i < t; ++i) {
      double id = tokens.values[(r < n ? r : 0) * t + i]; // spare rows repeat the first
      if (id < 0 || id >= double(shape.vocab))
        return fail(fmt::format("'{}': token id {} at [{}, {}] is outside the vocabulary of {}",
                                path, id, r, i, shape.vocab));
      ids[r * shape.seq + i] = int32_t(id);
    }
  OutputBuffers outs(*model->entry("forward"));
  if (std::string err = model->call("forward", {ids.data(), targets.data()}, outs.ptrs);
      !err.empty())
    return fail(err);
  std::vector<float> logits(n * t * shape.vocab);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < t; ++i)
      std::copy_n(outs.data[logitsIndex].data() + (r * shape.seq + i) * shape.vocab, shape.vocab,
                  logits.data() + (r * t + i) * shape.vocab);
  if (std::string err = ra::rt::writeNpy(args["out"].as<std::string>(), {n, t, shape.vocab}, "<f4",
                                         logits.data(), 4);
      !err.empty())
    return fail(err);
  return 0;
}

} // namespace rarun
