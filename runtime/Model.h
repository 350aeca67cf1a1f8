//===- Model.h - a compiled artifact, loaded ----------------------*- C++ -*-===//
//
// Reads OUT.rac/manifest.json (format and ABI versions checked), loads the
// CPU library, owns the flat parameter buffer (weights and optimizer state at
// the manifest's offsets) and one arena per entry point, allocated on the
// entry point's first call (generating text never pays for the training
// step's). Never links MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_MODEL_H
#define RA_RUNTIME_MODEL_H

#include "abi/Abi.h"
#include "runtime/Manifest.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ra::rt {

/// The device functions of a CUDA artifact's library (codegen/cuda/ra_cuda_device.cuh).
struct DeviceApi {
  int (*open)(char *name, int64_t nameSize, char *error, int64_t errorSize) = nullptr;
  void (*syncEachKernel)(int on) = nullptr;
  void *(*alloc)(int64_t bytes, char *error, int64_t errorSize) = nullptr;
  void (*free)(void *p) = nullptr;
  int (*copy)(void *dst, const void *src, int64_t bytes, int toDevice, char *error,
              int64_t errorSize) = nullptr;
  int (*sync)(char *error, int64_t errorSize) = nullptr;
  int (*scatter)(const void *staging, int64_t stagingBytes, const int64_t *moves, int64_t count,
                 char *error, int64_t errorSize) = nullptr;
};

using EntryFn = abi::EntryFn;

/// A compiled model on one device. On cpu the parameters and arenas are host
/// memory. On cuda and cuda-emu they live in the artifact's device memory
/// (cuda-emu: the SIMT emulator's, host memory behind the same CUDA calls),
/// inputs are uploaded and outputs downloaded by `call`, and the host copy of
/// the parameters is brought up to date only when it is read.
class Model {
public:
  /// Loads ART (a directory) for `device`: cpu (cpu/model.so), cuda (the
  /// nvcc-built cuda/model.so on the first GPU) or cuda-emu (the CUDA kernels
  /// run by the SIMT emulator, cuda/model_emu.so). With `syncEachKernel` every
  /// CUDA launch is waited for, so a faulting kernel is named. Errors name the
  /// file and what is wrong.
  static std::unique_ptr<Model> load(const std::string &artifact, std::string &error,
                                     const std::string &device = "cpu",
                                     bool syncEachKernel = false);
  ~Model();

  const nlohmann::json &manifest() const { return manifestData.json; }
  const std::vector<ParamInfo> &params() const { return manifestData.params; }
  /// The floats of the parameter buffer (weights and optimizer state).
  int64_t parameterElements() const { return manifestData.parameterElements; }
  /// The racc that compiled the artifact.
  const std::string &raccVersion() const { return manifestData.raccVersion; }
  /// The matmuls' operands: "f32" or "bf16" (racc compile --precision).
  const std::string &precision() const { return manifestData.precision; }
  const ParamInfo *param(const std::string &name) const;
  const EntryInfo *entry(const std::string &name) const;
  /// An integer config of the model (vocab, seq, ...), if it has one.
  std::optional<int64_t> config(const std::string &name) const;
  /// The device the model runs on, as the device reports itself.
  const std::string &deviceName() const { return deviceDescription; }

  /// The GEMM rate of the device in TFLOP/s (n^3; bf16 inputs on a GPU, or
  /// float32), measured now by the artifact's library with its own BLAS.
  double gemmTflops(int n, bool bf16, std::string &error);

  /// On a CUDA device: how each entry point ran so far (eagerly, captured,
  /// replayed as a CUDA graph), a line each; empty on the CPU.
  std::string cudaGraphsReport() const;

  /// Per-kernel timing (rarun bench --profile): on, every kernel call is
  /// timed (waiting for the device after each); the totals since enabling.
  struct KernelTime {
    std::string name; // family(static parameters)
    double seconds = 0;
    int64_t calls = 0;
  };
  std::string enableProfiling(bool on);
  std::vector<KernelTime> kernelTimes();

  /// The flat parameter buffer (weights and optimizer state), up to date.
  const float *parameters();
  /// The same, to write: the device copy is replaced before the next call.
  float *mutableParameters();
  /// One parameter value, without copying the whole buffer from a device.
  float parameterValue(int64_t offset);
  /// Every parameter at its initializer, drawn from `seed` exactly as the
  /// reference interpreter draws them.
  void initialize(uint64_t seed);
  /// One parameter at its initializer, the values initialize(seed) gives it.
  void initialize(const ParamInfo &param, uint64_t seed);

  /// Calls an entry point with host inputs and outputs. Token ids are checked
  /// against their bounds first, on every device. Returns an error message,
  /// empty on success.
  std::string call(const std::string &entry, const std::vector<const void *> &inputs,
                   const std::vector<void *> &outputs);

  /// Keeps input `index` of `entry` in device memory between calls: `call`
  /// no longer uploads it (its host pointer is ignored there), and
  /// `patchKeptInputs` refreshes the pieces that changed. What keeps the
  /// decoding caches on a device. On cpu nothing changes: every call reads
  /// the host buffer.
  void keepInputOnDevice(const std::string &entry, size_t index);
  /// A piece of a kept input to refresh: `bytes` at byte `offset`, from `src`.
  struct InputPatch {
    size_t input;
    int64_t offset;
    const void *src;
    int64_t bytes;
  };
  /// Copies the pieces into the kept inputs' device memory (one scatter, on
  /// a device; nothing on cpu). "" or what failed.
  std::string patchKeptInputs(const std::string &entry, const std::vector<InputPatch> &patches);
  /// Bytes `call` and `patchKeptInputs` have copied to the device so far.
  int64_t bytesUploaded() const { return uploaded; }

private:
  Model() = default;
  std::string loadDevice(const std::string &lib, bool syncEachKernel);
  std::string callOnDevice(const EntryInfo &e, const std::vector<const void *> &inputs,
                           const std::vector<void *> &outputs);
  std::string deviceError(const char *what) const;

  Manifest manifestData;
  std::vector<float> paramBuffer;
  std::map<std::string, std::vector<char>> arenas;
  std::map<std::string, EntryFn> functions;
  void *library = nullptr;
  double (*gemmRate)(int n, int bf16, char *error, int64_t errorSize) = nullptr;
  int64_t (*graphsReport)(char *out, int64_t size) = nullptr;
  void (*profileEnable)(int on) = nullptr;
  int64_t (*profileRead)(const char **names, double *seconds, int64_t *calls,
                         int64_t capacity) = nullptr;
  std::string deviceDescription = "cpu";

  // Device memory (cuda, cuda-emu).
  bool onDevice = false;
  DeviceApi api;
  void *deviceParams = nullptr;
  struct DeviceEntry {
    void *arena = nullptr;
    std::vector<void *> inputs, outputs;
    std::vector<bool> kept; // inputs kept on the device (keepInputOnDevice)
  };
  int64_t uploaded = 0;
  std::map<std::string, DeviceEntry> deviceEntries;
  std::vector<void *> deviceBlocks; // everything allocated, freed on destruction
  enum class Newer { Neither, Host, Device } newer = Newer::Neither;
  mutable char errorText[512] = {0};
};

} // namespace ra::rt

#endif // RA_RUNTIME_MODEL_H
