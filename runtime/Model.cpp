//===- Model.cpp - a compiled artifact, loaded ----------------------------===//
#include "runtime/Model.h"
#include "runtime/Rng.h"

#include <dlfcn.h>
#include <fstream>
#include <sstream>

namespace ra::rt {

constexpr int kManifestFormatVersion = 2;
constexpr int kAbiVersion = 1;

static int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t TensorInfo::elements() const { return product(shape); }
int64_t ParamInfo::elements() const { return product(shape); }

std::unique_ptr<Model> Model::load(const std::string &artifact, std::string &error,
                                   const std::string &device) {
  std::string lib;
  if (device == "cpu")
    lib = artifact + "/cpu/model.so";
  else if (device == "cuda-emu")
    lib = artifact + "/cuda/model_emu.so";
  else if (device == "cuda") {
    error = "--device cuda: this rarun has no CUDA device layer yet; --device cuda-emu runs the "
            "artifact's CUDA kernels on the CPU";
    return nullptr;
  } else {
    error = "unknown device '" + device + "' (cpu or cuda-emu)";
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
        out.push_back({t.at("name"), t.at("dtype"), t.at("shape").get<std::vector<int64_t>>()});
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
            (device == "cuda-emu" ? " (compile with racc compile --target cuda or all)" : "");
    return nullptr;
  }
  auto version = reinterpret_cast<int (*)()>(dlsym(m->library, "ra_abi_version"));
  if (!version || version() != kAbiVersion) {
    error = "'" + lib + "' does not implement ABI version " + std::to_string(kAbiVersion);
    return nullptr;
  }
  for (const EntryInfo &e : m->entries) {
    auto fn = reinterpret_cast<EntryFn>(dlsym(m->library, e.symbol.c_str()));
    if (!fn) {
      error = "'" + lib + "' lacks the entry point " + e.symbol;
      return nullptr;
    }
    m->functions[e.name] = fn;
    // 64 bytes of slack for alignment; CUDA scratch after the aligned arena.
    m->arenas[e.name].assign((e.arenaBytes + 63) / 64 * 64 + e.scratchBytes + 64, 0);
  }
  return m;
}

Model::~Model() {
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
  for (const ParamInfo &p : paramInfo) {
    Rng rng(hashName(p.name, seed));
    float *dst = paramBuffer.data() + p.offset;
    for (int64_t i = 0; i < p.elements(); ++i)
      dst[i] = float(p.init == "normal"  ? p.initValue * rng.normal()
                     : p.init == "ones"  ? 1.0
                     : p.init == "const" ? p.initValue
                                         : 0.0);
  }
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
  char error[512] = {0};
  // 64-byte alignment for the arena, as ra-plan-memory assumes.
  auto &arena = arenas[name];
  char *base = reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(arena.data()) + 63) & ~63ull);
  if (fn->second(paramBuffer.data(), base, inputs.data(), outputs.data(), error, sizeof error))
    return error[0] ? error : "entry point '" + name + "' failed";
  return "";
}

} // namespace ra::rt
