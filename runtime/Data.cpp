//===- Data.cpp - token streams for training ------------------------------===//
#include "runtime/Data.h"

#include "runtime/AtomicFile.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sys/stat.h>
#include <tuple>

namespace ra::rt {

namespace {

constexpr int32_t kLlmcMagic = 20240520;
constexpr const char *kTrainFile = "train.bin", *kValFile = "val.bin";

/// An llm.c token file: 256 int32 (magic, version 1, count), uint16 tokens.
std::string writeTokenFile(const std::string &path, const uint16_t *tokens, size_t count) {
  if (count > UINT32_MAX)
    return "'" + path + "': " + std::to_string(count) +
           " tokens do not fit llm.c's header (at most " + std::to_string(UINT32_MAX) + ")";
  int32_t header[256] = {kLlmcMagic, 1, int32_t(uint32_t(count))};
  return writeFileAtomically(path, "token file", [&](const WriteBytes &write) {
    return write(header, sizeof header) && write(tokens, 2 * count);
  });
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

bool readFile(const std::string &path, std::string &bytes, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read '" + path + "': " + std::strerror(errno);
    return false;
  }
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

std::string listDataFiles(const std::string &path, std::vector<std::string> &files) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return "cannot read '" + path + "': " + std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) {
    files.push_back(path);
    return "";
  }
  DIR *dir = opendir(path.c_str());
  if (!dir)
    return "cannot list '" + path + "': " + std::strerror(errno);
  std::vector<std::string> found;
  while (dirent *e = readdir(dir)) {
    std::string name = e->d_name, full = path + "/" + name;
    struct stat fs;
    // Regular files only; fortune's .dat indexes and .u8 links are not text.
    if (name[0] == '.' || lstat(full.c_str(), &fs) != 0 || !S_ISREG(fs.st_mode) ||
        endsWith(name, ".dat") || endsWith(name, ".u8"))
      continue;
    found.push_back(full);
  }
  closedir(dir);
  std::sort(found.begin(), found.end());
  files.insert(files.end(), found.begin(), found.end());
  return "";
}

bool readTokenizedData(const std::string &dir, TokenizedData &out, std::string &error) {
  std::string path = dir + "/" + kTokenizedDataFile, text;
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return false;
  if (!readFile(path, text, error))
    return true;
  auto fail = [&](const std::string &why) {
    error = "'" + path + "': " + why;
    return true;
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return fail("not a JSON object");
  auto field = [&](const char *key, auto &value, auto check) -> bool {
    auto it = j.find(key);
    if (it == j.end() || !check(*it)) {
      fail(std::string("the field '") + key + "' is missing or of the wrong type");
      return false;
    }
    it->get_to(value);
    return true;
  };
  auto isString = [](const nlohmann::json &v) { return v.is_string(); };
  auto isCount = [](const nlohmann::json &v) {
    return v.is_number_integer() && v.get<int64_t>() >= 0;
  };
  if (!field("tokenizer", out.tokenizer, isString) || !field("vocab", out.vocab, isCount) ||
      !field("train_tokens", out.trainTokens, isCount) ||
      !field("val_tokens", out.valTokens, isCount))
    return true;
  if (out.vocab < 1 || out.vocab > 65536)
    return fail("vocab " + std::to_string(out.vocab) + " does not fit uint16 tokens");
  return true;
}

std::string writeTokenizedData(const std::string &dir, const TokenizedData &meta,
                               const uint16_t *tokens) {
  if (std::string err = writeTokenFile(dir + "/" + kTrainFile, tokens, size_t(meta.trainTokens));
      !err.empty())
    return err;
  if (std::string err =
          writeTokenFile(dir + "/" + kValFile, tokens + meta.trainTokens, size_t(meta.valTokens));
      !err.empty())
    return err;
  nlohmann::ordered_json j = {{"format", "rarun-tokens-1"},
                              {"tokenizer", meta.tokenizer},
                              {"vocab", meta.vocab},
                              {"train_tokens", meta.trainTokens},
                              {"val_tokens", meta.valTokens},
                              {"source_files", meta.sourceFiles},
                              {"source_bytes", meta.sourceBytes}};
  if (!meta.ranksSha256.empty())
    j["ranks_sha256"] = meta.ranksSha256;
  std::string text = j.dump(2) + "\n";
  return writeFileAtomically(
      dir + "/" + kTokenizedDataFile, "data description",
      [&](const WriteBytes &write) { return write(text.data(), text.size()); });
}

std::string loadCorpus(const std::string &path, int64_t vocab, int64_t seq, Corpus &out) {
  std::vector<std::string> files;
  if (std::string err = listDataFiles(path, files); !err.empty())
    return err;
  if (files.empty())
    return "'" + path + "' holds no data files";

  // A directory rarun tokenize wrote: its own train and validation files.
  TokenizedData tokenized;
  std::string error;
  if (readTokenizedData(path, tokenized, error)) {
    if (!error.empty())
      return error;
    if (tokenized.vocab > vocab)
      return "'" + path + "' holds " + tokenized.tokenizer + " tokens, a vocabulary of " +
             std::to_string(tokenized.vocab) + ": the model's vocab is " + std::to_string(vocab) +
             " (compile it with -D vocab=" + std::to_string(tokenized.vocab) + ")";
    std::string train = path + "/" + kTrainFile, val = path + "/" + kValFile;
    if (std::string err = appendFile(train, vocab, out.train); !err.empty())
      return err;
    if (std::string err = appendFile(val, vocab, out.validation); !err.empty())
      return err;
    for (auto [file, count, expected] :
         {std::tuple{&train, out.train.size(), tokenized.trainTokens},
          std::tuple{&val, out.validation.size(), tokenized.valTokens}})
      if (int64_t(count) != expected)
        return "'" + *file + "' holds " + std::to_string(count) + " tokens, " + kTokenizedDataFile +
               " says " + std::to_string(expected);
    if ((int64_t)out.train.size() < seq + 1 || (int64_t)out.validation.size() < seq + 1)
      return "'" + path + "' has " + std::to_string(out.train.size()) + " training and " +
             std::to_string(out.validation.size()) + " validation tokens: too few for windows of " +
             std::to_string(seq + 1);
    out.tokenizer = tokenized.tokenizer;
    out.description = std::to_string(out.train.size() + out.validation.size()) + " " +
                      tokenized.tokenizer + " tokens (" + std::to_string(out.validation.size()) +
                      " for validation)";
    return "";
  }

  std::vector<int32_t> all;
  bool text = false, bin = false;
  for (const std::string &f : files) {
    (endsWith(f, ".bin") ? bin : text) = true;
    if (std::string err = appendFile(f, vocab, all); !err.empty())
      return err;
  }
  out.tokenizer = text && !bin ? "bytes" : "";
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

void Batcher::skip() {
  for (int64_t b = 0; b < batch; ++b)
    rng.next();
}

} // namespace ra::rt
