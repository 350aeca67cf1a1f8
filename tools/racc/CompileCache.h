//===- CompileCache.h - compiled kernel libraries by content -------*- C++ -*-===//
//
// Compiling the generated kernels is most of `racc compile`'s time, and a
// researcher recompiles models whose generated code has not changed (another
// -D that only the runtime sees, a study's repeated variant, the test
// suite's tiny models). Like ccache and Triton's ~/.triton/cache, racc keeps
// each compiled library under the SHA-256 of everything that determines it:
// the compiler (the file it resolves to, its size and time), the host CPU (for -march=native),
// the arguments with the staging directory's name taken out, and every
// input file's bytes. A hit copies the library; a stored entry carries the
// digest of its bytes, so a damaged entry is a miss (and is removed), never
// a wrong library.
//
// Where: $RACC_CACHE_DIR, else $XDG_CACHE_HOME/racc, else ~/.cache/racc;
// RACC_CACHE_DIR=off (or `racc compile --no-compile-cache`) disables it. It
// holds at most $RACC_CACHE_MAX_MB (default 2048) MiB, the least recently
// used entries removed first. Failing to read or write it is a warning,
// never an error: the compile goes on.
//
//===----------------------------------------------------------------------===//
#ifndef RACC_COMPILECACHE_H
#define RACC_COMPILECACHE_H

#include <cstdint>
#include <string>
#include <vector>

namespace racc {

class CompileCache {
public:
  /// The cache the environment names (disabled when `off`).
  static CompileCache fromEnvironment();
  static CompileCache disabled() { return CompileCache(""); }

  bool enabled() const { return !dir.empty(); }
  const std::string &directory() const { return dir; }

  /// The key of compiling `inputs` with `compiler args`; `staging`, a
  /// directory whose name differs between compiles, is replaced in the
  /// arguments by a fixed placeholder. Empty (no caching) when an input
  /// cannot be read.
  std::string key(const std::string &compiler, const std::vector<std::string> &args,
                  const std::vector<std::string> &inputs, const std::string &staging) const;

  /// Copies the entry `key` to `output`; false on a miss.
  bool fetch(const std::string &key, const std::string &output) const;

  /// Stores `output` as the entry `key` (atomically), then trims the cache.
  void store(const std::string &key, const std::string &output) const;

private:
  explicit CompileCache(std::string dir) : dir(std::move(dir)) {}
  void trim() const;
  std::string dir;
  uint64_t maxBytes = uint64_t(2048) << 20;
};

} // namespace racc

#endif // RACC_COMPILECACHE_H
