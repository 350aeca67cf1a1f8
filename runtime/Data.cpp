//===- Data.cpp - token streams for training ------------------------------===//
#include "runtime/Data.h"

#include <algorithm>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sys/stat.h>

namespace ra::rt {

namespace {

constexpr int32_t kLlmcMagic = 20240520;

bool readFile(const std::string &path, std::string &bytes, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read '" + path + "': " + std::strerror(errno);
    return false;
  }
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Appends the tokens of one file.
std::string appendFile(const std::string &path, int64_t vocab, std::vector<int32_t> &out) {
  std::string bytes, error;
  if (!readFile(path, bytes, error))
    return error;
  size_t start = out.size();
  if (endsWith(path, ".bin")) {
    const char *p = bytes.data();
    size_t n = bytes.size();
    int32_t header[256];
    if (n >= sizeof header && (std::memcpy(header, p, sizeof header), header[0] == kLlmcMagic)) {
      if (header[1] != 1)
        return "'" + path + "': llm.c token file version " + std::to_string(header[1]) +
               " (only version 1, uint16 tokens, is read)";
      size_t count = (uint32_t)header[2];
      if (n < sizeof header + 2 * count)
        return "'" + path + "' is truncated: its header promises " + std::to_string(count) +
               " tokens, the file holds " + std::to_string((n - sizeof header) / 2);
      p += sizeof header;
      n = 2 * count;
    } else if (n % 2) {
      return "'" + path + "' has an odd number of bytes: not uint16 tokens";
    }
    for (size_t i = 0; i + 1 < n; i += 2) {
      uint16_t t;
      std::memcpy(&t, p + i, 2);
      out.push_back(t);
    }
  } else {
    for (unsigned char c : bytes)
      out.push_back(c);
  }
  for (size_t i = start; i < out.size(); ++i)
    if (out[i] >= vocab)
      return "'" + path + "': token id " + std::to_string(out[i]) + " at position " +
             std::to_string(i - start) + " is beyond the model's vocabulary (" +
             std::to_string(vocab) + ")";
  return "";
}

} // namespace

std::string loadCorpus(const std::string &path, int64_t vocab, int64_t seq, Corpus &out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return "cannot read '" + path + "': " + std::strerror(errno);
  std::vector<int32_t> all;
  std::vector<std::string> files;
  if (S_ISDIR(st.st_mode)) {
    DIR *dir = opendir(path.c_str());
    if (!dir)
      return "cannot list '" + path + "': " + std::strerror(errno);
    while (dirent *e = readdir(dir)) {
      std::string name = e->d_name, full = path + "/" + name;
      struct stat fs;
      // Regular files only; fortune's .dat indexes and .u8 links are not text.
      if (name[0] == '.' || lstat(full.c_str(), &fs) != 0 || !S_ISREG(fs.st_mode) ||
          endsWith(name, ".dat") || endsWith(name, ".u8"))
        continue;
      files.push_back(full);
    }
    closedir(dir);
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  if (files.empty())
    return "'" + path + "' holds no data files";
  for (const std::string &f : files)
    if (std::string err = appendFile(f, vocab, all); !err.empty())
      return err;
  size_t split = all.size() * 9 / 10;
  out.train.assign(all.begin(), all.begin() + split);
  out.validation.assign(all.begin() + split, all.end());
  if ((int64_t)out.validation.size() < seq + 1)
    return "'" + path + "' has " + std::to_string(all.size()) +
           " tokens: too few for a validation split of windows of " + std::to_string(seq + 1);
  out.description = std::to_string(all.size()) + " tokens from " + std::to_string(files.size()) +
                    (files.size() == 1 ? " file" : " files");
  return "";
}

void Batcher::next(std::vector<int32_t> &tokens, std::vector<int32_t> &targets) {
  tokens.resize(batch * seq);
  targets.resize(batch * seq);
  uint64_t windows = data.size() - seq;
  for (int64_t b = 0; b < batch; ++b) {
    uint64_t start = rng.next() % windows;
    std::copy_n(data.begin() + start, seq, tokens.begin() + b * seq);
    std::copy_n(data.begin() + start + 1, seq, targets.begin() + b * seq);
  }
}

} // namespace ra::rt
