//===- Safetensors.cpp - reading and writing safetensors files ------------===//
#include "runtime/Safetensors.h"

#include "runtime/AtomicFile.h"

#include <cerrno>
#include <cstring>

namespace ra::rt {

namespace {

constexpr uint64_t kMaxHeader = 100 << 20;

int elementBytes(const std::string &dtype) {
  if (dtype == "F32")
    return 4;
  if (dtype == "F16" || dtype == "BF16")
    return 2;
  return 0;
}

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000 | (mantissa << 13); // inf, nan
  } else if (exponent) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa) { // subnormal: normalize
    int shift = 0;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | uint32_t(113 - shift) << 23 | ((mantissa & 0x3FF) << 13);
  } else {
    bits = sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// Checks one tensor entry: every field is type-checked before it is read,
/// and the shape's element count is bounded by the data before it is
/// multiplied out, so no header throws, overflows or sizes an allocation
/// beyond the file.
std::string checkEntry(const std::string &named, const std::string &name, const nlohmann::json &e,
                       uint64_t dataBytes, SafetensorsEntry &out) {
  std::string bad = named + ": tensor '" + name + "' ";
  int bytes = e.is_object() && e.contains("dtype") && e["dtype"].is_string()
                  ? elementBytes(e["dtype"].get<std::string>())
                  : 0;
  if (!bytes)
    return bad + "is not an F32, F16 or BF16 tensor entry";
  out.name = name;
  out.dtype = e["dtype"].get<std::string>();
  const nlohmann::json &dims = e.contains("shape") ? e["shape"] : nlohmann::json();
  const nlohmann::json &offsets = e.contains("data_offsets") ? e["data_offsets"] : nlohmann::json();
  if (!dims.is_array() || !offsets.is_array() || offsets.size() != 2 ||
      !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
    return bad + "has no valid shape and data_offsets (a list of sizes and two byte offsets)";
  uint64_t elements = 1, limit = dataBytes / bytes;
  for (const nlohmann::json &d : dims) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(INT64_MAX))
      return bad + "has a shape that is not a list of sizes: " + dims.dump();
    uint64_t n = d.get<uint64_t>();
    out.shape.push_back(int64_t(n));
    if (n != 0 && elements > limit / n)
      elements = limit + 1; // more than the file holds; saturate, keep reading the shape
    else
      elements *= n;
  }
  out.begin = offsets[0].get<uint64_t>();
  out.end = offsets[1].get<uint64_t>();
  if (out.end < out.begin || out.end > dataBytes || elements > limit ||
      out.end - out.begin != elements * bytes)
    return bad + "has data offsets outside the file or inconsistent with its shape (the file is "
                 "truncated or corrupt)";
  return "";
}

} // namespace

uint64_t SafetensorsEntry::elements() const { return (end - begin) / elementBytes(dtype); }

const SafetensorsEntry *SafetensorsFile::find(const std::string &name) const {
  for (const SafetensorsEntry &e : tensors)
    if (e.name == name)
      return &e;
  return nullptr;
}

std::string SafetensorsFile::open(const std::string &filePath, const std::string &kind) {
  path = filePath;
  what = kind;
  in.open(path, std::ios::binary);
  if (!in)
    return "cannot read " + named() + ": " + std::strerror(errno);
  in.seekg(0, std::ios::end);
  fileSize = in.tellg();
  in.seekg(0);
  uint64_t n = 0;
  unsigned char len[8];
  if (fileSize < 8 || !in.read(reinterpret_cast<char *>(len), 8))
    return named() + " is truncated (no safetensors header)";
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | len[i];
  if (n > kMaxHeader)
    return named() + " has a corrupt safetensors header (it claims " + std::to_string(n) +
           " bytes)";
  if (8 + n > fileSize)
    return named() + " is truncated or corrupt: its header claims " + std::to_string(n) +
           " bytes, the file has " + std::to_string(fileSize);
  std::string text(n, '\0');
  in.read(text.data(), n);
  nlohmann::json header = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    return named() + " has a corrupt safetensors header (not a JSON object)";
  dataStart = 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object())
        return named() + " has a corrupt safetensors header (__metadata__ is not an object)";
      meta = it.value();
      hasMetadata = true;
      continue;
    }
    SafetensorsEntry e;
    if (std::string err = checkEntry(named(), it.key(), it.value(), fileSize - dataStart, e);
        !err.empty())
      return err;
    tensors.push_back(std::move(e));
  }
  return "";
}

std::string SafetensorsFile::read(const SafetensorsEntry &e, float *out) {
  in.clear();
  in.seekg(dataStart + e.begin);
  uint64_t n = e.elements();
  bool ok;
  if (e.dtype == "F32") {
    ok = bool(in.read(reinterpret_cast<char *>(out), 4 * n));
  } else {
    std::vector<uint16_t> half(n);
    ok = bool(in.read(reinterpret_cast<char *>(half.data()), 2 * n));
    for (uint64_t i = 0; ok && i < n; ++i) {
      if (e.dtype == "BF16") {
        uint32_t bits = uint32_t(half[i]) << 16;
        std::memcpy(out + i, &bits, 4);
      } else {
        out[i] = halfToFloat(half[i]);
      }
    }
  }
  return ok ? "" : named() + " is truncated in tensor '" + e.name + "'";
}

std::string writeSafetensors(const std::string &path, const std::string &what,
                             const std::vector<SafetensorsTensor> &tensors,
                             const std::vector<std::pair<std::string, std::string>> &metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto &[k, v] : metadata)
      m[k] = v;
    header["__metadata__"] = m;
  }
  std::vector<uint64_t> bytes;
  uint64_t offset = 0;
  for (const SafetensorsTensor &t : tensors) {
    uint64_t n = 1;
    for (int64_t d : t.shape)
      n *= uint64_t(d);
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + 4 * n}}};
    bytes.push_back(4 * n);
    offset += 4 * n;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' '); // the data starts 8-aligned
  unsigned char len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = (text.size() >> (8 * i)) & 0xff;
  return writeFileAtomically(path, what, [&](const WriteBytes &write) {
    bool ok = write(len, 8) && write(text.data(), text.size());
    for (size_t i = 0; ok && i < tensors.size(); ++i)
      ok = write(tensors[i].data, bytes[i]);
    return ok;
  });
}

} // namespace ra::rt
