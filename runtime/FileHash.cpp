//===- FileHash.cpp - SHA-256 of files and bytes --------------------------===//
#include "runtime/FileHash.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace ra::rt {
namespace {

std::string hex(const unsigned char *digest, unsigned n) {
  static const char *kDigits = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (unsigned i = 0; i < n; ++i) {
    s[2 * i] = kDigits[digest[i] >> 4];
    s[2 * i + 1] = kDigits[digest[i] & 15];
  }
  return s;
}

using Context = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

} // namespace

std::string sha256(const void *bytes, size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(bytes, size, digest, &n, EVP_sha256(), nullptr);
  return hex(digest, n);
}

std::string hashFile(const std::string &path, FileDigest &out) {
  std::unique_ptr<FILE, decltype(&fclose)> f(fopen(path.c_str(), "rb"), &fclose);
  if (!f)
    return "cannot read '" + path + "': " + std::strerror(errno);
  Context ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  out.bytes = 0;
  while (size_t got = fread(buffer.data(), 1, buffer.size(), f.get())) {
    EVP_DigestUpdate(ctx.get(), buffer.data(), got);
    out.bytes += got;
  }
  if (ferror(f.get()))
    return "cannot read '" + path + "': " + std::strerror(errno);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &n);
  out.sha256 = hex(digest, n);
  return "";
}

} // namespace ra::rt
