//===- DecodeCache.cpp - the cached decoder over @prefill and @decode -----===//
#include "runtime/DecodeCache.h"

#include "abi/Init.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ra::rt {

namespace {

int64_t product(const std::vector<int64_t> &shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i)
    n *= shape[i];
  return n;
}

std::vector<int64_t> withAxis(std::vector<int64_t> shape, int64_t axis, int64_t n) {
  shape[axis] = n;
  return shape;
}

/// x rounded to the nearest bf16 (ties to even), as a float.
float roundBf16(float x) {
  if (std::isnan(x))
    return x;
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  bits += 0x7fff + ((bits >> 16) & 1);
  bits &= 0xffff0000u;
  std::memcpy(&x, &bits, 4);
  return x;
}

/// x rounded to the nearest IEEE half (ties to even; past its range,
/// infinity), as a float.
float roundF16(float x) { return float(static_cast<_Float16>(x)); }

std::string shapeText(const std::vector<int64_t> &s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

} // namespace

bool parseCacheDtype(const std::string &name, CacheDtype &out) {
  if (name == "f32")
    out = CacheDtype::F32;
  else if (name == "f16")
    out = CacheDtype::F16;
  else if (name == "bf16")
    out = CacheDtype::BF16;
  else
    return false;
  return true;
}

std::string readCacheSpecs(const Model &model, std::vector<CacheSpec> &out) {
  out.clear();
  const nlohmann::json &m = model.manifest();
  auto decoding = m.find("decoding");
  if (decoding == m.end() || !decoding->is_object())
    return "the artifact's manifest has no 'decoding' section (an older racc compiled it): "
           "compile it again";
  if (auto why = decoding->find("refused"); why != decoding->end())
    return "racc derived no cached decoding for this model: " +
           (why->is_string() ? why->get<std::string>() : std::string("(no reason recorded)"));
  const EntryInfo *prefill = model.entry("prefill"), *decode = model.entry("decode");
  if (!prefill || !decode)
    return "manifest.json: 'decoding' describes caches but the artifact lacks @prefill or @decode";
  auto caches = decoding->find("caches");
  if (caches == decoding->end() || !caches->is_array())
    return "manifest.json: decoding.caches must be an array";
  size_t n = caches->size();
  if (decode->inputs.size() != 2 + n || decode->outputs.size() != 1 + n ||
      prefill->outputs.size() != 1 + n || prefill->inputs.size() != 2)
    return fmt::format("manifest.json: @prefill and @decode do not take and return the {} caches "
                       "decoding.caches lists",
                       n);
  const std::vector<int64_t> &tokens = prefill->inputs[0].shape;
  if (tokens.size() != 2)
    return "manifest.json: @prefill's tokens must be [batch, seq]";
  int64_t batch = tokens[0], context = tokens[1];
  for (size_t i = 0; i < n; ++i) {
    const nlohmann::json &c = (*caches)[i];
    std::string at = fmt::format("manifest.json: decoding.caches[{}]", i);
    if (!c.is_object())
      return at + " must be an object";
    CacheSpec s;
    for (const char *key : {"name", "kind", "role", "origin"})
      if (!c.contains(key) || !c[key].is_string())
        return fmt::format("{}.{} must be a string", at, key);
    for (const char *key : {"axis", "slots", "elements"})
      if (!c.contains(key) || !c[key].is_number_integer())
        return fmt::format("{}.{} must be an integer", at, key);
    s.name = c["name"];
    s.role = c["role"];
    s.origin = c["origin"];
    std::string kind = c["kind"];
    if (kind == "per token")
      s.kind = CacheSpec::Kind::PerToken;
    else if (kind == "query ring")
      s.kind = CacheSpec::Kind::QueryRing;
    else if (kind == "running sum")
      s.kind = CacheSpec::Kind::RunningSum;
    else
      return fmt::format("{}.kind '{}' is none of per token, query ring, running sum", at, kind);
    s.axis = c["axis"];
    s.slots = c["slots"];
    s.elements = c["elements"];
    const TensorInfo &input = decode->inputs[2 + i];
    s.shape = input.shape;
    if (input.name != s.name || decode->outputs[1 + i].name != s.name + ".new" ||
        prefill->outputs[1 + i].name != s.name)
      return fmt::format("{}: @prefill and @decode name it otherwise", at);
    if (s.axis < 1 || s.axis >= int64_t(s.shape.size()) || s.shape[0] != batch ||
        s.shape[s.axis] != s.slots || s.slots < 1 ||
        (s.kind == CacheSpec::Kind::PerToken && s.slots != context) ||
        (s.kind == CacheSpec::Kind::RunningSum && s.slots != 1) ||
        s.elements * s.slots * batch != input.elements())
      return fmt::format("{}: axis {}, {} slots of {} values do not describe @decode's {} {}", at,
                         s.axis, s.slots, s.elements, s.name, shapeText(s.shape));
    if (prefill->outputs[1 + i].shape != withAxis(s.shape, s.axis, context) ||
        decode->outputs[1 + i].shape != withAxis(s.shape, s.axis, 1))
      return fmt::format("{}: @prefill's or @decode's {} is not {} at {} and 1 positions", at,
                         s.name, shapeText(s.shape), context);
    out.push_back(std::move(s));
  }
  return "";
}

std::unique_ptr<CachedDecoder> CachedDecoder::create(Model &model, std::string &error) {
  std::unique_ptr<CachedDecoder> d(new CachedDecoder(model));
  if (!(error = readCacheSpecs(model, d->specs)).empty())
    return nullptr;
  const EntryInfo &prefill = *model.entry("prefill"), &decode = *model.entry("decode");
  d->batchSize = prefill.inputs[0].shape[0];
  d->contextSize = prefill.inputs[0].shape[1];
  const std::vector<int64_t> &logits = decode.outputs[0].shape;
  if (logits.size() != 3 || logits[0] != d->batchSize || logits[1] != 1 ||
      prefill.outputs[0].shape != logits ||
      prefill.inputs[1].shape != std::vector<int64_t>{d->batchSize, 1} ||
      decode.inputs[0].shape != std::vector<int64_t>{d->batchSize, 1} ||
      decode.inputs[1].shape != std::vector<int64_t>{d->batchSize}) {
    error = "manifest.json: @prefill and @decode do not take tokens [batch, seq] (and rows "
            "[batch, 1]) and [batch, 1] and return logits [batch, 1, vocab]";
    return nullptr;
  }
  d->vocabSize = logits[2];
  for (const CacheSpec &s : d->specs)
    d->buffers.emplace_back(product(s.shape, 0, s.shape.size()), 0.f);
  d->lengths.assign(d->batchSize, 0);
  for (const TensorInfo &t : prefill.outputs)
    d->prefillOut.emplace_back(t.elements());
  for (const TensorInfo &t : decode.outputs)
    d->decodeOut.emplace_back(t.elements());
  return d;
}

void CachedDecoder::storeRow(size_t c, int64_t b, const float *from, int64_t n, int64_t row,
                             int64_t slot, bool add) {
  const CacheSpec &s = specs[c];
  // [batch * outer, positions, inner] around the axis.
  int64_t outer = product(s.shape, 1, s.axis), inner = product(s.shape, s.axis + 1, s.shape.size());
  float *to = buffers[c].data();
  for (int64_t o = b * outer; o < (b + 1) * outer; ++o) {
    const float *src = from + (o * n + row) * inner;
    float *dst = to + (o * s.slots + slot) * inner;
    if (add) // a running sum: float32 whatever the cache's precision
      for (int64_t i = 0; i < inner; ++i)
        dst[i] += src[i];
    else if (cacheDtype == CacheDtype::F16)
      for (int64_t i = 0; i < inner; ++i)
        dst[i] = roundF16(src[i]);
    else if (cacheDtype == CacheDtype::BF16)
      for (int64_t i = 0; i < inner; ++i)
        dst[i] = roundBf16(src[i]);
    else
      std::memcpy(dst, src, inner * sizeof(float));
  }
}

std::string CachedDecoder::prefill(const std::vector<std::vector<int32_t>> &prompts,
                                   std::vector<const float *> &logits) {
  if (int64_t(prompts.size()) > batchSize)
    return fmt::format("{} sequences: at most the compiled batch, {}", prompts.size(), batchSize);
  ids.assign(batchSize * contextSize, 0);
  for (size_t r = 0; r < prompts.size(); ++r) {
    if (prompts[r].empty() || int64_t(prompts[r].size()) > contextSize)
      return fmt::format("sequence {} has {} tokens: from 1 to the context, {}", r,
                         prompts[r].size(), contextSize);
    std::copy(prompts[r].begin(), prompts[r].end(), ids.begin() + r * contextSize);
  }
  // Each sequence's logits at its last prompt position: row r T + n - 1.
  rows.assign(batchSize, 0);
  for (size_t r = 0; r < prompts.size(); ++r)
    rows[r] = int32_t(r * contextSize + prompts[r].size() - 1);
  std::vector<void *> outs;
  for (auto &o : prefillOut)
    outs.push_back(o.data());
  if (std::string err = model.call("prefill", {ids.data(), rows.data()}, outs); !err.empty())
    return err;
  lengths.assign(batchSize, 0);
  for (auto &buffer : buffers)
    std::fill(buffer.begin(), buffer.end(), 0.f);
  logits.assign(prompts.size(), nullptr);
  for (size_t r = 0; r < prompts.size(); ++r) {
    int64_t n = int64_t(prompts[r].size());
    lengths[r] = int32_t(n);
    logits[r] = prefillOut[0].data() + r * vocabSize;
    for (size_t c = 0; c < specs.size(); ++c) {
      const CacheSpec &s = specs[c];
      const float *rows = prefillOut[1 + c].data();
      switch (s.kind) {
      case CacheSpec::Kind::PerToken:
        for (int64_t j = 0; j < n; ++j)
          storeRow(c, r, rows, contextSize, j, j, false);
        break;
      case CacheSpec::Kind::QueryRing:
        for (int64_t j = std::max<int64_t>(0, n - s.slots); j < n; ++j)
          storeRow(c, r, rows, contextSize, j, j % s.slots, false);
        break;
      case CacheSpec::Kind::RunningSum:
        for (int64_t j = 0; j < n; ++j)
          storeRow(c, r, rows, contextSize, j, 0, true);
        break;
      }
    }
  }
  return "";
}

std::string CachedDecoder::decode(const std::vector<int32_t> &tokens, const std::vector<bool> &live,
                                  std::vector<const float *> &logits) {
  if (tokens.size() > size_t(batchSize) || live.size() != tokens.size())
    return "decode: one token and one live flag per sequence, at most the batch";
  ids.assign(batchSize, 0);
  positions.assign(batchSize, 0);
  for (size_t r = 0; r < tokens.size(); ++r) {
    if (!live[r])
      continue;
    if (lengths[r] < 1 || lengths[r] >= contextSize)
      return fmt::format("sequence {} holds {} tokens: no room for another in the context of {}", r,
                         lengths[r], contextSize);
    ids[r] = tokens[r];
    positions[r] = lengths[r];
  }
  std::vector<const void *> ins{ids.data(), positions.data()};
  for (auto &buffer : buffers)
    ins.push_back(buffer.data());
  std::vector<void *> outs;
  for (auto &o : decodeOut)
    outs.push_back(o.data());
  if (std::string err = model.call("decode", ins, outs); !err.empty())
    return err;
  logits.assign(tokens.size(), nullptr);
  for (size_t r = 0; r < tokens.size(); ++r) {
    if (!live[r])
      continue;
    int64_t p = lengths[r];
    logits[r] = decodeOut[0].data() + r * vocabSize;
    for (size_t c = 0; c < specs.size(); ++c) {
      const CacheSpec &s = specs[c];
      const float *row = decodeOut[1 + c].data();
      if (s.kind == CacheSpec::Kind::RunningSum)
        storeRow(c, r, row, 1, 0, 0, true);
      else
        storeRow(c, r, row, 1, 0, p % s.slots, false);
    }
    ++lengths[r];
  }
  return "";
}

void CachedDecoder::startWithRandomCache(const std::vector<int32_t> &starts, uint64_t seed) {
  ra::Rng rng(ra::hashName("decode-cache.random", seed));
  for (auto &buffer : buffers)
    for (float &x : buffer)
      x = float(rng.normal());
  lengths.assign(batchSize, 0);
  for (size_t r = 0; r < starts.size() && r < size_t(batchSize); ++r)
    lengths[r] = std::clamp<int32_t>(starts[r], 0, int32_t(contextSize));
}

int64_t CachedDecoder::bytesPerToken() const {
  int64_t bytes = 0;
  for (size_t c = 0; c < specs.size(); ++c)
    if (specs[c].kind == CacheSpec::Kind::PerToken)
      bytes += int64_t(buffers[c].size()) / (batchSize * contextSize) * 4;
  return bytes;
}

int64_t CachedDecoder::bytesPerSequence() const {
  int64_t bytes = 0;
  for (size_t c = 0; c < specs.size(); ++c)
    if (specs[c].kind != CacheSpec::Kind::PerToken)
      bytes += int64_t(buffers[c].size()) / batchSize * 4;
  return bytes;
}

} // namespace ra::rt
