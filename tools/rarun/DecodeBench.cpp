//===- DecodeBench.cpp - rarun bench --entry decode -----------------------===//
//
//   rarun bench ART --entry decode [--context 1024,4096] [--sequences 1,8] [--json]
//
// Cached decoding's cost per (context, sequences): S sequences each holding
// about C positions (their cached rows random: a step's cost does not
// depend on them) take one @decode call per token; the median call gives
// decode tokens/s. Beside it, the full-window decoder's (--no-cache) tokens/s
// from @forward calls, the cache bytes per token and per sequence measured
// from the decoder's buffers (as held, in their own type, and the fp16 accounting of the
// research's figures) against racc stats' count, and the whole cache the
// S sequences of C tokens hold: the blocks of the paged pools they take
// (counted from the pool) and their rings and sums, beside the pools'
// size. C must fit the compiled window (seq) and S
// the compiled batch: every call computes the compiled batch's rows, so
// compile with -D batch=S for a tight figure at S sequences.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "runtime/DecodeCache.h"

#include <algorithm>
#include <fmt/format.h>

namespace rarun {

namespace {

/// "1024,4096" -> {1024, 4096}; each in [1, most].
bool parseList(const std::string &option, const std::string &text, int64_t most, const char *limit,
               std::vector<int64_t> &out) {
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    char *end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end || v < 1 || v > most)
      return fail(fmt::format("--{} {}: '{}' is not a number from 1 to {} ({})", option, text, item,
                              most, limit)),
             false;
    out.push_back(v);
    if (comma == std::string::npos)
      break;
    at = comma + 1;
  }
  return true;
}

} // namespace

int decodeBench(const cxxopts::ParseResult &args) {
  const std::string artifact = args["artifact"].as<std::string>();
  auto model = loadModel(artifact, deviceOf(args));
  BatchShape shape;
  if (!model || !batchShape(*model, shape))
    return 1;
  uint64_t seed = args["seed"].as<uint64_t>();
  model->initialize(seed);
  std::string error;
  auto decoder = ra::rt::CachedDecoder::create(*model, error);
  if (!decoder)
    return fail(fmt::format("{}: {}", artifact, error));
  std::vector<int64_t> contexts, sequences;
  if (!parseList("context",
                 args.count("context") ? args["context"].as<std::string>()
                                       : std::to_string(shape.seq),
                 shape.seq, "the compiled window, seq", contexts) ||
      !parseList("sequences",
                 args.count("sequences") ? args["sequences"].as<std::string>()
                                         : std::to_string(shape.batch),
                 shape.batch, "the compiled batch", sequences))
    return 1;
  int warmup = int(args["warmup"].as<int64_t>()), steps = int(args["steps"].as<int64_t>());

  // The full-window decoder: a whole @forward per token for every sequence.
  std::vector<int32_t> ids(shape.batch * shape.seq, 0), targets(ids.size(), 0);
  OutputBuffers outs(*model->entry("forward"));
  // One untimed call, then up to three timed ones (one when a call takes seconds).
  std::vector<double> forwardSeconds;
  double spent = 0;
  for (int i = 0; i < 1 + 3 && (i < 2 || spent < 2.0); ++i) {
    double t = secondsNow();
    if (std::string err = model->call("forward", {ids.data(), targets.data()}, outs.ptrs);
        !err.empty())
      return fail(err);
    if (i > 0) {
      forwardSeconds.push_back(secondsNow() - t);
      spent += forwardSeconds.back();
    }
  }
  double forwardS = median(forwardSeconds);

  const nlohmann::json &stats = model->manifest()["stats"]["inference_cache"];
  // Values per token and per sequence (the fp16 and f32 accounting of the
  // research's figures), and the bytes the buffers hold (their own types).
  int64_t perToken = decoder->elementsPerToken(), perSequence = decoder->elementsPerSequence();
  int64_t heldToken = decoder->bytesPerToken(), heldSequence = decoder->bytesPerSequence();
  const char *dtype = ra_dtype::name(decoder->storedType());
  nlohmann::ordered_json out = {
      {"artifact", artifact},
      {"device", model->deviceName()},
      {"entry", "decode"},
      {"batch", shape.batch},
      {"window", shape.seq},
      {"cache_dtype", dtype},
      {"cache_bytes_per_token_held", heldToken},
      {"cache_bytes_per_sequence_held", heldSequence},
      {"cache_bytes_per_token_f32", 4 * perToken},
      {"cache_bytes_per_token_fp16", 2 * perToken},
      {"cache_bytes_per_sequence_fp16", 2 * perSequence},
      {"racc_stats_bytes_per_token_fp16", stats.value("bytes_per_token_fp16", int64_t(-1))},
      {"racc_stats_bytes_per_sequence_fp16", stats.value("bytes_per_sequence_fp16", int64_t(-1))},
      {"cache_block_positions", decoder->blockPositions()},
      {"cache_pool_blocks", decoder->poolBlocks()},
      {"cache_pool_mib_held", double(decoder->poolBlocks() * decoder->bytesPerBlock()) / (1 << 20)},
      {"full_window_ms_per_token", 1e3 * forwardS},
      {"runs", nlohmann::ordered_json::array()}};
  for (int64_t context : contexts)
    for (int64_t n : sequences) {
      // Start each sequence so that the timed steps end at `context` tokens.
      int32_t start = int32_t(std::max<int64_t>(1, context - warmup - steps));
      std::vector<int32_t> lengths(n, start);
      if (std::string err = decoder->startWithRandomCache(lengths, seed); !err.empty())
        return fail(fmt::format("context {}, {} sequences: {}", context, n, err));
      std::vector<int32_t> tokens(n, 0);
      std::vector<bool> live(n, true);
      std::vector<const float *> logits;
      std::vector<double> times;
      for (int s = 0; s < warmup + steps; ++s) {
        for (int64_t r = 0; r < n; ++r)
          live[r] = decoder->length(r) < shape.seq;
        double t = secondsNow();
        if (std::string err = decoder->decode(tokens, live, logits); !err.empty())
          return fail(err);
        if (s >= warmup)
          times.push_back(secondsNow() - t);
      }
      double step = median(times);
      // What the sequences hold at the end: their blocks and fixed state.
      int64_t values =
          decoder->blocksInUse() * decoder->blockPositions() * perToken + n * perSequence;
      double fp16MiB = double(2 * values) / (1 << 20);
      double heldMiB = double(decoder->bytesInUse() + n * heldSequence) / (1 << 20);
      out["runs"].push_back({{"context", context},
                             {"sequences", n},
                             {"ms_per_step", 1e3 * step},
                             {"decode_tokens_per_s", double(n) / step},
                             {"full_window_tokens_per_s", double(n) / forwardS},
                             {"speedup_over_full_window", forwardS / step},
                             {"cache_blocks_held", decoder->blocksInUse()},
                             {"cache_mib_fp16", fp16MiB},
                             {"cache_mib_f32", 2 * fp16MiB},
                             {"cache_mib_held", heldMiB}});
    }
  if (args.count("json")) {
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("{} on {}: compiled batch {}, window {}\n", artifact, model->deviceName(), shape.batch,
             shape.seq);
  fmt::print("cache: {} bytes per token, {} per sequence at fp16 ({} and {} as held, {}); racc "
             "stats: {} and {}\n",
             2 * perToken, 2 * perSequence, heldToken, heldSequence, dtype,
             out["racc_stats_bytes_per_token_fp16"].get<int64_t>(),
             out["racc_stats_bytes_per_sequence_fp16"].get<int64_t>());
  fmt::print("paged: a pool of {} blocks of {} positions, {:.1f} MiB as held\n",
             decoder->poolBlocks(), decoder->blockPositions(),
             out["cache_pool_mib_held"].get<double>());
  fmt::print("{:>8} {:>9} {:>10} {:>12} {:>16} {:>9} {:>14}\n", "context", "sequences", "ms/step",
             "decode tok/s", "full-window tok/s", "speedup", "cache MiB fp16");
  for (const auto &r : out["runs"])
    fmt::print("{:>8} {:>9} {:>10.3f} {:>12.1f} {:>16.1f} {:>8.1f}x {:>14.1f}\n",
               r["context"].get<int64_t>(), r["sequences"].get<int64_t>(),
               r["ms_per_step"].get<double>(), r["decode_tokens_per_s"].get<double>(),
               r["full_window_tokens_per_s"].get<double>(),
               r["speedup_over_full_window"].get<double>(), r["cache_mib_fp16"].get<double>());
  return 0;
}

} // namespace rarun
