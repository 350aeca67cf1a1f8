//===- Manifest.cpp - an artifact's manifest.json, read and validated -----===//
#include "runtime/Manifest.h"

#include "abi/Abi.h"
#include "abi/ra_dtype.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace ra::rt {

namespace {

/// Largest dimension, parameter buffer and arena a manifest may claim: far
/// beyond any model, small enough that products of them cannot overflow.
constexpr int64_t kMaxElements = int64_t(1) << 40;
constexpr int64_t kMaxBytes = int64_t(1) << 46;

int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// Throws what is wrong; readManifest turns it into the error.
struct Invalid {
  std::string message;
};

const nlohmann::json &field(const nlohmann::json &j, const char *key, const std::string &where) {
  if (!j.is_object() || !j.contains(key))
    throw Invalid{where + " has no '" + key + "'"};
  return j[key];
}

int64_t integer(const nlohmann::json &j, const char *key, const std::string &where, int64_t min,
                int64_t max) {
  const nlohmann::json &v = field(j, key, where);
  if (!v.is_number_integer())
    throw Invalid{fmt::format("{}: '{}' must be an integer", where, key)};
  int64_t x = v.get<int64_t>();
  if (x < min || x > max)
    throw Invalid{fmt::format("{}: '{}' is {}, outside [{}, {}]", where, key, x, min, max)};
  return x;
}

std::string text(const nlohmann::json &j, const char *key, const std::string &where) {
  const nlohmann::json &v = field(j, key, where);
  if (!v.is_string())
    throw Invalid{fmt::format("{}: '{}' must be a string", where, key)};
  return v.get<std::string>();
}

bool boolean(const nlohmann::json &j, const char *key, const std::string &where) {
  const nlohmann::json &v = field(j, key, where);
  if (!v.is_boolean())
    throw Invalid{fmt::format("{}: '{}' must be true or false", where, key)};
  return v.get<bool>();
}

std::vector<int64_t> shape(const nlohmann::json &j, const std::string &where) {
  const nlohmann::json &v = field(j, "shape", where);
  if (!v.is_array())
    throw Invalid{where + ": 'shape' must be a list of dimensions"};
  std::vector<int64_t> s;
  int64_t n = 1;
  for (const auto &d : v) {
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > kMaxElements)
      throw Invalid{where + ": 'shape' " + v.dump() + " must hold positive dimensions"};
    s.push_back(d.get<int64_t>());
    if ((n *= s.back()) > kMaxElements)
      throw Invalid{where + ": 'shape' " + v.dump() + " is too large"};
  }
  return s;
}

std::vector<TensorInfo> tensors(const nlohmann::json &list, const std::string &where) {
  if (!list.is_array())
    throw Invalid{where + " must be a list"};
  std::vector<TensorInfo> out;
  for (size_t i = 0; i < list.size(); ++i) {
    std::string at = fmt::format("{} {}", where, i);
    TensorInfo t;
    t.name = text(list[i], "name", at);
    t.dtype = text(list[i], "dtype", at);
    ra_dtype::Dtype type;
    if (!ra_dtype::parse(t.dtype.c_str(), type))
      throw Invalid{at + ": 'dtype' is '" + t.dtype + "', not f32, i32, f16 or bf16"};
    t.shape = shape(list[i], at);
    if (list[i].contains("id_bound"))
      t.idBound = integer(list[i], "id_bound", at, 0, kMaxElements);
    out.push_back(std::move(t));
  }
  return out;
}

void read(const nlohmann::json &j, Manifest &m) {
  m.raccVersion = j.value("racc_version", "");
  if (j.contains("precision"))
    m.precision = text(j, "precision", "the manifest");
  if (m.precision != "f32" && m.precision != "bf16")
    throw Invalid{"the manifest's 'precision' must be f32 or bf16, got '" + m.precision + "'"};
  m.parameterElements = integer(j, "parameter_elements", "the manifest", 0, kMaxElements);
  const nlohmann::json &params = field(j, "parameters", "the manifest");
  if (!params.is_array())
    throw Invalid{"the manifest's 'parameters' must be a list"};
  for (const auto &p : params) {
    ParamInfo info;
    info.name = text(p, "name", "a parameter");
    std::string at = "parameter '" + info.name + "'";
    info.shape = shape(p, at);
    info.offset = integer(p, "offset", at, 0, kMaxElements);
    info.trainable = boolean(p, "trainable", at);
    info.decay = boolean(p, "decay", at);
    info.init = text(p, "init", at);
    const nlohmann::json &v = field(p, "init_value", at);
    if (!v.is_number())
      throw Invalid{at + ": 'init_value' must be a number"};
    info.initValue = v.get<double>();
    info.mechanism = text(p, "mechanism", at);
    if (info.offset + info.elements() > m.parameterElements)
      throw Invalid{fmt::format("{}: offset {} + {} elements is past the parameter buffer's {}", at,
                                info.offset, info.elements(), m.parameterElements)};
    m.params.push_back(std::move(info));
  }
  // No two parameters share an element.
  std::vector<const ParamInfo *> byOffset;
  std::set<std::string> names;
  for (const ParamInfo &p : m.params) {
    if (!names.insert(p.name).second)
      throw Invalid{"parameter '" + p.name + "' is declared twice"};
    byOffset.push_back(&p);
  }
  std::sort(byOffset.begin(), byOffset.end(),
            [](const ParamInfo *a, const ParamInfo *b) { return a->offset < b->offset; });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i - 1]->offset + byOffset[i - 1]->elements() > byOffset[i]->offset)
      throw Invalid{"parameters '" + byOffset[i - 1]->name + "' and '" + byOffset[i]->name +
                    "' overlap in the parameter buffer"};

  const nlohmann::json &entries = field(j, "entry_points", "the manifest");
  if (!entries.is_array())
    throw Invalid{"the manifest's 'entry_points' must be a list"};
  for (const auto &e : entries) {
    EntryInfo info;
    info.name = text(e, "name", "an entry point");
    std::string at = "entry point '" + info.name + "'";
    info.symbol = text(e, "symbol", at);
    info.inputs = tensors(field(e, "inputs", at), at + " input");
    info.outputs = tensors(field(e, "outputs", at), at + " output");
    info.arenaBytes = integer(e, "arena_bytes", at, 0, kMaxBytes);
    info.scratchBytes =
        e.contains("scratch_bytes") ? integer(e, "scratch_bytes", at, 0, kMaxBytes) : 0;
    info.writesParameters =
        e.contains("writes_parameters") ? boolean(e, "writes_parameters", at) : true;
    if (e.contains("grad_norm_params")) {
      for (const auto &n : e["grad_norm_params"]) {
        if (!n.is_string() || !names.count(n.get<std::string>()))
          throw Invalid{at + ": 'grad_norm_params' names " + n.dump() +
                        ", not a parameter of the model"};
        info.gradNormParams.push_back(n.get<std::string>());
      }
    }
    m.entries.push_back(std::move(info));
  }
  // The batch shape the front end compiled for is the one @forward takes.
  const nlohmann::json &config = j.value("config", nlohmann::json::object());
  for (const EntryInfo &e : m.entries)
    if (e.name == "forward" && !e.inputs.empty() && e.inputs[0].shape.size() == 2)
      for (auto [key, axis] : {std::pair{"batch", 0}, std::pair{"seq", 1}})
        if (config.contains(key) && config[key].is_number_integer() &&
            config[key].get<int64_t>() != e.inputs[0].shape[axis])
          throw Invalid{fmt::format("config '{}' is {} but forward's input '{}' is {}", key,
                                    config[key].get<int64_t>(), e.inputs[0].name,
                                    nlohmann::json(e.inputs[0].shape).dump())};
  if (j.contains("files") && j["files"].is_object())
    for (auto it = j["files"].begin(); it != j["files"].end(); ++it) {
      std::string at = "file '" + it.key() + "'";
      m.files[it.key()] = {text(it.value(), "sha256", at),
                           uint64_t(integer(it.value(), "bytes", at, 0, kMaxBytes))};
    }
}

} // namespace

int64_t TensorInfo::elements() const { return product(shape); }
int64_t TensorInfo::bytes() const {
  ra_dtype::Dtype type = ra_dtype::Dtype::F32; // read() checked the name
  ra_dtype::parse(dtype.c_str(), type);
  return elements() * ra_dtype::bytes(type);
}
int64_t ParamInfo::elements() const { return product(shape); }

std::string readManifest(const std::string &text, const std::string &path, Manifest &out) {
  out.json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto &j = out.json;
  if (j.is_discarded() || !j.is_object())
    return "'" + path + "' is not valid JSON";
  if (!j.contains("format_version") || !j["format_version"].is_number_integer() ||
      j["format_version"].get<int64_t>() != abi::kManifestFormatVersion)
    return "'" + path + "' has format version " +
           j.value("format_version", nlohmann::json()).dump() + "; this rarun reads version " +
           std::to_string(abi::kManifestFormatVersion) + " (recompile the model with this racc)";
  if (!j.contains("abi_version") || !j["abi_version"].is_number_integer() ||
      j["abi_version"].get<int64_t>() != abi::kAbiVersion)
    return "'" + path + "' describes a library of ABI version " +
           j.value("abi_version", nlohmann::json()).dump() + "; this rarun runs version " +
           std::to_string(abi::kAbiVersion) + " (recompile the model with this racc)";
  try {
    read(j, out);
  } catch (const Invalid &e) {
    return "'" + path + "' is invalid: " + e.message;
  } catch (const nlohmann::json::exception &e) {
    return "'" + path + "' is invalid: " + e.what();
  }
  return "";
}

std::string checkLibraryLayout(const Manifest &m, const std::string &library,
                               int64_t parameterElements,
                               const int64_t *(*entryLayout)(const char *)) {
  auto mismatch = [&](const std::string &what, int64_t manifest, int64_t lib) {
    return fmt::format("the manifest and '{}' disagree on {}: {} in the manifest, {} in the "
                       "library (the artifact was edited or mixed; recompile it)",
                       library, what, manifest, lib);
  };
  if (parameterElements != m.parameterElements)
    return mismatch("the parameter buffer's elements", m.parameterElements, parameterElements);
  for (const EntryInfo &e : m.entries) {
    const int64_t *layout = entryLayout(e.name.c_str());
    if (!layout)
      return "'" + library + "' has no entry point '" + e.name + "' that the manifest lists";
    if (layout[0] != e.arenaBytes)
      return mismatch(e.name + "'s arena bytes", e.arenaBytes, layout[0]);
    if (layout[1] != e.scratchBytes)
      return mismatch(e.name + "'s scratch bytes", e.scratchBytes, layout[1]);
    const int64_t *p = layout + 2;
    for (const auto *list : {&e.inputs, &e.outputs}) {
      if (*p != int64_t(list->size()))
        return mismatch(e.name + "'s number of " + (list == &e.inputs ? "inputs" : "outputs"),
                        int64_t(list->size()), *p);
      ++p;
      for (const TensorInfo &t : *list) {
        if (*p != t.elements())
          return mismatch(e.name + "'s " + t.name + " elements", t.elements(), *p);
        ++p;
      }
    }
  }
  return "";
}

} // namespace ra::rt
