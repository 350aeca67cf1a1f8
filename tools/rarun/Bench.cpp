//===- Bench.cpp - rarun bench ----------------------------------------------===//
//
// Repeated training steps (or, with --entry forward, inference calls; with
// --entry decode, cached decoding: DecodeBench.cpp) on
// fixed random batches after a warm-up: median ms/step, tokens/s, model FLOP
// utilization against this machine's single-precision GEMM rate measured in
// the same run, and the arena's peak bytes. With --vs, two artifacts of the same model interleaved
// step by step (so machine noise hits both alike) and the largest relative difference of their
// forward outputs on the same inputs and parameters.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>

namespace rarun {

namespace {

struct Runner {
  std::string path, entry = "train_step";
  std::unique_ptr<ra::rt::Model> model;
  BatchShape shape;
  std::vector<int32_t> tokens, targets;
  std::vector<double> ms;
  double flopsPerStep = 0;
  int64_t arenaBytes = 0;

  bool load(const std::string &p, uint64_t seed, const Device &device) {
    path = p;
    model = loadModel(p, device);
    if (!model || !batchShape(*model, shape))
      return false;
    if (entry != "train_step" && entry != "forward") {
      fail("--entry: '" + entry + "' is not train_step, forward or decode");
      return false;
    }
    if (!model->entry(entry)) {
      fail("'" + p + "' has no " + entry + " entry point to benchmark");
      return false;
    }
    model->initialize(seed);
    ra::Rng rng(ra::hashName("bench", seed));
    tokens.resize(shape.batch * shape.seq);
    targets.resize(shape.batch * shape.seq);
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = rng.next() % shape.vocab;
      targets[i] = rng.next() % shape.vocab;
    }
    const auto &stats = model->manifest()["stats"]["flops_per_token"];
    flopsPerStep = stats.value(entry, 0.0) * shape.batch * shape.seq;
    const auto *e = model->entry(entry);
    // What the runtime allocates: the CUDA kernels' scratch too on a device.
    arenaBytes = e->arenaBytes + (device.name == "cpu" ? 0 : e->scratchBytes);
    return true;
  }

  std::string step(int64_t s) {
    if (entry == "forward") {
      std::vector<std::vector<float>> outs;
      double t = secondsNow();
      std::string err = forward(outs);
      ms.push_back((secondsNow() - t) * 1e3);
      return err;
    }
    const auto *e = model->entry("train_step");
    float loss, norm, lr = 1e-4f, stepValue = float(s);
    std::vector<float> norms(e->outputs[2].elements());
    double t = secondsNow();
    std::string err = model->call("train_step", {tokens.data(), targets.data(), &lr, &stepValue},
                                  {&loss, &norm, norms.data()});
    ms.push_back((secondsNow() - t) * 1e3);
    return err;
  }

  /// The forward outputs at the current parameters.
  std::string forward(std::vector<std::vector<float>> &outs) {
    OutputBuffers buffers(*model->entry("forward"));
    std::string err = model->call("forward", {tokens.data(), targets.data()}, buffers.ptrs);
    outs = std::move(buffers.data);
    return err;
  }
};

/// Per-kernel and per-family milliseconds per step over `steps` profiled
/// steps, kernels by time, largest first.
std::string profile(Runner &r, int steps, nlohmann::ordered_json &out) {
  if (std::string err = r.model->enableProfiling(true); !err.empty())
    return err;
  for (int s = 1; s <= steps; ++s)
    if (std::string err = r.step(1000 + s); !err.empty())
      return err;
  r.ms.resize(r.ms.size() - steps); // profiled steps are slower: not in the timing
  auto times = r.model->kernelTimes();
  r.model->enableProfiling(false);
  std::sort(times.begin(), times.end(),
            [](const auto &a, const auto &b) { return a.seconds > b.seconds; });
  nlohmann::ordered_json kernels = nlohmann::ordered_json::array();
  std::map<std::string, double> families;
  double total = 0;
  for (const auto &t : times) {
    double ms = 1e3 * t.seconds / steps;
    kernels.push_back(
        {{"kernel", t.name}, {"ms_per_step", ms}, {"calls_per_step", t.calls / steps}});
    families[t.name.substr(0, t.name.find('('))] += ms;
    total += ms;
  }
  nlohmann::ordered_json fam = nlohmann::ordered_json::object();
  std::vector<std::pair<std::string, double>> sorted(families.begin(), families.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto &a, const auto &b) { return a.second > b.second; });
  for (const auto &[f, ms] : sorted)
    fam[f] = ms;
  out["profile"] = {
      {"steps", steps}, {"kernel_ms_per_step", total}, {"families", fam}, {"kernels", kernels}};
  return "";
}

nlohmann::ordered_json report(const Runner &r, double gemmGflops) {
  double msStep = median(r.ms);
  double tokens = double(r.shape.batch * r.shape.seq);
  double mfu = r.flopsPerStep / (msStep / 1e3) / (gemmGflops * 1e9);
  nlohmann::ordered_json out = {{"artifact", r.path},
                                {"entry", r.entry},
                                {"ms_per_step", msStep},
                                {"tokens_per_s", tokens / (msStep / 1e3)},
                                {"mfu", mfu},
                                {"model_flops_per_step", r.flopsPerStep},
                                {"peak_arena_bytes", r.arenaBytes},
                                {"steps_timed", r.ms.size()}};
  // On a device: whether the timed steps were CUDA graph launches.
  if (std::string graphs = r.model->cudaGraphsReport(); !graphs.empty())
    out["cuda_graphs"] = graphs;
  return out;
}

} // namespace

/// How two artifacts differ as models (batch shape, parameters, their
/// shapes), or "" when they are builds of one model.
static std::string shapeDifference(const ra::rt::Model &a, const ra::rt::Model &b) {
  BatchShape sa, sb;
  if (batchShape(a, sa) && batchShape(b, sb) && (sa.batch != sb.batch || sa.seq != sb.seq))
    return fmt::format("batch {} x {} against {} x {}", sa.batch, sa.seq, sb.batch, sb.seq);
  auto str = [](const std::vector<int64_t> &s) { return nlohmann::json(s).dump(); };
  for (const ra::rt::ParamInfo &p : a.params()) {
    const ra::rt::ParamInfo *q = b.param(p.name);
    if (!q)
      return "parameter " + p.name + " is only in the first";
    if (q->shape != p.shape)
      return "parameter " + p.name + " is " + str(p.shape) + " against " + str(q->shape);
  }
  if (a.params().size() != b.params().size())
    return "the second has parameters the first has not";
  return "";
}

int benchCommand(int argc, char **argv) {
  cxxopts::Options options("rarun bench", "Time training steps; compare two artifacts");
  ra::tools::NumericOptions numbers(options);
  numbers.integer("steps", "Timed steps", 10, 1)
      .integer("warmup", "Untimed steps first", 2, 0)
      .seed("seed", "Seed of parameters and batch");
  options.add_options()("vs", "A second artifact of the same model, timed interleaved",
                        cxxopts::value<std::string>())("json", "Print one JSON object")(
      "profile", "Then time every kernel over a few more steps (each kernel waited for)")(
      "allow-different",
      "With --vs: time artifacts of different models (shapes, parameters) without comparing "
      "their outputs")("entry",
                       "The entry point timed: train_step, forward (inference), or decode "
                       "(cached decoding: tokens/s and cache bytes per context and sequences)",
                       cxxopts::value<std::string>()->default_value("train_step"))(
      "context", "With --entry decode: contexts, comma-separated (default: the window)",
      cxxopts::value<std::string>())(
      "sequences",
      "With --entry decode: sequences decoded together, comma-separated "
      "(default: the batch)",
      cxxopts::value<std::string>());
  auto parsed = parseArtifactCommand(options, argc, argv, &numbers);
  if (!parsed)
    return 0;
  const cxxopts::ParseResult &args = *parsed;
  if (!args.count("artifact"))
    return fail("rarun bench needs an artifact");
  if (args["entry"].as<std::string>() == "decode") {
    if (args.count("vs") || args.count("profile"))
      return fail("--entry decode takes neither --vs nor --profile");
    return decodeBench(args);
  }
  if (args.count("context") || args.count("sequences"))
    return fail("--context and --sequences apply to --entry decode");
  uint64_t seed = args["seed"].as<uint64_t>();
  std::vector<Runner> runners(args.count("vs") ? 2 : 1);
  Device device = deviceOf(args);
  for (Runner &r : runners)
    r.entry = args["entry"].as<std::string>();
  if (!runners[0].load(args["artifact"].as<std::string>(), seed, device))
    return 1;
  if (runners.size() == 2) {
    if (!runners[1].load(args["vs"].as<std::string>(), seed, device))
      return 1;
    if (std::string difference = shapeDifference(*runners[0].model, *runners[1].model);
        !difference.empty() && !args.count("allow-different"))
      return fail("--vs: the artifacts are of different models (" + difference +
                  "); their outputs cannot be compared. --allow-different times them anyway");
  }

  // Outputs before any step changes the parameters (of one model only).
  double maxRelDiff = 0;
  if (runners.size() == 2 && !args.count("allow-different")) {
    std::vector<std::vector<float>> a, b;
    if (std::string err = runners[0].forward(a); !err.empty())
      return fail(err);
    if (std::string err = runners[1].forward(b); !err.empty())
      return fail(err);
    if (a.size() != b.size())
      return fail("--vs: the artifacts' forward outputs differ in number");
    for (size_t i = 0; i < a.size(); ++i) {
      double diff = 0, scale = 0;
      for (size_t j = 0; j < a[i].size() && j < b[i].size(); ++j) {
        diff = std::max(diff, (double)std::abs(a[i][j] - b[i][j]));
        scale = std::max(scale, (double)std::abs(b[i][j]));
      }
      maxRelDiff = std::max(maxRelDiff, diff / std::max(scale, 1e-30));
    }
  }

  // The MFU ceiling: the CPU's sgemm, or on a device its bf16 tensor-core
  // GEMM rate (the card's peak; our kernels are float32, so the float32
  // rate is reported beside it).
  double gemm = 0, fp32 = 0;
  bool gpu = device.name == "cuda";
  int n = gpu ? 8192 : device.name == "cpu" ? 1024 : 512;
  std::string err;
  gemm = 1e3 * runners[0].model->gemmTflops(n, gpu, err);
  if (gpu && err.empty())
    fp32 = 1e3 * runners[0].model->gemmTflops(n, false, err);
  if (!err.empty())
    return fail(err);
  std::string ceiling =
      fmt::format("{} {}^3 on {}", gpu ? "bf16 cuBLAS GEMM" : "sgemm", n,
                  device.name == "cpu" ? "the CPU" : runners[0].model->deviceName());
  int warmup = int(args["warmup"].as<int64_t>()), steps = int(args["steps"].as<int64_t>());
  for (int s = 1; s <= warmup + steps; ++s)
    for (Runner &r : runners) {
      if (std::string err = r.step(s); !err.empty())
        return fail(r.path + ": " + err);
      if (s <= warmup)
        r.ms.pop_back();
    }

  nlohmann::ordered_json out = {
      {"device", runners[0].model->deviceName()}, {"gemm_gflops", gemm}, {"ceiling", ceiling}};
  if (fp32 > 0)
    out["fp32_gemm_gflops"] = fp32;
  out["artifact"] = report(runners[0], gemm);
  if (runners.size() == 2)
    out["vs"] = report(runners[1], gemm);
  if (args.count("profile"))
    for (size_t i = 0; i < runners.size(); ++i)
      if (std::string err = profile(runners[i], 3, out[i ? "vs" : "artifact"]); !err.empty())
        return fail(runners[i].path + ": " + err);
  if (runners.size() == 2) {
    out["speedup"] = median(runners[1].ms) / median(runners[0].ms);
    out["peak_bytes_ratio"] = double(runners[0].arenaBytes) / double(runners[1].arenaBytes);
    // Different models' outputs are not compared.
    if (args.count("allow-different"))
      out["max_rel_diff"] = nullptr;
    else
      out["max_rel_diff"] = maxRelDiff;
  }
  if (args.count("json")) {
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("{}: {:.1f} GFLOP/s (the MFU ceiling, measured now)\n", ceiling, gemm);
  if (fp32 > 0)
    fmt::print("float32 GEMM on the same device: {:.1f} GFLOP/s\n", fp32);
  for (const char *key : {"artifact", "vs"}) {
    if (!out.contains(key))
      continue;
    const auto &r = out[key];
    fmt::print("{:<40} {:8.2f} ms/step {:10.0f} tok/s  MFU {:5.1f}%  arena {:.1f} MiB\n",
               r["artifact"].get<std::string>(), r["ms_per_step"].get<double>(),
               r["tokens_per_s"].get<double>(), 100 * r["mfu"].get<double>(),
               r["peak_arena_bytes"].get<double>() / (1 << 20));
  }
  for (const char *key : {"artifact", "vs"})
    if (out.contains(key) && out[key].contains("cuda_graphs"))
      fmt::print("cuda graphs of {}:\n{}", out[key]["artifact"].get<std::string>(),
                 out[key]["cuda_graphs"].get<std::string>());
  if (runners.size() == 2)
    fmt::print("speedup {:.2f}x, peak bytes ratio {:.2f}, max relative output difference {}\n",
               out["speedup"].get<double>(), out["peak_bytes_ratio"].get<double>(),
               args.count("allow-different") ? "not compared (different models)"
                                             : fmt::format("{:.2e}", maxRelDiff));
  for (const char *key : {"artifact", "vs"}) {
    if (!out.contains(key) || !out[key].contains("profile"))
      continue;
    const auto &p = out[key]["profile"];
    fmt::print("\nkernels of {} ({:.1f} ms/step in kernels, each waited for):\n",
               out[key]["artifact"].get<std::string>(), p["kernel_ms_per_step"].get<double>());
    for (const auto &[family, ms] : p["families"].items())
      fmt::print("  {:<24} {:8.2f} ms/step\n", family, ms.get<double>());
    fmt::print("  the slowest:\n");
    for (size_t i = 0; i < p["kernels"].size() && i < 8; ++i)
      fmt::print("  {:8.2f} ms/step  {:3} calls  {}\n",
                 p["kernels"][i]["ms_per_step"].get<double>(),
                 p["kernels"][i]["calls_per_step"].get<int64_t>(),
                 p["kernels"][i]["kernel"].get<std::string>());
  }
  return 0;
}

} // namespace rarun
