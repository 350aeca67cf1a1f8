//===- Checkpoint.h - safetensors checkpoints ---------------------*- C++ -*-===//
//
// A checkpoint is a safetensors file PyTorch's `safetensors` opens
// (runtime/Safetensors.h): every parameter and optimizer moment as F32 (or
// the trainable parameters only), and in `__metadata__` the step, the data
// position and the run's settings. Written to a temporary file, fsynced and
// renamed, so a crash never leaves a half-written checkpoint.
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

/// What a checkpoint holds or must hold. The artifact's non-trainable
/// parameters are its optimizer state (the Adam moments ra-optimizer adds).
enum class CheckpointContents {
  Full,    // every tensor of the artifact, and the step and data position: --resume
  Weights, // the trainable parameters: eval, sample, export, --init-from, import
};

/// Writes `model`'s parameters (with Weights, the trainable ones only);
/// returns an error message or "".
std::string writeCheckpoint(const std::string &path, Model &model, const CheckpointMeta &meta,
                            CheckpointContents contents = CheckpointContents::Full);

/// Reads a checkpoint into `model`'s parameters after checking its tensors
/// against the model's (names, shapes, dtype). Full: exactly the model's
/// tensors and rarun's metadata; a weights-only checkpoint is refused, naming
/// what it lacks. Weights: the trainable parameters; optimizer state in the
/// file is not read (the model's stays as it is: fresh after initialize),
/// metadata is optional. Errors name the file and the tensor.
std::string readCheckpoint(const std::string &path, Model &model, CheckpointMeta &meta,
                           CheckpointContents contents = CheckpointContents::Full);

/// A checkpoint's tensors without an artifact (rarun inspect); any
/// safetensors file reads, rarun's metadata (step 0 without it) optional.
struct CheckpointTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
  std::string dtype; // as stored: F32, F16 or BF16
};
std::string readCheckpointTensors(const std::string &path, std::vector<CheckpointTensor> &out,
                                  CheckpointMeta &meta);

} // namespace ra::rt

#endif // RA_RUNTIME_CHECKPOINT_H
