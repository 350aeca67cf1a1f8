//===- DecodeCheck.cpp - rarun decode-check -------------------------------===//
//
//   rarun decode-check ART [--ckpt CKPT] [--seed S] [--tolerance 1e-5] [--device D]
//                          [--cache-dtype f32|f16|bf16]
//
// Holds the cached decoder (@prefill, then @decode one position at a time,
// runtime/DecodeCache.h) against the uncached @forward on the same tokens:
// every sequence of the batch starts from a prompt of its own length (1 to
// half the window), then decodes to the end of the window, so each position
// of each sequence is compared, RA's ring wraps past its band, and prompts
// of different lengths share a call. Prints the worst logit difference
// relative to its row's largest logit and the cache measured from the
// buffers next to racc stats' count; exits 1 past the tolerance. A
// sequence that reaches the window's end gives its blocks back to the paged
// pool at once, so an artifact compiled with a smaller --cache-blocks than
// every sequence's whole window passes when the pool holds what the live
// sequences need at once (printed), and fails with the pool's error when
// it does not.
//
// --cache-dtype f16 or bf16 rounds every value the cache keeps as storing it
// in that type would (runtime/DecodeCache.h): the logit error it costs.
//
// Without --ckpt the weights are the initializer's (from --seed) plus noise
// of --noise standard deviation on every parameter: the initializer's near
// uniform attention would hide a wrong mask or a misplaced cache row.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "abi/Init.h"
#include "runtime/DecodeCache.h"

#include <fmt/format.h>

#include <cmath>

namespace rarun {

int decodeCheckCommand(int argc, char **argv) {
  cxxopts::Options options(
      "rarun decode-check",
      "Compare cached decoding with the uncached forward, position by position");
  options.add_options()("ckpt", "Checkpoint (default: the initializer's weights plus noise)",
                        cxxopts::value<std::string>())(
      "cache-dtype",
      "f32, f16 or bf16: round what a float32 cache keeps to that precision, to measure the "
      "logit error it costs without compiling it so (racc compile --cache-dtype); a half cache "
      "is checked in its own type (tolerance then 1e-2 and 5e-2 unless given; 5e-2 too for an "
      "artifact compiled with --precision bf16)",
      cxxopts::value<std::string>());
  ra::tools::NumericOptions numbers(options);
  numbers.seed("seed", "Seed of the weights (without --ckpt) and of the tokens")
      .real("noise", "Standard deviation added to every parameter without --ckpt", 0.3, 0, true)
      .real("tolerance", "Largest logit difference allowed, relative to its row's largest logit",
            1e-5, 0, false);
  auto parsed = parseArtifactCommand(options, argc, argv, &numbers);
  if (!parsed)
    return 0;
  const cxxopts::ParseResult &args = *parsed;
  if (!args.count("artifact"))
    return fail("rarun decode-check needs an artifact");
  const std::string artifact = args["artifact"].as<std::string>();
  uint64_t seed = args["seed"].as<uint64_t>();
  BatchShape shape;
  std::unique_ptr<ra::rt::Model> model;
  if (args.count("ckpt")) {
    ra::rt::CheckpointMeta meta;
    model = loadCheckpointed(artifact, deviceOf(args), args["ckpt"].as<std::string>(), shape, meta);
  } else if ((model = loadModel(artifact, deviceOf(args)))) {
    if (!batchShape(*model, shape))
      return 1;
    model->initialize(seed);
    ra::Rng rng(ra::hashName("decode-check.noise", seed));
    double noise = args["noise"].as<double>();
    float *p = model->mutableParameters();
    for (const ra::rt::ParamInfo &param : model->params())
      if (param.trainable)
        for (int64_t i = 0; i < param.elements(); ++i)
          p[param.offset + i] += float(noise * rng.normal());
  }
  if (!model)
    return 1;
  int logitsIndex = logitsOutput(*model, shape);
  if (logitsIndex < 0)
    return 1;
  std::string error;
  auto decoder = ra::rt::CachedDecoder::create(*model, error);
  if (!decoder)
    return fail(fmt::format("{}: {}", artifact, error));
  if (args.count("cache-dtype"))
    if (std::string err = decoder->roundCacheTo(args["cache-dtype"].as<std::string>());
        !err.empty())
      return fail(err);
  using ra_dtype::Dtype;
  const Dtype dtype = decoder->cacheType();
  const char *dtypeName = ra_dtype::name(dtype);
  const int64_t B = shape.batch, T = shape.seq, V = shape.vocab;

  // The reference: every position of every sequence through @forward.
  ra::Rng rng(ra::hashName("decode-check.tokens", seed));
  std::vector<int32_t> ids(B * T), targets(B * T, 0);
  for (int32_t &id : ids)
    id = int32_t(rng.next() % uint64_t(V));
  OutputBuffers forward(*model->entry("forward"));
  if (std::string err = model->call("forward", {ids.data(), targets.data()}, forward.ptrs);
      !err.empty())
    return fail(err);
  const std::vector<float> &reference = forward.data[logitsIndex];

  struct Worst {
    double rel = 0;
    int64_t seq = 0, pos = 0;
  } worst;
  int64_t compared = 0;
  auto compare = [&](const float *got, int64_t r, int64_t pos) {
    const float *want = reference.data() + (r * T + pos) * V;
    double scale = 1e-30, diff = 0;
    for (int64_t v = 0; v < V; ++v) {
      scale = std::max(scale, double(std::fabs(want[v])));
      diff = std::max(diff, double(std::fabs(got[v] - want[v])));
    }
    double rel = std::isfinite(diff) ? diff / scale : INFINITY;
    if (rel > worst.rel || compared == 0)
      worst = {rel, r, pos};
    ++compared;
  };

  // Prompts of 1 to T/2 tokens, then decoding to the end of the window.
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t r = 0; r < B; ++r) {
    int64_t n = 1 + (B > 1 ? r * std::max<int64_t>(T / 2 - 1, 0) / (B - 1) : 0);
    prompts.emplace_back(ids.begin() + r * T, ids.begin() + r * T + n);
  }
  std::vector<const float *> logits;
  if (std::string err = decoder->prefill(prompts, logits); !err.empty())
    return fail(err);
  for (int64_t r = 0; r < B; ++r)
    compare(logits[r], r, int64_t(prompts[r].size()) - 1);
  // A sequence that reaches the window's end gives its blocks back, so the
  // pool needs only what the live sequences hold at once.
  int64_t mostBlocks = decoder->blocksInUse();
  std::vector<bool> finished(B, false);
  for (;;) {
    std::vector<int32_t> next(B, 0);
    std::vector<bool> live(B, false);
    bool any = false;
    for (int64_t r = 0; r < B; ++r)
      if (!finished[r]) {
        next[r] = ids[r * T + decoder->length(r)];
        live[r] = any = true;
      }
    if (!any)
      break;
    std::vector<int64_t> at(B);
    for (int64_t r = 0; r < B; ++r)
      at[r] = decoder->length(r);
    if (std::string err = decoder->decode(next, live, logits); !err.empty())
      return fail(err);
    mostBlocks = std::max(mostBlocks, decoder->blocksInUse());
    for (int64_t r = 0; r < B; ++r)
      if (live[r]) {
        compare(logits[r], r, at[r]);
        if (decoder->length(r) == T) {
          decoder->release(r);
          finished[r] = true;
        }
      }
  }

  // The cache as the buffers hold it, against racc stats' count.
  const nlohmann::json &stats = model->manifest()["stats"]["inference_cache"];
  int64_t statsToken = stats.value("elements_per_token", int64_t(-1));
  int64_t statsSeq = stats.value("elements_per_sequence", int64_t(-1));
  int64_t token = decoder->elementsPerToken(), sequence = decoder->elementsPerSequence();
  fmt::print("decode-check: {} caches, {} values per token and {} per sequence (racc stats: {} "
             "and {}{})\n",
             decoder->caches().size(), token, sequence, statsToken, statsSeq,
             token == statsToken && sequence == statsSeq ? ", equal" : ", DIFFERENT");
  fmt::print("decode-check: paged in blocks of {} positions: at most {} of the pool's {} held "
             "(the whole window of every sequence: {})\n",
             decoder->blockPositions(), mostBlocks, decoder->poolBlocks(),
             B * ((T + decoder->blockPositions() - 1) / decoder->blockPositions()));
  // A bf16 build (--precision bf16) rounds matmul operands where each entry
  // point multiplies, and the decoder multiplies in another order (absorbed
  // weights, MLA's values after attention): it agrees to bf16's accuracy,
  // as a bf16 cache does.
  const bool bf16Matmuls = model->precision() == "bf16";
  double tolerance = args.count("tolerance")               ? args["tolerance"].as<double>()
                     : dtype == Dtype::F16                 ? 1e-2
                     : dtype == Dtype::BF16 || bf16Matmuls ? 5e-2
                                                           : args["tolerance"].as<double>();
  bool ok = worst.rel <= tolerance && token == statsToken && sequence == statsSeq;
  fmt::print("decode-check: {} positions of {} sequences (prompts of 1 to {} tokens, window {}) "
             "on {}{}: worst logit difference {:.2e} of its row's largest (sequence {}, position "
             "{}); tolerance {:.0e}: {}\n",
             compared, B, prompts.back().size(), T, model->deviceName(),
             (dtype == Dtype::F32              ? std::string()
              : decoder->storedType() == dtype ? fmt::format(", cache held in {}", dtypeName)
                                               : fmt::format(", cache rounded to {}", dtypeName)) +
                 (bf16Matmuls ? ", bf16 matmuls" : ""),
             worst.rel, worst.seq, worst.pos, tolerance, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

} // namespace rarun
