//===- BpeRanks.cpp - byte-pair merges by rank ----------------------------===//
#include "tokenizer/BpeRanks.h"

#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <limits>

namespace ra::tok {

namespace {

/// Standard base64 with padding; false on anything else.
bool decodeBase64(std::string_view in, std::string &out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+')
      return 62;
    if (c == '/')
      return 63;
    return -1;
  };
  out.clear();
  if (in.empty() || in.size() % 4)
    return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=' && last && k >= 2 && (k == 3 || in[i + 3] == '=')) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if ((v[k] = value(c)) < 0 || pad)
        return false;
    }
    uint32_t bits = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += char(bits >> 16);
    if (pad < 2)
      out += char((bits >> 8) & 0xFF);
    if (pad < 1)
      out += char(bits & 0xFF);
  }
  return true;
}

std::string printable(std::string_view bytes) {
  std::string s;
  for (unsigned char c : bytes)
    s += c >= 0x20 && c < 0x7F ? std::string(1, char(c)) : fmt::format("\\x{:02x}", c);
  return s;
}

} // namespace

std::unique_ptr<BpeRanks> BpeRanks::load(const std::string &path, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("cannot read the BPE ranks '{}': {}", path, std::strerror(errno));
    return nullptr;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse(text, path, error);
}

std::unique_ptr<BpeRanks> BpeRanks::parse(std::string_view text, const std::string &path,
                                          std::string &error) {
  auto ranks = std::unique_ptr<BpeRanks>(new BpeRanks);
  std::vector<std::pair<int64_t, std::string>> entries;
  std::vector<int64_t> lineOf;
  size_t line = 0;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view row = text.substr(at, end - at);
    at = end + 1;
    ++line;
    if (row.empty())
      continue;
    auto fail = [&](const std::string &why) {
      error = fmt::format("{}:{}: {}", path, line, why);
      return nullptr;
    };
    size_t space = row.find(' ');
    if (space == std::string_view::npos)
      return fail("expected 'BASE64 RANK'");
    std::string bytes;
    if (!decodeBase64(row.substr(0, space), bytes))
      return fail(fmt::format("'{}' is not base64", printable(row.substr(0, space))));
    std::string_view number = row.substr(space + 1);
    int64_t rank = 0;
    if (number.empty() || number.size() > 9)
      return fail(fmt::format("'{}' is not a rank", printable(number)));
    for (char c : number) {
      if (c < '0' || c > '9')
        return fail(fmt::format("'{}' is not a rank", printable(number)));
      rank = rank * 10 + (c - '0');
    }
    entries.emplace_back(rank, std::move(bytes));
    lineOf.push_back(int64_t(line));
  }
  if (entries.empty()) {
    error = fmt::format("the BPE ranks '{}' hold no tokens", path);
    return nullptr;
  }
  size_t n = entries.size();
  ranks->bytesOfRank.assign(n, std::string());
  std::vector<bool> seen(n, false);
  ranks->rankOfBytes.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto &[rank, bytes] = entries[i];
    if (rank >= int64_t(n) || seen[rank]) {
      error = fmt::format("{}:{}: rank {} {}", path, lineOf[i], rank,
                          rank >= int64_t(n) ? fmt::format("is not below the {} tokens", n)
                                             : std::string("is given twice"));
      return nullptr;
    }
    seen[rank] = true;
    if (!ranks->rankOfBytes.emplace(bytes, int32_t(rank)).second) {
      error = fmt::format("{}:{}: token '{}' is given twice", path, lineOf[i], printable(bytes));
      return nullptr;
    }
    ranks->bytesOfRank[rank] = std::move(bytes);
  }
  for (int b = 0; b < 256; ++b)
    if (ranks->rank(std::string(1, char(b))) < 0) {
      error = fmt::format("the BPE ranks '{}' lack the single byte 0x{:02x}: not every text "
                          "could be encoded",
                          path, b);
      return nullptr;
    }
  return ranks;
}

void BpeRanks::merge(std::string_view piece, std::vector<int32_t> &out) const {
  if (int32_t whole = rank(piece); whole >= 0) {
    out.push_back(whole);
    return;
  }
  // tiktoken's byte_pair_merge: parts[i] is where the i-th current token
  // starts and the rank of joining it with the next one.
  constexpr int32_t kNone = std::numeric_limits<int32_t>::max();
  struct Part {
    size_t start;
    int32_t rank;
  };
  std::vector<Part> parts;
  parts.reserve(piece.size() + 1);
  auto joined = [&](size_t i) {
    if (i + 1 >= parts.size())
      return kNone;
    size_t from = parts[i].start, to = i + 2 < parts.size() ? parts[i + 2].start : piece.size();
    int32_t r = rank(piece.substr(from, to - from));
    return r < 0 ? kNone : r;
  };
  for (size_t i = 0; i < piece.size(); ++i)
    parts.push_back({i, kNone});
  for (size_t i = 0; i + 1 < parts.size(); ++i)
    parts[i].rank = joined(i);
  while (parts.size() > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < parts.size(); ++i)
      if (parts[i].rank < parts[best].rank)
        best = i;
    if (parts[best].rank == kNone)
      break;
    parts.erase(parts.begin() + best + 1);
    parts[best].rank = joined(best);
    if (best > 0)
      parts[best - 1].rank = joined(best - 1);
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    size_t to = i + 1 < parts.size() ? parts[i + 1].start : piece.size();
    out.push_back(rank(piece.substr(parts[i].start, to - parts[i].start)));
  }
}

} // namespace ra::tok
