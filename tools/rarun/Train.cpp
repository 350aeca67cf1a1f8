//===- Train.cpp - rarun train ----------------------------------------------===//
//
// One @train_step call per step on a random batch of the training split, the
// learning rate from a warmup + cosine schedule. RUNDIR/metrics.jsonl gets a
// record per step (and one per validation), RUNDIR/ckpt/step_N.safetensors
// the checkpoints. Deterministic given the seed: --resume from a checkpoint
// reproduces every later loss bit for bit.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "runtime/Checkpoint.h"
#include "runtime/Schedule.h"

#include <chrono>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace rarun {

namespace {

bool makeDirs(const std::string &path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!partial.empty() && mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
        return false;
    }
    if (i < path.size())
      partial += path[i];
  }
  return true;
}

/// `step 12/40 [#####.....] loss 4.1234 | 12,345 tok/s | lr 5.0e-04`
std::string progressLine(int64_t step, int64_t total, double loss, double tokensPerSecond,
                         double lr) {
  int width = 20, done = int(width * step / std::max<int64_t>(total, 1));
  return fmt::format("step {}/{} [{}{}] loss {:.4f} | {:.0f} tok/s | lr {:.2e}", step, total,
                     std::string(done, '#'), std::string(width - done, '.'), loss, tokensPerSecond,
                     lr);
}

} // namespace

int trainCommand(int argc, char **argv) {
  cxxopts::Options options("rarun train", "Train a compiled model");
  options.add_options()("data",
                        "Corpus: a text file, a directory of text files, or .bin token files",
                        cxxopts::value<std::string>()->default_value("/usr/share/games/fortunes"))(
      "resume", "Continue from a checkpoint", cxxopts::value<std::string>())(
      "out", "Run directory for metrics.jsonl and ckpt/", cxxopts::value<std::string>());
  ra::tools::NumericOptions numbers(options);
  numbers.integer("steps", "Total steps", 100, 1)
      .real("lr", "Peak learning rate", 6e-4, 0, /*minExclusive=*/true)
      .integer("warmup", "Warmup steps (default: steps / 10)", std::nullopt, 0)
      .seed("seed", "Seed of the initialization and the data order")
      .integer("eval-every", "Validation loss every K steps (0: at the end only)", 0, 0)
      .integer("eval-batches", "Batches per validation", 8, 1)
      .integer("ckpt-every", "Checkpoint every K steps (0: at the end only)", 0, 0)
      .integer("batch", "Batch size; fixed at compile time, checked", std::nullopt, 1);
  auto parsed = parseArtifactCommand(options, argc, argv, &numbers);
  if (!parsed)
    return 0;
  const cxxopts::ParseResult &args = *parsed;
  if (!args.count("artifact"))
    return fail("rarun train needs an artifact (racc compile -o ART.rac)");
  if (!args.count("out"))
    return fail("rarun train needs --out RUNDIR");
  auto model = loadModel(args["artifact"].as<std::string>(), deviceOf(args));
  if (!model)
    return 1;
  const ra::rt::EntryInfo *step = model->entry("train_step");
  if (!step)
    return fail("the artifact has no train_step (does the model declare `output loss`?)");
  BatchShape shape;
  if (!batchShape(*model, shape))
    return 1;
  if (args.count("batch") && args["batch"].as<int64_t>() != shape.batch)
    return fail(fmt::format("--batch {}: the artifact was compiled for batch {} "
                            "(recompile with -D batch={})",
                            args["batch"].as<int64_t>(), shape.batch, args["batch"].as<int64_t>()));

  ra::rt::Corpus corpus;
  if (std::string err = loadCorpus(args["data"].as<std::string>(), shape.vocab, shape.seq, corpus);
      !err.empty())
    return fail(err);

  int64_t steps = args["steps"].as<int64_t>();
  int64_t warmup =
      args.count("warmup") ? args["warmup"].as<int64_t>() : std::max<int64_t>(1, steps / 10);
  double peak = args["lr"].as<double>();
  uint64_t seed = args["seed"].as<uint64_t>();
  int64_t evalEvery = args["eval-every"].as<int64_t>();
  int64_t ckptEvery = args["ckpt-every"].as<int64_t>();
  int evalBatches = int(args["eval-batches"].as<int64_t>());
  std::string out = args["out"].as<std::string>();
  if (!makeDirs(out + "/ckpt"))
    return fail("cannot create '" + out + "/ckpt': " + std::strerror(errno));

  model->initialize(seed);
  ra::rt::Batcher batcher(corpus.train, shape.batch, shape.seq, ra::hashName("data", seed));
  int64_t start = 0;
  if (args.count("resume")) {
    ra::rt::CheckpointMeta meta;
    if (std::string err = readCheckpoint(args["resume"].as<std::string>(), *model, meta);
        !err.empty())
      return fail(err);
    start = meta.step;
    batcher.restore(meta.dataState);
  }

  std::ofstream metrics(out + "/metrics.jsonl",
                        args.count("resume") ? std::ios::app : std::ios::trunc);
  if (!metrics)
    return fail("cannot write '" + out + "/metrics.jsonl'");
  bool tty = isatty(fileno(stdout));
  if (model->deviceName() != "cpu")
    fmt::print("rarun: device {}\n", model->deviceName());
  fmt::print("rarun: training {} for {} steps on {} ({}), batch {} x {} tokens\n",
             args["artifact"].as<std::string>(), steps, args["data"].as<std::string>(),
             corpus.description, shape.batch, shape.seq);

  // Groups for gradient norms: the first segment of each name (wte, h, ...).
  std::map<std::string, std::vector<int>> groups;
  for (size_t i = 0; i < step->gradNormParams.size(); ++i) {
    const std::string &n = step->gradNormParams[i];
    groups[n.substr(0, n.find('.'))].push_back(i);
  }
  std::vector<const ra::rt::ParamInfo *> scalars;
  for (const auto &p : model->params())
    if (p.trainable && p.shape.empty())
      scalars.push_back(&p);

  auto checkpoint = [&](int64_t at) -> bool {
    ra::rt::CheckpointMeta meta;
    meta.step = at;
    meta.dataState = batcher.state();
    meta.extra["source"] = model->manifest().value("source", "");
    std::string path = fmt::format("{}/ckpt/step_{}.safetensors", out, at);
    if (std::string err = writeCheckpoint(path, *model, meta); !err.empty()) {
      fail(err);
      return false;
    }
    return true;
  };
  auto validate = [&](int64_t at) -> bool {
    double val = 0;
    std::map<std::string, double> reports;
    if (std::string err = validationLoss(*model, corpus, shape, evalBatches, val, &reports);
        !err.empty()) {
      fail(err);
      return false;
    }
    nlohmann::ordered_json record = {{"step", at}, {"val_loss", val}};
    if (!reports.empty())
      record["reports"] = reports;
    metrics << record.dump() << "\n";
    fmt::print("{}step {}: validation loss {:.4f}\n", tty ? "\n" : "", at, val);
    return true;
  };

  std::vector<int32_t> tokens, targets;
  float loss = 0, gradNorm = 0, lrValue = 0, stepValue = 0;
  std::vector<float> norms(step->outputs.size() > 2 ? step->outputs[2].elements() : 1);
  for (int64_t s = start + 1; s <= steps; ++s) {
    double lr = ra::rt::learningRate(s, steps, warmup, peak);
    lrValue = float(lr);
    stepValue = float(s);
    batcher.next(tokens, targets);
    auto t0 = std::chrono::steady_clock::now();
    std::string err =
        model->call("train_step", {tokens.data(), targets.data(), &lrValue, &stepValue},
                    {&loss, &gradNorm, norms.data()});
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!err.empty())
      return fail(fmt::format("step {}: {}", s, err));
    if (!std::isfinite(loss) || !std::isfinite(gradNorm)) {
      std::string culprit = "none (the loss itself)";
      for (size_t i = 0; i < norms.size() && i < step->gradNormParams.size(); ++i)
        if (!std::isfinite(norms[i])) {
          culprit = step->gradNormParams[i];
          break;
        }
      return fail(fmt::format("step {}: the loss is {}; first non-finite parameter gradient: {}. "
                              "The last good checkpoint is in {}/ckpt",
                              s, loss, culprit, out));
    }
    double tokensPerSecond = shape.batch * shape.seq / seconds;
    nlohmann::ordered_json record = {{"step", s},
                                     {"loss", loss},
                                     {"lr", lr},
                                     {"tokens_per_s", tokensPerSecond},
                                     {"grad_norm", gradNorm}};
    nlohmann::ordered_json groupNorms = nlohmann::ordered_json::object();
    for (const auto &[g, members] : groups) {
      double sq = 0;
      for (int i : members)
        sq += double(norms[i]) * norms[i];
      groupNorms[g] = std::sqrt(sq);
    }
    record["grad_norm_groups"] = groupNorms;
    if (!scalars.empty()) {
      nlohmann::ordered_json values = nlohmann::ordered_json::object();
      for (const auto *p : scalars)
        values[p->name] = model->parameterValue(p->offset);
      record["scalars"] = values;
    }
    metrics << record.dump() << "\n";
    metrics.flush();
    std::string line = progressLine(s, steps, loss, tokensPerSecond, lr);
    if (tty)
      fmt::print("\r{}", line);
    else
      fmt::print("{}\n", line);
    std::fflush(stdout);
    if (evalEvery > 0 && s % evalEvery == 0 && !validate(s))
      return 1;
    if (ckptEvery > 0 && s % ckptEvery == 0 && !checkpoint(s))
      return 1;
  }
  if (tty)
    fmt::print("\n");
  if ((evalEvery <= 0 || steps % evalEvery != 0) && !validate(steps))
    return 1;
  if ((ckptEvery <= 0 || steps % ckptEvery != 0) && !checkpoint(steps))
    return 1;
  fmt::print("rarun: done; metrics in {}/metrics.jsonl, checkpoints in {}/ckpt\n", out, out);
  return 0;
}

} // namespace rarun
