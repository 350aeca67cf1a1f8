//===- Checkpoint.cpp - safetensors checkpoints ---------------------------===//
//
// safetensors: 8-byte little-endian header size N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {str: str}},
// then the data. Offsets are relative to the end of the header.
//
//===----------------------------------------------------------------------===//
#include "runtime/Checkpoint.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>

namespace ra::rt {

namespace {

constexpr uint64_t kMaxHeader = 100 << 20;

std::string dirOf(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

/// Reads and validates the header; returns "" or an error.
std::string readHeader(const std::string &path, std::ifstream &in, nlohmann::json &header,
                       uint64_t &dataStart, uint64_t &fileSize) {
  in.open(path, std::ios::binary);
  if (!in)
    return "cannot read checkpoint '" + path + "': " + std::strerror(errno);
  in.seekg(0, std::ios::end);
  fileSize = in.tellg();
  in.seekg(0);
  uint64_t n = 0;
  unsigned char len[8];
  if (fileSize < 8 || !in.read(reinterpret_cast<char *>(len), 8))
    return "checkpoint '" + path + "' is truncated (no safetensors header)";
  for (int i = 7; i >= 0; --i)
    n = (n << 8) | len[i];
  if (n > kMaxHeader)
    return "checkpoint '" + path + "' has a corrupt safetensors header (it claims " +
           std::to_string(n) + " bytes)";
  if (8 + n > fileSize)
    return "checkpoint '" + path + "' is truncated or corrupt: its header claims " +
           std::to_string(n) + " bytes, the file has " + std::to_string(fileSize);
  std::string text(n, '\0');
  in.read(text.data(), n);
  header = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    return "checkpoint '" + path + "' has a corrupt safetensors header (not a JSON object)";
  dataStart = 8 + n;
  return "";
}

/// Checks one tensor entry and returns its byte range. Every field is
/// type-checked before it is read, and the shape's element count is bounded
/// by the data before it is multiplied out, so no header throws, overflows
/// or sizes an allocation beyond the file.
std::string tensorRange(const std::string &path, const std::string &name, const nlohmann::json &e,
                        uint64_t dataBytes, std::vector<int64_t> &shape, uint64_t &begin,
                        uint64_t &end) {
  std::string bad = "checkpoint '" + path + "': tensor '" + name + "' ";
  if (!e.is_object() || !e.contains("dtype") || !e["dtype"].is_string() ||
      e["dtype"].get<std::string>() != "F32")
    return bad + "is not an F32 tensor entry";
  const nlohmann::json &dims = e.contains("shape") ? e["shape"] : nlohmann::json();
  const nlohmann::json &offsets = e.contains("data_offsets") ? e["data_offsets"] : nlohmann::json();
  if (!dims.is_array() || !offsets.is_array() || offsets.size() != 2 ||
      !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
    return bad + "has no valid shape and data_offsets (a list of sizes and two byte offsets)";
  uint64_t elements = 1, limit = dataBytes / 4;
  shape.clear();
  for (const nlohmann::json &d : dims) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(INT64_MAX))
      return bad + "has a shape that is not a list of sizes: " + dims.dump();
    uint64_t n = d.get<uint64_t>();
    shape.push_back(int64_t(n));
    if (n != 0 && elements > limit / n)
      elements = limit + 1; // more than the file holds; saturate, keep reading the shape
    else
      elements *= n;
  }
  begin = offsets[0].get<uint64_t>();
  end = offsets[1].get<uint64_t>();
  if (end < begin || end > dataBytes || elements > limit || end - begin != elements * 4)
    return bad + "has data offsets outside the file or inconsistent with its shape (the file is "
                 "truncated or corrupt)";
  return "";
}

} // namespace

std::string writeCheckpoint(const std::string &path, Model &model, const CheckpointMeta &meta) {
  nlohmann::ordered_json header;
  nlohmann::ordered_json metadata = {{"format", "rarun-checkpoint-1"},
                                     {"step", std::to_string(meta.step)},
                                     {"data_state", std::to_string(meta.dataState)}};
  for (const auto &[k, v] : meta.extra)
    metadata[k] = v;
  header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const ParamInfo &p : model.params()) {
    header[p.name] = {{"dtype", "F32"},
                      {"shape", p.shape},
                      {"data_offsets", {offset, offset + 4 * p.elements()}}};
    offset += 4 * p.elements();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    return "cannot write checkpoint '" + tmp + "': " + std::strerror(errno);
  auto writeAll = [&](const void *data, size_t n) {
    const char *p = static_cast<const char *>(data);
    while (n) {
      ssize_t w = write(fd, p, n);
      if (w <= 0)
        return false;
      p += w;
      n -= w;
    }
    return true;
  };
  unsigned char len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = (text.size() >> (8 * i)) & 0xff;
  bool ok = writeAll(len, 8) && writeAll(text.data(), text.size());
  const float *params = model.parameters(); // from the device once, if it is newer
  for (const ParamInfo &p : model.params())
    ok = ok && writeAll(params + p.offset, 4 * p.elements());
  ok = ok && fsync(fd) == 0;
  int err = errno;
  close(fd);
  if (!ok) {
    unlink(tmp.c_str());
    return "cannot write checkpoint '" + tmp + "': " + std::strerror(err);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    unlink(tmp.c_str());
    return "cannot move checkpoint into place at '" + path + "': " + std::strerror(err);
  }
  // The rename itself must survive a crash.
  int dir = open(dirOf(path).c_str(), O_RDONLY);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
  return "";
}

static std::string readMeta(const std::string &path, const nlohmann::json &header,
                            CheckpointMeta &meta) {
  if (!header.contains("__metadata__"))
    return "checkpoint '" + path + "' has no rarun metadata (step, data position)";
  const auto &m = header["__metadata__"];
  try {
    meta.step = std::stoll(m.at("step").get<std::string>());
    meta.dataState = std::stoull(m.at("data_state").get<std::string>());
  } catch (const std::exception &) {
    return "checkpoint '" + path + "' has malformed metadata (step, data_state)";
  }
  for (auto it = m.begin(); it != m.end(); ++it)
    if (it.value().is_string())
      meta.extra[it.key()] = it.value();
  return "";
}

std::string readCheckpoint(const std::string &path, Model &model, CheckpointMeta &meta) {
  std::ifstream in;
  nlohmann::json header;
  uint64_t dataStart = 0, fileSize = 0;
  if (std::string err = readHeader(path, in, header, dataStart, fileSize); !err.empty())
    return err;
  if (std::string err = readMeta(path, header, meta); !err.empty())
    return err;
  for (auto it = header.begin(); it != header.end(); ++it)
    if (it.key() != "__metadata__" && !model.param(it.key()))
      return "checkpoint '" + path + "' holds tensor '" + it.key() +
             "', which the artifact does not have (a checkpoint of another model?)";
  float *params = model.mutableParameters(); // replaced on the device before the next call
  for (const ParamInfo &p : model.params()) {
    if (!header.contains(p.name))
      return "checkpoint '" + path + "' lacks tensor '" + p.name + "' that the artifact needs";
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;
    if (std::string err =
            tensorRange(path, p.name, header[p.name], fileSize - dataStart, shape, begin, end);
        !err.empty())
      return err;
    if (shape != p.shape) {
      auto str = [](const std::vector<int64_t> &s) { return nlohmann::json(s).dump(); };
      return "checkpoint '" + path + "': tensor '" + p.name + "' has shape " + str(shape) +
             ", the artifact's is " + str(p.shape);
    }
    in.seekg(dataStart + begin);
    if (!in.read(reinterpret_cast<char *>(params + p.offset), end - begin))
      return "checkpoint '" + path + "' is truncated in tensor '" + p.name + "'";
  }
  return "";
}

std::string readCheckpointTensors(const std::string &path, std::vector<CheckpointTensor> &out,
                                  CheckpointMeta &meta) {
  std::ifstream in;
  nlohmann::json header;
  uint64_t dataStart = 0, fileSize = 0;
  if (std::string err = readHeader(path, in, header, dataStart, fileSize); !err.empty())
    return err;
  if (std::string err = readMeta(path, header, meta); !err.empty())
    return err;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__")
      continue;
    CheckpointTensor t;
    t.name = it.key();
    uint64_t begin = 0, end = 0;
    if (std::string err =
            tensorRange(path, t.name, it.value(), fileSize - dataStart, t.shape, begin, end);
        !err.empty())
      return err;
    t.data.resize((end - begin) / 4);
    in.seekg(dataStart + begin);
    if (!in.read(reinterpret_cast<char *>(t.data.data()), end - begin))
      return "checkpoint '" + path + "' is truncated in tensor '" + t.name + "'";
    out.push_back(std::move(t));
  }
  return "";
}

} // namespace ra::rt
