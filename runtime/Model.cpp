//===- Model.cpp - a compiled artifact, loaded ----------------------------===//
#include "runtime/Model.h"
#include "abi/Abi.h"
#include "abi/Init.h"
#include "runtime/FileHash.h"
#include "runtime/SystemMemory.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <unistd.h>

namespace ra::rt {

using abi::kAbiVersion;
using abi::kManifestFormatVersion;

/// `count` zeroed elements in `buffer`, or what could not be allocated.
template <typename T>
static std::string allocate(std::vector<T> &buffer, int64_t count, const std::string &what) {
  try {
    buffer.assign(size_t(count), T(0));
  } catch (const std::bad_alloc &) {
    return fmt::format("cannot allocate {} for {} (this machine has {} of memory; compile a "
                       "smaller batch or model)",
                       formatBytes(double(count) * sizeof(T)), what,
                       formatBytes(double(physicalMemoryBytes())));
  }
  return "";
}

std::unique_ptr<Model> Model::load(const std::string &artifact, std::string &error,
                                   const std::string &device, bool syncEachKernel) {
  std::string lib;
  if (device == "cpu")
    lib = artifact + "/cpu/model.so";
  else if (device == "cuda-emu")
    lib = artifact + "/cuda/model_emu.so";
  else if (device == "cuda")
    lib = artifact + "/cuda/model.so";
  else {
    error = "unknown device '" + device + "' (cpu, cuda or cuda-emu)";
    return nullptr;
  }
  std::string path = artifact + "/manifest.json";
  std::ifstream in(path);
  if (!in) {
    error = "cannot read '" + path + "': is '" + artifact + "' an artifact from racc compile?";
    return nullptr;
  }
  std::unique_ptr<Model> m(new Model());
  std::stringstream text;
  text << in.rdbuf();
  if (error = readManifest(text.str(), path, m->manifestData); !error.empty())
    return nullptr;

  // The library must be the one the manifest describes: a compile killed
  // halfway, a truncated or swapped file is refused before it is loaded.
  std::string relative = lib.substr(artifact.size() + 1);
  auto record = m->manifestData.files.find(relative);
  if (record == m->manifestData.files.end()) {
    error = "'" + path + "' records no '" + relative + "'" +
            (device != "cpu" ? " (compile with racc compile --target cuda or all" +
                                   std::string(device == "cuda" ? ", where nvcc is" : "") + ")"
                             : " (recompile the model with this racc)");
    return nullptr;
  }
  FileDigest digest;
  if (error = hashFile(lib, digest); !error.empty())
    return nullptr;
  if (digest.sha256 != record->second.sha256 || digest.bytes != record->second.bytes) {
    error = "'" + lib +
            "' is not the library its manifest describes: " + std::to_string(digest.bytes) +
            " bytes with sha256 " + digest.sha256.substr(0, 16) + "..., the manifest records " +
            std::to_string(record->second.bytes) + " bytes with sha256 " +
            record->second.sha256.substr(0, 16) +
            "... (a compile was interrupted or the files were mixed; recompile it)";
    return nullptr;
  }

  m->library = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->library) {
    error = "cannot load '" + lib + "': " + dlerror();
    return nullptr;
  }
  auto version = reinterpret_cast<int (*)()>(dlsym(m->library, "ra_abi_version"));
  if (!version || version() != kAbiVersion) {
    error = "'" + lib + "' does not implement ABI version " + std::to_string(kAbiVersion);
    return nullptr;
  }
  auto parameterElements =
      reinterpret_cast<abi::ParameterElementsFn>(dlsym(m->library, "ra_parameter_elements"));
  auto entryLayout = reinterpret_cast<abi::EntryLayoutFn>(dlsym(m->library, "ra_entry_layout"));
  if (!parameterElements || !entryLayout) {
    error = "'" + lib + "' does not report its memory layout: recompile it with this racc";
    return nullptr;
  }
  if (error = checkLibraryLayout(m->manifestData, lib, parameterElements(), entryLayout);
      !error.empty())
    return nullptr;
  // Memory only once the manifest and the library are known to agree.
  if (error = allocate(m->paramBuffer, m->manifestData.parameterElements, "the parameters");
      !error.empty())
    return nullptr;
  m->gemmRate = reinterpret_cast<decltype(m->gemmRate)>(dlsym(m->library, "ra_gemm_tflops"));
  m->graphsReport =
      reinterpret_cast<decltype(m->graphsReport)>(dlsym(m->library, "ra_device_graphs_report"));
  m->profileEnable =
      reinterpret_cast<decltype(m->profileEnable)>(dlsym(m->library, "ra_profile_enable"));
  m->profileRead = reinterpret_cast<decltype(m->profileRead)>(dlsym(m->library, "ra_profile_read"));
  for (const EntryInfo &e : m->manifestData.entries) {
    auto fn = reinterpret_cast<EntryFn>(dlsym(m->library, e.symbol.c_str()));
    if (!fn) {
      error = "'" + lib + "' lacks the entry point " + e.symbol;
      return nullptr;
    }
    m->functions[e.name] = fn;
  }
  m->deviceDescription = device;
  if (device != "cpu")
    if (error = m->loadDevice(lib, syncEachKernel); !error.empty())
      return nullptr;
  return m;
}

/// Opens the device and allocates the parameters, each entry's arena and
/// scratch, and device copies of its inputs and outputs.
std::string Model::loadDevice(const std::string &lib, bool syncEachKernel) {
  auto sym = [&](auto &fn, const char *name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(library, name));
    return fn != nullptr;
  };
  if (!sym(api.open, "ra_device_open") || !sym(api.syncEachKernel, "ra_device_sync_each_kernel") ||
      !sym(api.alloc, "ra_device_alloc") || !sym(api.free, "ra_device_free") ||
      !sym(api.copy, "ra_device_copy") || !sym(api.sync, "ra_device_sync") ||
      !sym(api.scatter, "ra_device_scatter"))
    return "'" + lib + "' lacks the device functions (ra_device_*): recompile with this racc";
  char name[256] = {0};
  if (api.open(name, sizeof name, errorText, sizeof errorText))
    return "--device " + deviceDescription + ": " + errorText +
           (deviceDescription == "cuda"
                ? " (--device cuda-emu runs the artifact's CUDA kernels on the CPU)"
                : "");
  deviceDescription = name;
  api.syncEachKernel(syncEachKernel);
  onDevice = true;
  // Each allocation's failure names its bytes and what they were for.
  std::string failure;
  auto alloc = [&](int64_t bytes, void *&out, const std::string &what) {
    out = api.alloc(bytes, errorText, sizeof errorText);
    if (out)
      deviceBlocks.push_back(out);
    else
      failure = deviceError(
          fmt::format("allocating {} for {}", formatBytes(double(bytes)), what).c_str());
    return out != nullptr;
  };
  if (!alloc(int64_t(paramBuffer.size()) * 4, deviceParams, "the parameters"))
    return failure;
  for (const EntryInfo &e : manifestData.entries) {
    DeviceEntry &d = deviceEntries[e.name];
    if (!alloc(abi::arenaAllocationBytes(e.arenaBytes, e.scratchBytes), d.arena,
               "the arena and scratch of " + e.name))
      return failure;
    for (const TensorInfo &t : e.inputs)
      if (!alloc(t.bytes(), d.inputs.emplace_back(), "input " + t.name + " of " + e.name))
        return failure;
    for (const TensorInfo &t : e.outputs)
      if (!alloc(t.bytes(), d.outputs.emplace_back(), "output " + t.name + " of " + e.name))
        return failure;
  }
  newer = Newer::Host;
  return "";
}

double Model::gemmTflops(int n, bool bf16, std::string &error) {
  if (!gemmRate) {
    error = "the artifact's library has no ra_gemm_tflops: recompile with this racc";
    return -1;
  }
  double tflops = gemmRate(n, bf16, errorText, sizeof errorText);
  if (tflops < 0)
    error = deviceError("measuring the GEMM rate");
  return tflops;
}

std::string Model::cudaGraphsReport() const {
  if (!onDevice || !graphsReport)
    return "";
  std::string text(size_t(graphsReport(nullptr, 0)) + 1, '\0');
  graphsReport(text.data(), int64_t(text.size()));
  text.pop_back();
  return text;
}

std::string Model::enableProfiling(bool on) {
  if (!profileEnable || !profileRead)
    return "the artifact's library cannot profile kernels: recompile with this racc";
  profileEnable(on);
  return "";
}

std::vector<Model::KernelTime> Model::kernelTimes() {
  std::vector<KernelTime> out;
  if (!profileRead)
    return out;
  int64_t n = profileRead(nullptr, nullptr, nullptr, 0);
  std::vector<const char *> names(n);
  std::vector<double> seconds(n);
  std::vector<int64_t> calls(n);
  profileRead(names.data(), seconds.data(), calls.data(), n);
  for (int64_t i = 0; i < n; ++i)
    if (calls[i])
      out.push_back({names[i], seconds[i], calls[i]});
  return out;
}

std::string Model::deviceError(const char *what) const {
  return deviceDescription + ": " + what + ": " + errorText;
}

Model::~Model() {
  for (void *p : deviceBlocks)
    api.free(p);
  if (library)
    dlclose(library);
}

const ParamInfo *Model::param(const std::string &name) const {
  for (const auto &p : manifestData.params)
    if (p.name == name)
      return &p;
  return nullptr;
}

const EntryInfo *Model::entry(const std::string &name) const {
  for (const auto &e : manifestData.entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

std::optional<int64_t> Model::config(const std::string &name) const {
  const nlohmann::json &j = manifestData.json;
  if (!j.contains("config") || !j["config"].is_object())
    return std::nullopt;
  const auto &c = j["config"];
  if (c.contains(name) && c[name].is_number_integer())
    return c[name].get<int64_t>();
  return std::nullopt;
}

void Model::initialize(uint64_t seed) {
  for (const ParamInfo &p : manifestData.params)
    initialize(p, seed);
}

void Model::initialize(const ParamInfo &p, uint64_t seed) {
  ra::initialize(mutableParameters() + p.offset, p.elements(), *parseInit(p.init), p.initValue,
                 p.name, seed);
}

const float *Model::parameters() {
  if (newer == Newer::Device) {
    if (api.copy(paramBuffer.data(), deviceParams, int64_t(paramBuffer.size()) * 4, 0, errorText,
                 sizeof errorText))
      throw std::runtime_error(deviceError("copying the parameters to the host"));
    newer = Newer::Neither;
  }
  return paramBuffer.data();
}

float *Model::mutableParameters() {
  parameters();
  if (onDevice)
    newer = Newer::Host;
  return paramBuffer.data();
}

float Model::parameterValue(int64_t offset) {
  if (newer != Newer::Device)
    return paramBuffer[offset];
  float value = 0;
  if (api.copy(&value, static_cast<float *>(deviceParams) + offset, 4, 0, errorText,
               sizeof errorText))
    throw std::runtime_error(deviceError("copying a parameter to the host"));
  return value;
}

/// The first id of an input outside its bound, as an error; empty if none.
static std::string checkIds(const std::string &entry, const TensorInfo &t, const void *data) {
  if (t.dtype != "i32" || t.idBound <= 0)
    return "";
  const int32_t *ids = static_cast<const int32_t *>(data);
  for (int64_t i = 0, n = t.elements(); i < n; ++i)
    if (ids[i] < 0 || ids[i] >= t.idBound)
      return "input '" + t.name + "' of " + entry + ": id " + std::to_string(ids[i]) +
             " at position " + std::to_string(i) + " is outside [0, " + std::to_string(t.idBound) +
             ")";
  return "";
}

std::string Model::call(const std::string &name, const std::vector<const void *> &inputs,
                        const std::vector<void *> &outputs) {
  auto fn = functions.find(name);
  const EntryInfo *e = entry(name);
  if (fn == functions.end() || !e)
    return "the artifact has no entry point '" + name + "'";
  if (inputs.size() != e->inputs.size() || outputs.size() != e->outputs.size())
    return "entry point '" + name + "' takes " + std::to_string(e->inputs.size()) + " inputs and " +
           std::to_string(e->outputs.size()) + " outputs";
  for (size_t i = 0; i < inputs.size(); ++i)
    if (std::string err = checkIds(name, e->inputs[i], inputs[i]); !err.empty())
      return err;
  if (onDevice)
    return callOnDevice(*e, inputs, outputs);
  char error[512] = {0};
  // An entry point's arena on its first call: decoding never pays for the
  // training step's. (Scratch is for the CUDA kernels only.)
  auto &arena = arenas[name];
  if (arena.empty())
    if (std::string err =
            allocate(arena, abi::arenaAllocationBytes(e->arenaBytes, 0), "the arena of " + name);
        !err.empty())
      return err;
  // The arena starts aligned, as ra-plan-memory assumes.
  uintptr_t at = reinterpret_cast<uintptr_t>(arena.data());
  char *base = reinterpret_cast<char *>(uint64_t(abi::alignUp(int64_t(at))));
  if (fn->second(paramBuffer.data(), base, inputs.data(), outputs.data(), error, sizeof error))
    return error[0] ? error : "entry point '" + name + "' failed";
  return "";
}

void Model::keepInputOnDevice(const std::string &entry, size_t index) {
  if (!onDevice)
    return;
  DeviceEntry &d = deviceEntries[entry];
  if (d.kept.size() <= index)
    d.kept.resize(index + 1, false);
  d.kept[index] = true;
}

std::string Model::patchKeptInputs(const std::string &entry,
                                   const std::vector<InputPatch> &patches) {
  if (!onDevice || patches.empty())
    return "";
  const EntryInfo *e = this->entry(entry);
  if (!e)
    return "no entry point '" + entry + "'";
  DeviceEntry &d = deviceEntries[entry];
  std::vector<unsigned char> staging;
  std::vector<int64_t> moves;
  for (const InputPatch &p : patches) {
    if (p.input >= d.inputs.size() || p.input >= d.kept.size() || !d.kept[p.input])
      return entry + ": input " + std::to_string(p.input) + " is not kept on the device";
    if (p.offset < 0 || p.bytes < 0 || p.offset + p.bytes > e->inputs[p.input].bytes())
      return fmt::format("{}: bytes {}..{} are outside input {} ({} bytes)", entry, p.offset,
                         p.offset + p.bytes, e->inputs[p.input].name, e->inputs[p.input].bytes());
    moves.push_back(int64_t(reinterpret_cast<uintptr_t>(d.inputs[p.input])) + p.offset);
    moves.push_back(int64_t(staging.size()));
    moves.push_back(p.bytes);
    const auto *src = static_cast<const unsigned char *>(p.src);
    staging.insert(staging.end(), src, src + p.bytes);
  }
  if (api.scatter(staging.data(), int64_t(staging.size()), moves.data(), int64_t(patches.size()),
                  errorText, sizeof errorText))
    return deviceError(("updating the inputs of " + entry + " kept on the device").c_str());
  uploaded += int64_t(staging.size() + moves.size() * sizeof(int64_t));
  return "";
}

std::string Model::callOnDevice(const EntryInfo &e, const std::vector<const void *> &inputs,
                                const std::vector<void *> &outputs) {
  DeviceEntry &d = deviceEntries[e.name];
  if (newer == Newer::Host) {
    if (api.copy(deviceParams, paramBuffer.data(), int64_t(paramBuffer.size()) * 4, 1, errorText,
                 sizeof errorText))
      return deviceError("copying the parameters to the device");
    newer = Newer::Neither;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i < d.kept.size() && d.kept[i])
      continue;
    if (api.copy(d.inputs[i], inputs[i], e.inputs[i].bytes(), 1, errorText, sizeof errorText))
      return deviceError(("copying input " + e.inputs[i].name + " to the device").c_str());
    uploaded += e.inputs[i].bytes();
  }
  char error[512] = {0};
  int failed = functions[e.name](static_cast<float *>(deviceParams), static_cast<char *>(d.arena),
                                 d.inputs.data(), d.outputs.data(), error, sizeof error);
  if (e.writesParameters)
    newer = Newer::Device;
  if (failed)
    return deviceDescription + ": " + e.name + ": " + (error[0] ? error : "failed");
  if (api.sync(errorText, sizeof errorText))
    return deviceError(e.name.c_str());
  for (size_t i = 0; i < outputs.size(); ++i)
    if (api.copy(outputs[i], d.outputs[i], e.outputs[i].bytes(), 0, errorText, sizeof errorText))
      return deviceError(("copying output " + e.outputs[i].name + " to the host").c_str());
  return "";
}

} // namespace ra::rt
