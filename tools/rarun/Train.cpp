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

#include "AccumulatedStep.h"
#include "Communicator.h"
#include "RunDirectory.h"

#include "runtime/Checkpoint.h"
#include "runtime/FileHash.h"
#include "runtime/Schedule.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace rarun {

namespace {

/// Set by SIGINT and SIGTERM: the step in flight finishes, a checkpoint is
/// written and the run ends.
volatile std::sig_atomic_t stopRequested = 0;
// A second signal exits at once: a step can take minutes, and checkpoints are
// written atomically, so nothing saved is lost.
void requestStop(int) {
  if (stopRequested)
    _exit(130);
  stopRequested = 1;
}

/// SHA-256 of the corpus' tokens, both splits: what a checkpoint records of
/// the data it was trained on.
std::string corpusDigest(const ra::rt::Corpus &corpus) {
  std::string parts = ra::rt::sha256(corpus.train.data(), corpus.train.size() * 4) +
                      ra::rt::sha256(corpus.validation.data(), corpus.validation.size() * 4);
  return ra::rt::sha256(parts.data(), parts.size());
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
      "init-from",
      "Start from a checkpoint's weights (weights-only or full) with fresh optimizer state, "
      "at step 0",
      cxxopts::value<std::string>())("out", "Run directory for metrics.jsonl and ckpt/",
                                     cxxopts::value<std::string>());
  ra::tools::NumericOptions numbers(options);
  numbers.integer("steps", "Total steps", 100, 1)
      .real("lr", "Peak learning rate", 6e-4, 0, /*minExclusive=*/true)
      .integer("warmup", "Warmup steps (default: steps / 10)", std::nullopt, 0)
      .seed("seed", "Seed of the initialization and the data order")
      .integer("eval-every", "Validation loss every K steps (0: at the end only)", 0, 0)
      .integer("eval-batches", "Batches per validation", 8, 1)
      .integer("ckpt-every", "Checkpoint every K steps (0: at the end only)", 0, 0)
      .integer("batch", "Batch size; fixed at compile time, checked", std::nullopt, 1)
      .integer("keep-last", "Keep only the N newest checkpoints (0: all)", 0, 0)
      .integer("grad-norms-every",
               "Every K steps (and at step 1), the gradient norm of every parameter in "
               "metrics.jsonl (0: per group only)",
               0, 0)
      .integer("grad-accum",
               "Micro-batches per step (per rank under mpirun): their gradients are summed "
               "before one update",
               1, 1, 1 << 20);
  auto parsed = parseArtifactCommand(options, argc, argv, &numbers);
  if (!parsed)
    return 0;
  const cxxopts::ParseResult &args = *parsed;
  if (!args.count("artifact"))
    return fail("rarun train needs an artifact (racc compile -o ART.rac)");
  if (!args.count("out"))
    return fail("rarun train needs --out RUNDIR");
  if (args.count("resume") && args.count("init-from"))
    return fail("--resume continues a run, --init-from starts a new one from weights: give one");
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
  std::string artifact = args["artifact"].as<std::string>();
  int64_t keepLast = args["keep-last"].as<int64_t>();
  int64_t gradNormsEvery = args["grad-norms-every"].as<int64_t>();
  // Under mpirun every rank trains; rank 0 alone writes the run directory.
  Communicator &world = Communicator::world();
  bool lead = world.rank() == 0;
  int accum = int(args["grad-accum"].as<int64_t>());
  RunDirectory run(out);
  if (lead)
    if (std::string err = run.prepare(); !err.empty())
      return fail(err);

  RunSettings settings;
  settings.steps = steps;
  settings.warmup = warmup;
  settings.lr = peak;
  settings.seed = seed;
  settings.batch = shape.batch;
  settings.seq = shape.seq;
  settings.data = args["data"].as<std::string>();
  settings.dataTokens = int64_t(corpus.train.size() + corpus.validation.size());
  settings.dataSha256 = corpusDigest(corpus);
  settings.tokenizer = corpus.tokenizer;
  settings.ranks = world.size();
  settings.gradAccum = accum;
  if (args.count("init-from"))
    settings.initFrom = args["init-from"].as<std::string>();
  settings.artifact = artifact;
  ra::rt::FileDigest manifestDigest;
  if (std::string err = ra::rt::hashFile(artifact + "/manifest.json", manifestDigest); !err.empty())
    return fail(err);
  settings.artifactSha256 = manifestDigest.sha256;

  model->initialize(seed);
  if (!settings.initFrom.empty()) {
    ra::rt::CheckpointMeta from;
    if (std::string err =
            readCheckpoint(settings.initFrom, *model, from, ra::rt::CheckpointContents::Weights);
        !err.empty())
      return fail(err);
  }
  ra::rt::Batcher batcher(corpus.train, shape.batch, shape.seq, ra::hashName("data", seed));
  int64_t start = 0;
  std::string resumedFrom;
  if (args.count("resume")) {
    resumedFrom = args["resume"].as<std::string>();
    ra::rt::CheckpointMeta meta;
    if (std::string err = readCheckpoint(resumedFrom, *model, meta); !err.empty())
      return fail(err);
    start = meta.step;
    if (start >= steps)
      return fail(fmt::format("--resume {}: the checkpoint is at step {}, {} --steps {}: there "
                              "is nothing to train (pass --steps above {})",
                              resumedFrom, start, start == steps ? "already at" : "past", steps,
                              start));
    batcher.restore(meta.dataState);
    RunSettings recorded;
    if (!RunSettings::load(meta.extra, recorded))
      fmt::print(stderr,
                 "rarun: warning: {} records no run settings (an older rarun wrote it); "
                 "they cannot be compared\n",
                 resumedFrom);
    else if (auto differences = settingDifferences(recorded, settings); !differences.empty()) {
      fmt::print(stderr,
                 "rarun: warning: resuming with settings that differ from the checkpoint's run; "
                 "the losses will not be those of an uninterrupted run:\n");
      for (const std::string &d : differences)
        fmt::print(stderr, "  {}\n", d);
    }
    // The steps after the checkpoint are trained again: their old records go.
    if (std::string err = run.truncateMetrics(start); !err.empty())
      return fail(err);
  }

  // Every rank starts from rank 0's parameters (and moments), whatever its
  // own initialization or file system gave it.
  if (world.size() > 1)
    world.broadcast(model->mutableParameters(), size_t(model->parameterElements()));
  AccumulatedStep accumulated;
  bool useAccumulated = accum > 1 || world.size() > 1;
  if (useAccumulated)
    if (std::string err = accumulated.prepare(*model, accum, world); !err.empty())
      return fail(err);

  std::ofstream metrics;
  if (lead) {
    metrics.open(run.metricsPath(), args.count("resume") ? std::ios::app : std::ios::trunc);
    if (!metrics)
      return fail("cannot write '" + run.metricsPath() + "'");
  }
  // Only rank 0 speaks (and writes); the others' output would interleave.
  if (!lead)
    std::freopen("/dev/null", "w", stdout);
  bool tty = isatty(fileno(stdout));
  if (model->deviceName() != "cpu")
    fmt::print("rarun: device {}\n", model->deviceName());
  fmt::print("rarun: training {} for {} steps on {} ({}), batch {} x {} tokens{}\n", artifact,
             steps, args["data"].as<std::string>(), corpus.description, shape.batch, shape.seq,
             useAccumulated
                 ? fmt::format(" x {} micro-batches x {} ranks: {} tokens per step", accum,
                               world.size(), shape.batch * shape.seq * accum * world.size())
                 : std::string());
  if (!resumedFrom.empty())
    fmt::print("rarun: resuming from step {} of {}: steps {} to {}\n", start, resumedFrom,
               start + 1, steps);
  if (!settings.initFrom.empty())
    fmt::print("rarun: starting from the weights of {} (fresh optimizer state)\n",
               settings.initFrom);

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
    settings.store(meta.extra);
    if (!lead)
      return true;
    if (std::string err = writeCheckpoint(run.checkpointPath(at), *model, meta); !err.empty()) {
      fail(err);
      return false;
    }
    run.pruneCheckpoints(keepLast);
    return true;
  };
  // Where a failed run can be resumed from.
  auto lastCheckpoint = [&]() -> std::string {
    std::vector<int64_t> written = run.checkpointSteps();
    if (!written.empty())
      return "the last checkpoint is " + run.checkpointPath(written.back());
    if (!resumedFrom.empty())
      return "no checkpoint was written since " + resumedFrom;
    return "no checkpoint was written (--ckpt-every K writes them)";
  };
  for (int s : {SIGINT, SIGTERM})
    std::signal(s, requestStop);
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
    auto t0 = std::chrono::steady_clock::now();
    std::string err;
    AccumulatedStep::Result result;
    if (useAccumulated) {
      err = accumulated.run(batcher, s, lrValue, result);
      loss = result.loss;
      gradNorm = result.gradNorm;
      std::copy(result.norms.begin(), result.norms.end(), norms.begin());
    } else {
      batcher.next(tokens, targets);
      err = model->call("train_step", {tokens.data(), targets.data(), &lrValue, &stepValue},
                        {&loss, &gradNorm, norms.data()});
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!err.empty())
      return fail(fmt::format("step {}: {}; {}", s, err, lastCheckpoint()));
    if (result.nonFiniteRank >= 0)
      return fail(fmt::format("step {}: the loss of rank {}'s micro-batches is not finite; {}", s,
                              result.nonFiniteRank, lastCheckpoint()));
    if (!std::isfinite(loss) || !std::isfinite(gradNorm)) {
      std::string culprit = "none (the loss itself)";
      for (size_t i = 0; i < norms.size() && i < step->gradNormParams.size(); ++i)
        if (!std::isfinite(norms[i])) {
          culprit = step->gradNormParams[i];
          break;
        }
      return fail(fmt::format("step {}: the loss is {}; first non-finite parameter gradient: {}; "
                              "{}",
                              s, loss, culprit, lastCheckpoint()));
    }
    double tokensPerSecond = double(shape.batch * shape.seq * accum * world.size()) / seconds;
    nlohmann::ordered_json record = {{"step", s},
                                     {"loss", loss},
                                     {"lr", lr},
                                     {"tokens_per_s", tokensPerSecond},
                                     {"grad_norm", gradNorm}};
    if (world.size() > 1)
      record["allreduce_s"] = result.reduceSeconds;
    nlohmann::ordered_json groupNorms = nlohmann::ordered_json::object();
    for (const auto &[g, members] : groups) {
      double sq = 0;
      for (int i : members)
        sq += double(norms[i]) * norms[i];
      groupNorms[g] = std::sqrt(sq);
    }
    record["grad_norm_groups"] = groupNorms;
    // Gradient flow per parameter (rarun study names those that stay near 0).
    if (gradNormsEvery > 0 && (s % gradNormsEvery == 0 || s == 1)) {
      nlohmann::ordered_json each = nlohmann::ordered_json::object();
      for (size_t i = 0; i < step->gradNormParams.size() && i < norms.size(); ++i)
        each[step->gradNormParams[i]] = norms[i];
      record["grad_norms"] = each;
    }
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
    // Every rank stops after the same step, whichever one got the signal.
    if (world.size() > 1 ? world.firstRankWhere(stopRequested != 0) >= 0 : stopRequested) {
      if (tty)
        fmt::print("\n");
      if ((ckptEvery <= 0 || s % ckptEvery != 0) && !checkpoint(s))
        return 1;
      fmt::print(stderr,
                 "rarun: interrupted after step {}; checkpoint {} (continue with --resume {})\n", s,
                 run.checkpointPath(s), run.checkpointPath(s));
      return 130;
    }
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
