//===- Study.cpp - rarun study --------------------------------------------===//
//
// Runs a study file (study/StudyFile.h): compiles each distinct artifact
// once (keyed by the SHA-256 of its IR after the pipeline, so two spellings
// of one model share it), trains every variant at every seed with rarun
// train as a child process, and writes DIR/report.{json,md} and the plots.
//
// Resumable by construction: DIR/runs/KEY/seed_N/result.json marks a
// finished run (written after its process exits 0), a run without it
// resumes from its newest checkpoint (rarun train --resume, bit-identical),
// and a failed run keeps its failed.json. Nothing finished is trained again.
//
//===----------------------------------------------------------------------===//
#include "Common.h"
#include "RunDirectory.h"

#include "study/StudyFile.h"
#include "study/StudyProcess.h"
#include "study/StudyReport.h"

#include "runtime/AtomicFile.h"
#include "runtime/FileHash.h"

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <mutex>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace rarun {

using namespace ra::study;
using json = nlohmann::ordered_json;

namespace {

volatile std::sig_atomic_t studyStopped = 0;
void stopStudy(int) { studyStopped = 1; }

std::string selfDirectory() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return ".";
  std::string path(buf, size_t(n));
  return path.substr(0, path.rfind('/'));
}

bool exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string writeText(const std::string &path, const std::string &text) {
  return ra::rt::writeFileAtomically(path, "study file", [&](const ra::rt::WriteBytes &write) {
    return write(text.data(), text.size());
  });
}

/// The last `rarun: error:` line of a log, or its last line.
std::string lastError(const std::string &log) {
  std::ifstream in(log);
  std::string line, error, last;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    last = line;
    if (line.rfind("rarun: error: ", 0) == 0)
      error = line.substr(14);
  }
  return error.empty() ? last : error;
}

/// A compiler's first line: the located error (its notes follow).
std::string firstLine(const std::string &text) { return text.substr(0, text.find('\n')); }

std::string duration(double seconds) {
  int64_t s = int64_t(std::max(0.0, seconds) + 0.5);
  if (s >= 3600)
    return fmt::format("{}h {:02}m", s / 3600, s / 60 % 60);
  if (s >= 60)
    return fmt::format("{}m {:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::vector<std::string> defineArgs(const Defines &defines) {
  std::vector<std::string> args;
  for (const auto &[k, v] : defines) {
    args.push_back("-D");
    args.push_back(k + "=" + v);
  }
  return args;
}

/// What the study learns of a variant from racc stats: "" or an error.
std::string readStats(const std::string &racc, const Variant &v, VariantResult &out) {
  std::vector<std::string> argv = {racc, "stats", v.model, "--json"};
  for (const auto &a : defineArgs(v.defines))
    argv.push_back(a);
  std::string text, err;
  int status = runCaptured(argv, text, err);
  if (status != 0) {
    while (!err.empty() && err.back() == '\n')
      err.pop_back();
    return err.empty() ? fmt::format("racc stats exited with {}", status) : firstLine(err);
  }
  json stats = json::parse(text, nullptr, false);
  if (!stats.is_object() || !stats.contains("parameters"))
    return "racc stats printed no JSON";
  out.parameters = stats["parameters"]["total"].get<int64_t>();
  for (const json &t : stats["parameters"]["tensors"]) {
    ParamFacts p;
    p.count = t["count"].get<int64_t>();
    p.scalar = t["shape"].empty();
    if (t.contains("init_value") && t["init_value"].is_number())
      p.init = t["init_value"].get<double>();
    if (t.contains("mechanism") && t["mechanism"].is_string())
      p.mechanism = t["mechanism"].get<std::string>();
    out.params[t["name"].get<std::string>()] = p;
  }
  for (auto &[k, x] : stats["config"].items())
    if (x.is_number())
      out.config[k] = x.get<double>();
  return "";
}

/// SHA-256 of the variant's IR after the pipeline: "" or an error in `err`.
std::string contentKey(const std::string &racc, const Variant &v, std::string &error) {
  std::vector<std::string> argv = {racc, "compile", v.model, "--emit", "mlir"};
  for (const auto &a : defineArgs(v.defines))
    argv.push_back(a);
  std::string ir, err;
  if (int status = runCaptured(argv, ir, err); status != 0) {
    error = err.empty() ? fmt::format("racc exited with {}", status) : firstLine(err);
    return "";
  }
  return ra::rt::sha256(ir.data(), ir.size()).substr(0, 16);
}

/// One training run of the schedule.
struct Job {
  size_t variant; // the first variant with this artifact
  uint64_t seed;
  std::string dir;
  int64_t steps;
  // While it runs:
  Child child;
  int64_t step = 0, startStep = 0;
  double loss = 0;
  std::chrono::steady_clock::time_point started, lastPrint;
};

/// "step 12/40 [...] loss 4.1234 | ...": step and loss, or false.
bool parseProgress(const std::string &line, int64_t &step, double &loss) {
  long s = 0, total = 0;
  if (std::sscanf(line.c_str(), "step %ld/%ld", &s, &total) != 2)
    return false;
  step = s;
  size_t at = line.find("loss ");
  if (at != std::string::npos)
    loss = std::atof(line.c_str() + at + 5);
  return true;
}

} // namespace

int studyCommand(int argc, char **argv) {
  cxxopts::Options options("rarun study",
                           "Train every variant of a study file at every seed and report");
  options.add_options()("study", "The study file (TOML; docs/study.md)",
                        cxxopts::value<std::string>())(
      "out", "The study's directory (artifacts, runs, report)", cxxopts::value<std::string>())(
      "racc", "The racc to compile with (default: the one beside rarun)",
      cxxopts::value<std::string>())(
      "python", "The Python with matplotlib that draws the plots",
      cxxopts::value<std::string>()->default_value("/usr/bin/python3"))(
      "no-plots", "Write report.json and report.md only")("h,help", "Show this help");
  ra::tools::NumericOptions numbers(options);
  numbers.integer("jobs", "Runs trained at once", 1, 1, 256)
      .integer("threads", "Threads per run (default: the cores / --jobs)", std::nullopt, 1, 1024);
  options.parse_positional({"study"});
  options.positional_help("STUDY.toml");
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    fmt::print("{}\n", options.help());
    return 0;
  }
  numbers.enforce(args);
  if (!args.count("study"))
    return fail("rarun study needs a study file (rarun study STUDY.toml --out DIR)");
  if (!args.count("out"))
    return fail("rarun study needs --out DIR");
  Study study;
  if (std::string err = readStudy(args["study"].as<std::string>(), study); !err.empty())
    return fail(err);
  std::string out = args["out"].as<std::string>();
  std::string racc =
      args.count("racc") ? args["racc"].as<std::string>() : selfDirectory() + "/racc";
  std::string rarunPath = selfDirectory() + "/rarun";
  int jobs = int(args["jobs"].as<int64_t>());
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  int threads =
      args.count("threads") ? int(args["threads"].as<int64_t>()) : std::max(1, int(cores) / jobs);
  if (access(racc.c_str(), X_OK) != 0)
    return fail("cannot run racc at '" + racc + "' (--racc PATH)");
  for (const char *sub : {"", "/artifacts", "/runs"})
    if (!makeDirectories(out + sub))
      return fail(fmt::format("cannot create '{}{}': {}", out, sub, std::strerror(errno)));
  // One study per directory: two would train the same runs. The lock is
  // inherited by the trainers (no O_CLOEXEC), so one that outlives a killed
  // study (it finishes its step on SIGTERM) holds it until it is gone.
  int lock = open((out + "/.lock").c_str(), O_RDWR | O_CREAT, 0644);
  if (lock < 0)
    return fail(fmt::format("cannot create '{}/.lock': {}", out, std::strerror(errno)));
  for (int tries = 0; flock(lock, LOCK_EX | LOCK_NB) != 0; ++tries) {
    if (tries == 0)
      fmt::print("rarun study: waiting for the process that holds {}/.lock\n", out);
    if (tries == 120)
      return fail(fmt::format("'{}' is in use by another rarun study (or a run it started)", out));
    usleep(500000);
  }

  // The variants: the file's, then the scaling references and sweep points
  // derived from them.
  std::vector<VariantResult> variants;
  auto addVariant = [&](Variant v) -> VariantResult & {
    VariantResult r;
    r.variant = std::move(v);
    if (std::string err = readStats(racc, r.variant, r); !err.empty()) {
      r.compileError = err;
      fmt::print(stderr, "rarun study: {} does not compile (the rest goes on): {}\n",
                 r.variant.name, err);
    }
    variants.push_back(std::move(r));
    return variants.back();
  };
  fmt::print("rarun study: {} ({} variants, {} seeds) in {}\n", study.name, study.variants.size(),
             study.seeds.size(), out);
  for (const Variant &v : study.variants)
    addVariant(v);
  auto find = [&](const std::string &name) -> VariantResult * {
    for (auto &v : variants)
      if (v.variant.name == name)
        return &v;
    return nullptr;
  };
  auto derived = [&](const VariantResult &base, const std::string &define, int64_t value,
                     VariantKind kind) {
    Variant v = base.variant;
    v.name = fmt::format("{}@{}={}", base.variant.name, define, value);
    if (find(v.name))
      return;
    std::map<std::string, std::string> d(v.defines.begin(), v.defines.end());
    d[define] = std::to_string(value);
    v.defines.assign(d.begin(), d.end());
    v.kind = kind;
    v.mechanism = kind == VariantKind::Scaling ? "scaling reference" : "sweep";
    v.against = kind == VariantKind::Scaling ? base.variant.name : study.baseline;
    v.row.clear();
    v.column.clear();
    v.line = 0;
    addVariant(v);
  };
  if (study.scalingReference) {
    std::map<std::string, double> perUnit; // parameters per unit of d_mlp
    size_t declared = variants.size();
    for (size_t i = 0; i < declared; ++i) {
      VariantResult v = variants[i]; // a copy: addVariant grows the vector
      VariantResult *against = find(v.variant.against);
      if (v.variant.against.empty() || !v.compileError.empty() || !against ||
          !against->compileError.empty() || !against->config.count("d_mlp") ||
          v.parameters == against->parameters)
        continue;
      int64_t width = int64_t(against->config.at("d_mlp"));
      if (!perUnit.count(against->variant.name)) {
        Variant wider = against->variant;
        std::map<std::string, std::string> d(wider.defines.begin(), wider.defines.end());
        d["d_mlp"] = std::to_string(width + 1);
        wider.defines.assign(d.begin(), d.end());
        VariantResult probe;
        if (readStats(racc, wider, probe).empty())
          perUnit[against->variant.name] = double(probe.parameters - against->parameters);
      }
      double unit = perUnit[against->variant.name];
      if (unit <= 0)
        continue;
      int64_t matched =
          width + int64_t(std::llround(double(v.parameters - against->parameters) / unit));
      if (matched != width && matched >= 1)
        derived(*find(v.variant.against), "d_mlp", matched, VariantKind::Scaling);
    }
  }
  if (study.sweep) {
    VariantResult base = *find(study.sweep->variant);
    if (!base.config.count(study.sweep->of))
      return fail(fmt::format("{}: [sweep] of '{}': variant '{}' has no config '{}'", study.path,
                              study.sweep->of, base.variant.name, study.sweep->of));
    for (double ratio : study.sweep->ratios)
      derived(base, study.sweep->define, std::llround(ratio * base.config.at(study.sweep->of)),
              VariantKind::Sweep);
  }

  // One artifact per distinct IR.
  // Runs are shared by variants with one artifact and one learning rate.
  std::map<std::string, size_t> firstWithKey, firstWithRuns;
  auto runKey = [&](const VariantResult &v) {
    return v.variant.lr ? fmt::format("{}-lr{}", v.artifactKey, *v.variant.lr) : v.artifactKey;
  };
  for (size_t i = 0; i < variants.size(); ++i) {
    VariantResult &v = variants[i];
    if (!v.compileError.empty())
      continue;
    std::string error;
    v.artifactKey = contentKey(racc, v.variant, error);
    if (v.artifactKey.empty()) {
      v.compileError = error;
      continue;
    }
    v.artifact = out + "/artifacts/" + v.artifactKey + ".rac";
    firstWithKey.emplace(v.artifactKey, i);
    if (auto [it, fresh] = firstWithRuns.emplace(runKey(v), i); !fresh)
      v.sameAs = variants[it->second].variant.name;
  }
  // The artifacts not built before, --jobs at a time (each racc compile
  // runs one host compiler).
  std::vector<size_t> toCompile;
  for (const auto &[key, i] : firstWithKey)
    if (!exists(variants[i].artifact + "/manifest.json"))
      toCompile.push_back(i);
  std::atomic<size_t> nextCompile{0};
  std::mutex printing;
  auto compileWorker = [&] {
    for (size_t n; (n = nextCompile++) < toCompile.size() && !studyStopped;) {
      VariantResult &v = variants[toCompile[n]];
      {
        std::lock_guard<std::mutex> hold(printing);
        fmt::print("rarun study: compiling {} ({}/{})\n", v.variant.name, n + 1, toCompile.size());
        std::fflush(stdout);
      }
      std::vector<std::string> argv = {racc, "compile", v.variant.model, "-o", v.artifact};
      for (const auto &a : defineArgs(v.variant.defines))
        argv.push_back(a);
      std::string text, err;
      if (int status = runCaptured(argv, text, err); status != 0) {
        std::string error = err.empty() ? fmt::format("racc exited with {}", status) : err;
        std::lock_guard<std::mutex> hold(printing);
        fmt::print(stderr, "rarun study: {} does not compile (the rest goes on):\n{}",
                   v.variant.name, error);
        v.compileError = firstLine(error);
      }
    }
  };
  for (int s : {SIGINT, SIGTERM, SIGHUP})
    std::signal(s, stopStudy);
  {
    std::vector<std::thread> workers;
    for (int w = 0; w < std::min<int>(jobs, int(toCompile.size())); ++w)
      workers.emplace_back(compileWorker);
    for (auto &w : workers)
      w.join();
  }
  for (size_t i : toCompile)
    for (auto &other : variants)
      if (other.artifactKey == variants[i].artifactKey && other.compileError.empty())
        other.compileError = variants[i].compileError;
  if (studyStopped) {
    fmt::print(stderr, "rarun study: interrupted while compiling; run the same command again to "
                       "continue\n");
    return 130;
  }

  // The budget and the schedule.
  auto stepsOf = [&](const VariantResult &v) -> int64_t {
    if (study.steps)
      return study.steps;
    double tokensPerStep = v.config.count("batch") && v.config.count("seq")
                               ? v.config.at("batch") * v.config.at("seq")
                               : 1;
    return std::max<int64_t>(1, int64_t(std::ceil(double(study.tokens) / tokensPerStep)));
  };
  std::vector<std::unique_ptr<Job>> pending;
  size_t kept = 0, failedBefore = 0;
  for (const auto &[key, i] : firstWithRuns) {
    const VariantResult &v = variants[i];
    if (!v.compileError.empty())
      continue;
    for (uint64_t seed : study.seeds) {
      auto job = std::make_unique<Job>();
      job->variant = i;
      job->seed = seed;
      job->dir = fmt::format("{}/runs/{}/seed_{}", out, key, seed);
      job->steps = stepsOf(v);
      if (exists(job->dir + "/result.json")) {
        ++kept;
        continue;
      }
      if (exists(job->dir + "/failed.json")) {
        ++failedBefore;
        continue;
      }
      pending.push_back(std::move(job));
    }
  }
  size_t total = pending.size() + kept + failedBefore;
  fmt::print("rarun study: {} runs: {} finished before (kept), {} failed before (kept), {} to "
             "train, {} at a time with {} thread{} each\n",
             total, kept, failedBefore, pending.size(), jobs, threads, threads == 1 ? "" : "s");
  std::fflush(stdout);

  bool tty = isatty(fileno(stdout));
  std::vector<std::unique_ptr<Job>> running;
  size_t next = 0, finished = kept, failures = 0;
  double secondsPerStep = 0; // measured, per run slot
  int64_t stepsMeasured = 0;
  double secondsMeasured = 0;
  auto remainingSteps = [&]() {
    int64_t left = 0;
    for (size_t i = next; i < pending.size(); ++i)
      left += pending[i]->steps;
    for (const auto &j : running)
      left += j->steps - j->step;
    return left;
  };
  auto launch = [&](std::unique_ptr<Job> job) -> bool {
    const VariantResult &v = variants[job->variant];
    if (!makeDirectories(job->dir))
      return fail(fmt::format("cannot create '{}': {}", job->dir, std::strerror(errno))), false;
    std::vector<std::string> argv = {
        rarunPath,
        "train",
        v.artifact,
        "--data",
        study.data,
        "--steps",
        std::to_string(job->steps),
        "--lr",
        fmt::format("{}", v.variant.lr.value_or(study.lr)),
        "--seed",
        std::to_string(job->seed),
        "--eval-every",
        std::to_string(study.evalEvery ? study.evalEvery : std::max<int64_t>(1, job->steps / 4)),
        "--eval-batches",
        std::to_string(study.evalBatches),
        "--ckpt-every",
        std::to_string(study.ckptEvery ? study.ckptEvery : std::max<int64_t>(1, job->steps / 10)),
        "--keep-last",
        "1",
        "--grad-norms-every",
        std::to_string(study.gradNormsEvery ? study.gradNormsEvery
                                            : std::max<int64_t>(1, job->steps / 20)),
        "--out",
        job->dir};
    if (study.warmup)
      argv.insert(argv.end(), {"--warmup", std::to_string(*study.warmup)});
    // The newest checkpoint of an interrupted run.
    ra::rt::CheckpointMeta unused;
    std::string ckptDir = job->dir + "/ckpt";
    int64_t newest = -1;
    for (int64_t s = job->steps; s >= 1 && newest < 0; --s)
      if (exists(fmt::format("{}/step_{}.safetensors", ckptDir, s)))
        newest = s;
    if (newest == job->steps) {
      // Trained to the end; the study stopped before recording it.
      RunResult r;
      if (readRunMetrics(job->dir + "/metrics.jsonl", v.params, r).empty()) {
        json result = {{"val_loss", r.valLoss}, {"steps", job->steps}};
        if (std::string err = writeText(job->dir + "/result.json", result.dump() + "\n");
            !err.empty())
          return fail(err), false;
        ++finished;
        return true;
      }
    }
    if (newest > 0) {
      argv.push_back("--resume");
      argv.push_back(fmt::format("{}/step_{}.safetensors", ckptDir, newest));
      job->startStep = job->step = newest;
    }
    fmt::print("{}rarun study: [{}/{}] {} seed {}{}\n", tty ? "\r\033[K" : "",
               finished + 1 + running.size() + failures, total, v.variant.name, job->seed,
               newest > 0 ? fmt::format(": resuming at step {}", newest) : "");
    std::fflush(stdout);
    if (std::string err = job->child.start(argv,
                                           {{"OMP_NUM_THREADS", std::to_string(threads)},
                                            {"OPENBLAS_NUM_THREADS", std::to_string(threads)}},
                                           job->dir + "/train.log");
        !err.empty())
      return fail(err), false;
    job->started = job->lastPrint = std::chrono::steady_clock::now();
    running.push_back(std::move(job));
    return true;
  };
  auto finish = [&](Job &job, int status) -> bool {
    const VariantResult &v = variants[job.variant];
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - job.started).count();
    stepsMeasured += job.step - job.startStep;
    secondsMeasured += seconds;
    if (status == 0) {
      RunResult r;
      if (std::string err = readRunMetrics(job.dir + "/metrics.jsonl", v.params, r); !err.empty())
        return fail(err), false;
      json result = {{"val_loss", r.valLoss}, {"steps", job.steps}, {"seconds", seconds}};
      if (std::string err = writeText(job.dir + "/result.json", result.dump() + "\n"); !err.empty())
        return fail(err), false;
      ++finished;
      fmt::print("{}rarun study: {} seed {}: validation loss {:.4f} ({})\n", tty ? "\r\033[K" : "",
                 v.variant.name, job.seed, r.valLoss, duration(seconds));
      return true;
    }
    if (studyStopped)
      return true; // interrupted: resumes from its checkpoint next time
    std::string error = lastError(job.dir + "/train.log");
    // rarun train's words for a NaN or infinite loss.
    bool diverged =
        error.find("not finite") != std::string::npos ||
        (error.find("the loss is ") != std::string::npos &&
         (error.find("nan") != std::string::npos || error.find("inf") != std::string::npos));
    json failure = {{"status", diverged ? "diverged" : "failed"},
                    {"exit_status", status},
                    {"error", error},
                    {"step", job.step}};
    if (std::string err = writeText(job.dir + "/failed.json", failure.dump() + "\n"); !err.empty())
      return fail(err), false;
    ++failures;
    fmt::print(stderr, "{}rarun study: {} seed {} {} (the rest goes on): {}\n",
               tty ? "\r\033[K" : "", v.variant.name, job.seed, diverged ? "diverged" : "failed",
               error);
    return true;
  };

  while ((next < pending.size() && !studyStopped) || !running.empty()) {
    while (!studyStopped && running.size() < size_t(jobs) && next < pending.size())
      if (!launch(std::move(pending[next++])))
        return 1;
    if (running.empty())
      continue;
    std::vector<pollfd> fds;
    for (const auto &j : running)
      fds.push_back({j->child.fd(), POLLIN, 0});
    poll(fds.data(), fds.size(), 1000);
    static bool forwarded = false;
    if (studyStopped && !forwarded) {
      forwarded = true;
      for (const auto &j : running)
        j->child.signal(SIGTERM); // rarun train checkpoints and stops
    }
    for (size_t k = 0; k < running.size();) {
      Job &job = *running[k];
      std::vector<std::string> lines;
      bool open = job.child.readLines(lines);
      for (const auto &line : lines)
        parseProgress(line, job.step, job.loss);
      if (open) {
        ++k;
        continue;
      }
      int status = job.child.wait();
      if (!finish(job, status))
        return 1;
      running.erase(running.begin() + long(k));
    }
    // Progress: each run's step and loss, and the time left.
    auto now = std::chrono::steady_clock::now();
    if (stepsMeasured > 0)
      secondsPerStep = secondsMeasured / double(stepsMeasured);
    else
      for (const auto &j : running)
        if (j->step > j->startStep)
          secondsPerStep = std::chrono::duration<double>(now - j->started).count() /
                           double(j->step - j->startStep);
    std::string left = secondsPerStep > 0
                           ? duration(secondsPerStep * double(remainingSteps()) / jobs)
                           : std::string("?");
    for (auto &j : running) {
      bool due = tty || now - j->lastPrint > std::chrono::seconds(15);
      if (!due || j->step == 0)
        continue;
      j->lastPrint = now;
      std::string line =
          fmt::format("rarun study: {} seed {}: step {}/{} loss {:.4f} | {} left",
                      variants[j->variant].variant.name, j->seed, j->step, j->steps, j->loss, left);
      if (tty)
        fmt::print("\r\033[K{}", line);
      else
        fmt::print("{}\n", line);
    }
    std::fflush(stdout);
  }
  if (tty)
    fmt::print("\r\033[K");
  if (studyStopped) {
    fmt::print(stderr,
               "rarun study: interrupted; {} of {} runs finished (kept). Run the same command "
               "again to continue: interrupted runs resume from their last checkpoint\n",
               finished, total);
    return 130;
  }

  // The report, from every run's files (finished now or before).
  for (auto &v : variants) {
    if (!v.compileError.empty())
      continue;
    for (uint64_t seed : study.seeds) {
      RunResult r;
      r.seed = seed;
      r.dir = fmt::format("runs/{}/seed_{}", runKey(v), seed);
      std::string dir = out + "/" + r.dir;
      if (exists(dir + "/result.json")) {
        if (std::string err = readRunMetrics(dir + "/metrics.jsonl", v.params, r); !err.empty())
          return fail(err);
        r.status = "done";
      } else if (exists(dir + "/failed.json")) {
        std::string text, err;
        ra::rt::readFile(dir + "/failed.json", text, err);
        json f = json::parse(text, nullptr, false);
        r.status = f.is_object() ? f.value("status", "failed") : "failed";
        r.error = f.is_object() ? f.value("error", "") : "unreadable failed.json";
        readRunMetrics(dir + "/metrics.jsonl", v.params, r);
      }
      v.runs.push_back(r);
    }
  }
  const VariantResult *base = find(study.baseline);
  int64_t tokensPerStep = base && base->config.count("batch") && base->config.count("seq")
                              ? int64_t(base->config.at("batch") * base->config.at("seq"))
                              : 0;
  json report = buildReport(study, variants, base ? stepsOf(*base) : study.steps, tokensPerStep);
  if (std::string err = writeText(out + "/report.json", report.dump(2) + "\n"); !err.empty())
    return fail(err);
  if (std::string err = writeText(out + "/report.md", renderMarkdown(report)); !err.empty())
    return fail(err);
  if (!args.count("no-plots")) {
    std::string python = args["python"].as<std::string>();
    std::string script = std::string(RACC_SOURCE_DIR) + "/scripts/plot_study.py";
    std::string text, err;
    int status = runCaptured({python, script, out}, text, err);
    if (status != 0)
      fmt::print(stderr, "rarun study: warning: no plots ({} {} {} exited with {}): {}\n", python,
                 script, out, status, err.substr(0, 400));
  }
  fmt::print("rarun study: {} runs finished, {} failed; report in {}/report.md\n", finished,
             failures + failedBefore, out);
  return 0;
}

} // namespace rarun
