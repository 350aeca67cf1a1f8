//===- Checkpoint.cpp - safetensors checkpoints ---------------------------===//
//
// A checkpoint is a safetensors file (runtime/Safetensors.h) with rarun's
// metadata: the format, the step, the data position and the run's settings.
//
//===----------------------------------------------------------------------===//
#include "runtime/Checkpoint.h"

#include "runtime/Safetensors.h"

namespace ra::rt {

namespace {

/// rarun's metadata; with `required` false, a file without it (another
/// tool's) reads as step 0 with no settings.
std::string readMeta(const SafetensorsFile &file, CheckpointMeta &meta, bool required = true) {
  const nlohmann::json *m = file.metadata();
  if (!required && (!m || !m->contains("step")))
    return "";
  if (!m)
    return file.named() + " has no rarun metadata (step, data position)";
  auto number = [&](const char *key, auto parse, auto &out) {
    auto it = m->find(key);
    if (it == m->end() || !it->is_string())
      return false;
    try {
      out = parse(it->template get<std::string>());
      return true;
    } catch (const std::exception &) {
      return false;
    }
  };
  if (!number(
          "step", [](const std::string &s) { return std::stoll(s); }, meta.step) ||
      !number(
          "data_state", [](const std::string &s) { return std::stoull(s); }, meta.dataState))
    return file.named() + " has malformed metadata (step, data_state)";
  for (auto it = m->begin(); it != m->end(); ++it)
    if (it.value().is_string())
      meta.extra[it.key()] = it.value();
  return "";
}

} // namespace

std::string writeCheckpoint(const std::string &path, Model &model, const CheckpointMeta &meta,
                            CheckpointContents contents) {
  std::vector<std::pair<std::string, std::string>> metadata = {
      {"format", contents == CheckpointContents::Full ? "rarun-checkpoint-1" : "rarun-weights-1"},
      {"step", std::to_string(meta.step)},
      {"data_state", std::to_string(meta.dataState)}};
  for (const auto &[k, v] : meta.extra)
    if (k != "format" && k != "step" && k != "data_state")
      metadata.emplace_back(k, v);
  const float *params = model.parameters(); // from the device once, if it is newer
  std::vector<SafetensorsTensor> tensors;
  for (const ParamInfo &p : model.params())
    if (contents == CheckpointContents::Full || p.trainable)
      tensors.push_back({p.name, p.shape, params + p.offset});
  return writeSafetensors(path, "checkpoint", tensors, metadata);
}

std::string readCheckpoint(const std::string &path, Model &model, CheckpointMeta &meta,
                           CheckpointContents contents) {
  SafetensorsFile file;
  if (std::string err = file.open(path, "checkpoint"); !err.empty())
    return err;
  bool full = contents == CheckpointContents::Full;
  if (std::string err = readMeta(file, meta, /*required=*/full); !err.empty())
    return err;
  for (const SafetensorsEntry &e : file.entries())
    if (!model.param(e.name))
      return file.named() + " holds tensor '" + e.name +
             "', which the artifact does not have (a checkpoint of another model?)";
  if (full) {
    // A weights-only checkpoint cannot resume: say what it lacks.
    std::vector<std::string> missing;
    for (const ParamInfo &p : model.params())
      if (!p.trainable && !file.find(p.name))
        missing.push_back(p.name);
    if (!missing.empty())
      return file.named() + " holds weights only: it lacks the optimizer state (" +
             std::to_string(missing.size()) + " tensors, '" + missing[0] +
             "' first) that --resume needs; start a new run from it with --init-from";
  }
  float *params = model.mutableParameters(); // replaced on the device before the next call
  for (const ParamInfo &p : model.params()) {
    if (!full && !p.trainable)
      continue;
    const SafetensorsEntry *e = file.find(p.name);
    if (!e)
      return file.named() + " lacks tensor '" + p.name + "' that the artifact needs";
    if (e->shape != p.shape) {
      auto str = [](const std::vector<int64_t> &s) { return nlohmann::json(s).dump(); };
      return file.named() + ": tensor '" + p.name + "' has shape " + str(e->shape) +
             ", the artifact's is " + str(p.shape);
    }
    if (std::string err = file.read(*e, params + p.offset); !err.empty())
      return err;
  }
  return "";
}

std::string readCheckpointTensors(const std::string &path, std::vector<CheckpointTensor> &out,
                                  CheckpointMeta &meta) {
  SafetensorsFile file;
  if (std::string err = file.open(path, "checkpoint"); !err.empty())
    return err;
  if (std::string err = readMeta(file, meta, /*required=*/false); !err.empty())
    return err;
  for (const SafetensorsEntry &e : file.entries()) {
    CheckpointTensor t{e.name, e.shape, std::vector<float>(e.elements()), e.dtype};
    if (std::string err = file.read(e, t.data.data()); !err.empty())
      return err;
    out.push_back(std::move(t));
  }
  return "";
}

} // namespace ra::rt
