//===- Manifest.h - an artifact's manifest.json, read and validated -*- C++ -*-===//
//
// What rarun knows of an artifact before it loads its library: versions,
// parameters (offsets into one flat buffer), entry points (their tensors and
// memory), the libraries' hashes. Every value that sizes memory is checked
// against the others before use, so a corrupt or hand-edited manifest is an
// error naming the field, never an out-of-bounds access.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_MANIFEST_H
#define RA_RUNTIME_MANIFEST_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ra::rt {

struct TensorInfo {
  std::string name;
  std::string dtype; // f32, i32, or f16 / bf16 (@decode's caches)
  std::vector<int64_t> shape;
  int64_t idBound = 0; // i32 ids must lie in [0, idBound); 0: unchecked
  int64_t elements() const;
  int64_t bytes() const;
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
  bool writesParameters = true;
  std::vector<std::string> gradNormParams;
};

/// A file of the artifact as the manifest records it.
struct FileRecord {
  std::string sha256;
  uint64_t bytes = 0;
};

struct Manifest {
  nlohmann::json json;
  std::string raccVersion;
  /// The matmuls' operands: "f32", or "bf16" (racc compile --precision).
  std::string precision = "f32";
  int64_t parameterElements = 0;
  std::vector<ParamInfo> params;
  std::vector<EntryInfo> entries;
  std::map<std::string, FileRecord> files; // by path within the artifact
};

/// Parses and validates manifest.json's text (`path` names it in errors).
/// Returns "" or what is wrong.
std::string readManifest(const std::string &text, const std::string &path, Manifest &out);

/// Checks that the library's own account of its memory (abi::EntryLayoutFn,
/// the parameter elements) agrees with the manifest's.
std::string checkLibraryLayout(const Manifest &m, const std::string &library,
                               int64_t parameterElements,
                               const int64_t *(*entryLayout)(const char *));

} // namespace ra::rt

#endif // RA_RUNTIME_MANIFEST_H
