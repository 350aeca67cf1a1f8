//===- Model.h - a compiled artifact, loaded ----------------------*- C++ -*-===//
//
// Reads OUT.rac/manifest.json (format and ABI versions checked), loads the
// CPU library, owns the flat parameter buffer (weights and optimizer state at
// the manifest's offsets) and one arena per entry point. Never links MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_MODEL_H
#define RA_RUNTIME_MODEL_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ra::rt {

struct TensorInfo {
  std::string name;
  std::string dtype; // f32 or i32
  std::vector<int64_t> shape;
  int64_t elements() const;
};

struct ParamInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0;
  bool trainable = true, decay = false;
  std::string init, mechanism;
  double initValue = 0;
  int64_t elements() const;
};

struct EntryInfo {
  std::string name, symbol;
  std::vector<TensorInfo> inputs, outputs;
  int64_t arenaBytes = 0, scratchBytes = 0;
  std::vector<std::string> gradNormParams;
};

/// The C ABI of an entry point (codegen/cpu/CpuEmitter.h).
using EntryFn = int (*)(float *params, char *arena, const void *const *inputs, void *const *outputs,
                        char *error, int64_t errorSize);

class Model {
public:
  /// Loads ART (a directory) for `device`: cpu (cpu/model.so) or cuda-emu
  /// (the CUDA kernels run by the SIMT emulator, cuda/model_emu.so). Errors
  /// name the file and what is wrong.
  static std::unique_ptr<Model> load(const std::string &artifact, std::string &error,
                                     const std::string &device = "cpu");
  ~Model();

  const nlohmann::json &manifest() const { return manifestJson; }
  const std::vector<ParamInfo> &params() const { return paramInfo; }
  const ParamInfo *param(const std::string &name) const;
  const EntryInfo *entry(const std::string &name) const;
  /// An integer config of the model (vocab, seq, ...), if it has one.
  std::optional<int64_t> config(const std::string &name) const;

  float *parameters() { return paramBuffer.data(); }
  std::vector<float> &parameterBuffer() { return paramBuffer; }
  /// Every parameter at its initializer, drawn from `seed` exactly as the
  /// reference interpreter draws them.
  void initialize(uint64_t seed);

  /// Calls an entry point. Returns an error message, empty on success.
  std::string call(const std::string &entry, const std::vector<const void *> &inputs,
                   const std::vector<void *> &outputs);

private:
  Model() = default;
  nlohmann::json manifestJson;
  std::vector<ParamInfo> paramInfo;
  std::vector<EntryInfo> entries;
  std::vector<float> paramBuffer;
  std::map<std::string, std::vector<char>> arenas;
  std::map<std::string, EntryFn> functions;
  void *library = nullptr;
};

} // namespace ra::rt

#endif // RA_RUNTIME_MODEL_H
