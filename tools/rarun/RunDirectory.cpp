//===- RunDirectory.cpp - a training run's directory and settings ---------===//
#include "RunDirectory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/stat.h>

namespace rarun {

namespace {

std::vector<std::string> listDirectory(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      names.push_back(e->d_name);
    closedir(d);
  }
  return names;
}

bool processAlive(long pid) { return kill(pid_t(pid), 0) == 0 || errno == EPERM; }

} // namespace

bool makeDirectories(const std::string &path) {
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

void RunSettings::store(std::map<std::string, std::string> &m) const {
  m["run.steps"] = std::to_string(steps);
  m["run.warmup"] = std::to_string(warmup);
  m["run.lr"] = fmt::format("{}", lr);
  m["run.seed"] = std::to_string(seed);
  m["run.batch"] = std::to_string(batch);
  m["run.seq"] = std::to_string(seq);
  m["run.data"] = data;
  m["run.data_tokens"] = std::to_string(dataTokens);
  m["run.data_sha256"] = dataSha256;
  m["run.artifact"] = artifact;
  m["run.artifact_sha256"] = artifactSha256;
  m["run.tokenizer"] = tokenizer;
  m["run.init_from"] = initFrom;
  m["run.ranks"] = std::to_string(ranks);
  m["run.grad_accum"] = std::to_string(gradAccum);
}

bool RunSettings::load(const std::map<std::string, std::string> &m, RunSettings &out) {
  auto get = [&](const char *key) -> const std::string * {
    auto it = m.find(key);
    return it == m.end() ? nullptr : &it->second;
  };
  if (!get("run.steps"))
    return false; // a checkpoint from before settings were recorded
  try {
    out.steps = std::stoll(*get("run.steps"));
    out.warmup = std::stoll(*get("run.warmup"));
    out.lr = std::stod(*get("run.lr"));
    out.seed = std::stoull(*get("run.seed"));
    out.batch = std::stoll(*get("run.batch"));
    out.seq = std::stoll(*get("run.seq"));
    out.dataTokens = std::stoll(*get("run.data_tokens"));
    // Older checkpoints: one process, one micro-batch.
    out.ranks = get("run.ranks") ? std::stoll(*get("run.ranks")) : 1;
    out.gradAccum = get("run.grad_accum") ? std::stoll(*get("run.grad_accum")) : 1;
  } catch (const std::exception &) {
    return false;
  }
  for (auto [key, field] :
       {std::pair{"run.data", &out.data}, std::pair{"run.data_sha256", &out.dataSha256},
        std::pair{"run.artifact", &out.artifact},
        std::pair{"run.artifact_sha256", &out.artifactSha256},
        std::pair{"run.tokenizer", &out.tokenizer}, std::pair{"run.init_from", &out.initFrom}})
    if (const std::string *v = get(key))
      *field = *v;
  return true;
}

std::vector<std::string> settingDifferences(const RunSettings &was, const RunSettings &now) {
  std::vector<std::string> d;
  auto differ = [&](const char *option, const std::string &a, const std::string &b) {
    if (a != b)
      d.push_back(fmt::format("{} {} (the run had {})", option, b, a));
  };
  differ("--steps", std::to_string(was.steps), std::to_string(now.steps));
  differ("--lr", fmt::format("{}", was.lr), fmt::format("{}", now.lr));
  differ("--warmup", std::to_string(was.warmup), std::to_string(now.warmup));
  differ("--seed", std::to_string(was.seed), std::to_string(now.seed));
  if (was.dataSha256 != now.dataSha256)
    d.push_back(fmt::format("--data {} ({} tokens; the run trained on {}, {} tokens, other text)",
                            now.data, now.dataTokens, was.data, was.dataTokens));
  if (was.ranks * was.gradAccum != now.ranks * now.gradAccum)
    d.push_back(fmt::format("{} ranks x --grad-accum {} micro-batches per step (the run had {} x "
                            "{}: another global batch)",
                            now.ranks, now.gradAccum, was.ranks, was.gradAccum));
  if (was.batch != now.batch || was.seq != now.seq)
    d.push_back(
        fmt::format("batch {} x {} (the run had {} x {})", now.batch, now.seq, was.batch, was.seq));
  if (was.artifactSha256 != now.artifactSha256)
    d.push_back(fmt::format("artifact {} (the run used {}, compiled differently)", now.artifact,
                            was.artifact));
  return d;
}

std::string RunDirectory::prepare() {
  std::string ckpt = root + "/ckpt";
  if (!makeDirectories(ckpt))
    return "cannot create '" + ckpt + "': " + std::strerror(errno);
  // step_N.safetensors.tmp.PID of writes that were killed (the checkpoint
  // they would have replaced is whole).
  for (const std::string &name : listDirectory(ckpt)) {
    size_t at = name.find(".safetensors.tmp.");
    if (at == std::string::npos)
      continue;
    long pid = std::atol(name.c_str() + at + 17);
    if (pid > 0 && !processAlive(pid))
      std::remove((ckpt + "/" + name).c_str());
  }
  return "";
}

std::string RunDirectory::checkpointPath(int64_t step) const {
  return fmt::format("{}/ckpt/step_{}.safetensors", root, step);
}

std::vector<int64_t> RunDirectory::checkpointSteps() const {
  std::vector<int64_t> steps;
  for (const std::string &name : listDirectory(root + "/ckpt")) {
    long long step = 0;
    char rest[32] = {0};
    if (std::sscanf(name.c_str(), "step_%lld.safetensor%31s", &step, rest) == 2 &&
        std::string(rest) == "s")
      steps.push_back(step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

void RunDirectory::pruneCheckpoints(int64_t keep) const {
  if (keep <= 0)
    return;
  std::vector<int64_t> steps = checkpointSteps();
  for (size_t i = 0; i + size_t(keep) < steps.size(); ++i)
    std::remove(checkpointPath(steps[i]).c_str());
}

std::string RunDirectory::truncateMetrics(int64_t step) const {
  std::ifstream in(metricsPath());
  if (!in)
    return "";
  std::string kept, line;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.contains("step") && record["step"].is_number_integer() &&
        record["step"].get<int64_t>() > step)
      continue;
    kept += line + "\n";
  }
  in.close();
  std::string tmp = metricsPath() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!(out << kept))
      return "cannot write '" + tmp + "'";
  }
  if (std::rename(tmp.c_str(), metricsPath().c_str()) != 0)
    return "cannot replace '" + metricsPath() + "': " + std::strerror(errno);
  return "";
}

} // namespace rarun
