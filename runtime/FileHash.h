//===- FileHash.h - SHA-256 of files and bytes --------------------*- C++ -*-===//
//
// The manifest binds an artifact's parts by their SHA-256 (OpenSSL's), and
// checkpoints record the hash of the artifact and of the data they were
// trained on. racc writes these hashes and rarun checks them.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_FILEHASH_H
#define RA_RUNTIME_FILEHASH_H

#include <cstdint>
#include <string>

namespace ra::rt {

/// Lower-case hex SHA-256 of `bytes`.
std::string sha256(const void *bytes, size_t size);

/// SHA-256 of a file's contents and its size, or an error (naming the file).
struct FileDigest {
  std::string sha256;
  uint64_t bytes = 0;
};
std::string hashFile(const std::string &path, FileDigest &out);

} // namespace ra::rt

#endif // RA_RUNTIME_FILEHASH_H
