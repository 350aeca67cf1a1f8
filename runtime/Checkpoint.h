//===- Checkpoint.h - safetensors checkpoints ---------------------*- C++ -*-===//
//
// A checkpoint is a safetensors file PyTorch's `safetensors` opens: every
// parameter and optimizer moment as F32, and in `__metadata__` the step,
// the data position and the artifact's source. Written to a temporary file,
// fsynced and renamed, so a crash never leaves a half-written checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_CHECKPOINT_H
#define RA_RUNTIME_CHECKPOINT_H

#include "runtime/Model.h"

#include <map>
#include <string>

namespace ra::rt {

struct CheckpointMeta {
  int64_t step = 0;
  uint64_t dataState = 0;
  std::map<std::string, std::string> extra;
};

/// Writes every parameter of `model`; returns an error message or "".
std::string writeCheckpoint(const std::string &path, Model &model, const CheckpointMeta &meta);

/// Reads a checkpoint into `model`'s parameters after checking that its
/// tensors are exactly the model's (names, shapes, dtype). Errors name the
/// file and the tensor.
std::string readCheckpoint(const std::string &path, Model &model, CheckpointMeta &meta);

/// A checkpoint's tensors without an artifact (rarun inspect).
struct CheckpointTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};
std::string readCheckpointTensors(const std::string &path, std::vector<CheckpointTensor> &out,
                                  CheckpointMeta &meta);

} // namespace ra::rt

#endif // RA_RUNTIME_CHECKPOINT_H
