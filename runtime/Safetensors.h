//===- Safetensors.h - reading and writing safetensors files ------*- C++ -*-===//
//
// safetensors: 8-byte little-endian header size N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {str: str}},
// then the data; offsets are relative to the end of the header. rarun's
// checkpoints and Hugging Face's model.safetensors are both this format.
// The reader checks every field's type and bounds every tensor by the file
// before anything is allocated, and reads F32, F16 and BF16 as float32; the
// writer writes F32, atomically.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_SAFETENSORS_H
#define RA_RUNTIME_SAFETENSORS_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace ra::rt {

/// One tensor of a file, its dtype and byte range checked against the file.
struct SafetensorsEntry {
  std::string name, dtype; // F32, F16 or BF16
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // within the data
  uint64_t elements() const;
};

class SafetensorsFile {
public:
  /// Opens PATH and checks its header and every tensor entry. `what` names
  /// the file in errors: "checkpoint 'PATH' is truncated ...".
  std::string open(const std::string &path, const std::string &what = "checkpoint");

  const std::vector<SafetensorsEntry> &entries() const { return tensors; }
  const SafetensorsEntry *find(const std::string &name) const;
  /// __metadata__, or null when the file has none.
  const nlohmann::json *metadata() const { return hasMetadata ? &meta : nullptr; }
  /// An entry's data as float32 (`out` holds entry.elements()).
  std::string read(const SafetensorsEntry &entry, float *out);
  /// "checkpoint 'PATH'": how errors about this file begin.
  std::string named() const { return what + " '" + path + "'"; }

private:
  std::string path, what;
  std::ifstream in;
  uint64_t dataStart = 0, fileSize = 0;
  std::vector<SafetensorsEntry> tensors;
  nlohmann::json meta;
  bool hasMetadata = false;
};

/// A float32 tensor to write.
struct SafetensorsTensor {
  std::string name;
  std::vector<int64_t> shape;
  const float *data;
};

/// Writes `tensors` (F32, in this order) and `metadata` (strings, in this
/// order) to PATH atomically. Returns "" or an error.
std::string writeSafetensors(const std::string &path, const std::string &what,
                             const std::vector<SafetensorsTensor> &tensors,
                             const std::vector<std::pair<std::string, std::string>> &metadata);

} // namespace ra::rt

#endif // RA_RUNTIME_SAFETENSORS_H
