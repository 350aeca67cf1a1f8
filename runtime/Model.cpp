//===- Model.cpp - a compiled artifact, loaded ----------------------------===//
#include "runtime/Model.h"
#include "abi/Abi.h"
#include "abi/Init.h"

#include <dlfcn.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <type_traits>

namespace ra::rt {

using abi::kAbiVersion;
using abi::kManifestFormatVersion;

static int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t TensorInfo::elements() const { return product(shape); }
int64_t ParamInfo::elements() const { return product(shape); }

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
  m->manifestJson = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  const auto &j = m->manifestJson;
  if (j.is_discarded() || !j.is_object()) {
    error = "'" + path + "' is not valid JSON";
    return nullptr;
  }
  if (j.value("format_version", 0) != kManifestFormatVersion) {
    error = "'" + path + "' has format version " + std::to_string(j.value("format_version", 0)) +
            "; this rarun reads version " + std::to_string(kManifestFormatVersion) +
            " (recompile the model with this racc)";
    return nullptr;
  }
  try {
    for (const auto &p : j.at("parameters")) {
      ParamInfo info;
      info.name = p.at("name");
      info.shape = p.at("shape").get<std::vector<int64_t>>();
      info.offset = p.at("offset");
      info.trainable = p.at("trainable");
      info.decay = p.at("decay");
      info.init = p.at("init");
      info.initValue = p.at("init_value");
      info.mechanism = p.at("mechanism");
      m->paramInfo.push_back(info);
    }
    auto tensors = [](const nlohmann::json &list) {
      std::vector<TensorInfo> out;
      for (const auto &t : list)
        out.push_back({t.at("name"), t.at("dtype"), t.at("shape").get<std::vector<int64_t>>(),
                       t.value("id_bound", int64_t(0))});
      return out;
    };
    for (const auto &e : j.at("entry_points")) {
      EntryInfo info;
      info.name = e.at("name");
      info.symbol = e.at("symbol");
      info.inputs = tensors(e.at("inputs"));
      info.outputs = tensors(e.at("outputs"));
      info.arenaBytes = e.at("arena_bytes");
      info.scratchBytes = e.value("scratch_bytes", 0);
      info.writesParameters = e.value("writes_parameters", true);
      if (e.contains("grad_norm_params"))
        info.gradNormParams = e["grad_norm_params"].get<std::vector<std::string>>();
      m->entries.push_back(info);
    }
    m->paramBuffer.assign(j.at("parameter_elements").get<int64_t>(), 0.f);
  } catch (const nlohmann::json::exception &e) {
    error = "'" + path + "' is missing or mistypes a field: " + e.what();
    return nullptr;
  }

  m->library = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->library) {
    error = "cannot load '" + lib + "': " + dlerror() +
            (device != "cpu" ? " (compile with racc compile --target cuda or all" +
                                   std::string(device == "cuda" ? ", where nvcc is" : "") + ")"
                             : "");
    return nullptr;
  }
  auto version = reinterpret_cast<int (*)()>(dlsym(m->library, "ra_abi_version"));
  if (!version || version() != kAbiVersion) {
    error = "'" + lib + "' does not implement ABI version " + std::to_string(kAbiVersion);
    return nullptr;
  }
  m->gemmRate = reinterpret_cast<decltype(m->gemmRate)>(dlsym(m->library, "ra_gemm_tflops"));
  m->profileEnable =
      reinterpret_cast<decltype(m->profileEnable)>(dlsym(m->library, "ra_profile_enable"));
  m->profileRead = reinterpret_cast<decltype(m->profileRead)>(dlsym(m->library, "ra_profile_read"));
  for (const EntryInfo &e : m->entries) {
    auto fn = reinterpret_cast<EntryFn>(dlsym(m->library, e.symbol.c_str()));
    if (!fn) {
      error = "'" + lib + "' lacks the entry point " + e.symbol;
      return nullptr;
    }
    m->functions[e.name] = fn;
    // Scratch is for the CUDA kernels only.
    if (device == "cpu")
      m->arenas[e.name].assign(abi::arenaAllocationBytes(e.arenaBytes, 0), 0);
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
      !sym(api.copy, "ra_device_copy") || !sym(api.sync, "ra_device_sync"))
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
  auto alloc = [&](int64_t bytes, void *&out) {
    out = api.alloc(bytes, errorText, sizeof errorText);
    if (out)
      deviceBlocks.push_back(out);
    return out != nullptr;
  };
  if (!alloc(int64_t(paramBuffer.size()) * 4, deviceParams))
    return deviceError("allocating the parameters");
  for (const EntryInfo &e : entries) {
    DeviceEntry &d = deviceEntries[e.name];
    if (!alloc(abi::arenaAllocationBytes(e.arenaBytes, e.scratchBytes), d.arena))
      return deviceError(("allocating the arena of " + e.name).c_str());
    for (const TensorInfo &t : e.inputs)
      if (!alloc(t.elements() * 4, d.inputs.emplace_back()))
        return deviceError(("allocating input " + t.name).c_str());
    for (const TensorInfo &t : e.outputs)
      if (!alloc(t.elements() * 4, d.outputs.emplace_back()))
        return deviceError(("allocating output " + t.name).c_str());
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
  for (const auto &p : paramInfo)
    if (p.name == name)
      return &p;
  return nullptr;
}

const EntryInfo *Model::entry(const std::string &name) const {
  for (const auto &e : entries)
    if (e.name == name)
      return &e;
  return nullptr;
}

std::optional<int64_t> Model::config(const std::string &name) const {
  const auto &c = manifestJson["config"];
  if (c.contains(name) && c[name].is_number_integer())
    return c[name].get<int64_t>();
  return std::nullopt;
}

void Model::initialize(uint64_t seed) {
  float *buffer = mutableParameters();
  for (const ParamInfo &p : paramInfo)
    ra::initialize(buffer + p.offset, p.elements(), *parseInit(p.init), p.initValue, p.name, seed);
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
  // The arena starts aligned, as ra-plan-memory assumes.
  auto &arena = arenas[name];
  uintptr_t at = reinterpret_cast<uintptr_t>(arena.data());
  char *base = reinterpret_cast<char *>(uint64_t(abi::alignUp(int64_t(at))));
  if (fn->second(paramBuffer.data(), base, inputs.data(), outputs.data(), error, sizeof error))
    return error[0] ? error : "entry point '" + name + "' failed";
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
  for (size_t i = 0; i < inputs.size(); ++i)
    if (api.copy(d.inputs[i], inputs[i], e.inputs[i].elements() * 4, 1, errorText,
                 sizeof errorText))
      return deviceError(("copying input " + e.inputs[i].name + " to the device").c_str());
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
    if (api.copy(outputs[i], d.outputs[i], e.outputs[i].elements() * 4, 0, errorText,
                 sizeof errorText))
      return deviceError(("copying output " + e.outputs[i].name + " to the host").c_str());
  return "";
}

} // namespace ra::rt
