//===- CompileCache.cpp - compiled kernel libraries by content ------------===//
#include "CompileCache.h"

#include "runtime/FileHash.h"

#include "llvm/Support/Host.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace racc {

static void warn(const std::string &message) {
  llvm::errs() << "racc: warning: compile cache: " << message << "\n";
}

CompileCache CompileCache::fromEnvironment() {
  std::string dir;
  if (const char *env = std::getenv("RACC_CACHE_DIR"); env && *env) {
    if (std::string(env) == "off")
      return disabled();
    dir = env;
  } else if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    dir = std::string(xdg) + "/racc";
  } else if (const char *home = std::getenv("HOME"); home && *home) {
    dir = std::string(home) + "/.cache/racc";
  } else {
    return disabled();
  }
  CompileCache cache(dir);
  if (const char *max = std::getenv("RACC_CACHE_MAX_MB"); max && *max)
    cache.maxBytes = uint64_t(std::max(0L, std::atol(max))) << 20;
  return cache;
}

/// What identifies a compiler, as ccache's default `compiler_check = mtime`:
/// the file it resolves to, its size and its modification time (an upgrade
/// changes them). Cheaper and safer than running it: a wrapper script that
/// hangs would hang racc outside runCompiler's signal handling.
static std::string compilerIdentity(const std::string &compiler) {
  std::string identity = compiler;
  if (auto program = llvm::sys::findProgramByName(compiler)) {
    std::error_code ec;
    fs::path real = fs::canonical(*program, ec);
    if (!ec) {
      auto bytes = fs::file_size(real, ec);
      auto time = fs::last_write_time(real, ec).time_since_epoch().count();
      identity = real.string() + " " + std::to_string(bytes) + " " + std::to_string(time);
    }
  }
  return identity;
}

std::string CompileCache::key(const std::string &compiler, const std::vector<std::string> &args,
                              const std::vector<std::string> &inputs,
                              const std::string &staging) const {
  std::string text = "racc compile cache 1\n" + compilerIdentity(compiler) + "\n";
  text += "cpu " + llvm::sys::getHostCPUName().str() + "\n";
  for (std::string a : args) {
    for (size_t at; !staging.empty() && (at = a.find(staging)) != std::string::npos;)
      a.replace(at, staging.size(), "@STAGING@");
    text += "arg " + a + "\n";
  }
  for (const std::string &input : inputs) {
    ra::rt::FileDigest digest;
    if (!ra::rt::hashFile(input, digest).empty())
      return "";
    std::string name = input;
    if (!staging.empty() && name.rfind(staging, 0) == 0)
      name = "@STAGING@" + name.substr(staging.size());
    text += "input " + name + " " + digest.sha256 + "\n";
  }
  return ra::rt::sha256(text.data(), text.size());
}

/// The SHA-256 of a file, or "" when it cannot be read.
static std::string digestOf(const std::string &path) {
  ra::rt::FileDigest digest;
  return ra::rt::hashFile(path, digest).empty() ? digest.sha256 : "";
}

bool CompileCache::fetch(const std::string &key, const std::string &output) const {
  if (!enabled() || key.empty())
    return false;
  std::string entry = dir + "/" + key + ".so", sum = entry + ".sha256";
  std::error_code ec;
  if (!fs::exists(entry, ec))
    return false;
  std::string expected;
  std::ifstream(sum) >> expected;
  if (expected.empty() || digestOf(entry) != expected) {
    warn(entry + " does not match its digest; removed, compiling instead");
    fs::remove(entry, ec);
    fs::remove(sum, ec);
    return false;
  }
  fs::copy_file(entry, output, fs::copy_options::overwrite_existing, ec);
  if (ec || digestOf(output) != expected) {
    warn("cannot copy " + entry + " to " + output + (ec ? ": " + ec.message() : ""));
    return false;
  }
  // Recently used entries are the last trimmed.
  fs::last_write_time(entry, fs::file_time_type::clock::now(), ec);
  return true;
}

void CompileCache::store(const std::string &key, const std::string &output) const {
  if (!enabled() || key.empty())
    return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return warn("cannot create " + dir + ": " + ec.message());
  std::string digest = digestOf(output);
  if (digest.empty())
    return warn("cannot read " + output);
  // Written under unique names, then renamed: a concurrent racc sees a whole
  // entry or none, and the digest lands before the library it describes.
  std::string entry = dir + "/" + key + ".so", tmp = entry + ".tmp" + std::to_string(getpid());
  {
    std::ofstream sum(tmp + ".sha256");
    sum << digest << "\n";
    if (!sum)
      return warn("cannot write " + tmp + ".sha256");
  }
  fs::copy_file(output, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec)
    fs::rename(tmp + ".sha256", entry + ".sha256", ec);
  if (!ec)
    fs::rename(tmp, entry, ec);
  if (ec) {
    fs::remove(tmp), fs::remove(tmp + ".sha256");
    return warn("cannot store " + entry + ": " + ec.message());
  }
  trim();
}

void CompileCache::trim() const {
  std::error_code ec;
  struct Entry {
    fs::file_time_type used;
    std::string path;
    uint64_t bytes;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  for (const auto &f : fs::directory_iterator(dir, ec)) {
    if (f.path().extension() != ".so")
      continue;
    uint64_t bytes = f.file_size(ec);
    entries.push_back({f.last_write_time(ec), f.path().string(), bytes});
    total += bytes;
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry &a, const Entry &b) { return a.used < b.used; });
  for (const Entry &e : entries) {
    if (total <= maxBytes)
      break;
    fs::remove(e.path, ec);
    fs::remove(e.path + ".sha256", ec);
    total -= e.bytes;
  }
}

} // namespace racc
