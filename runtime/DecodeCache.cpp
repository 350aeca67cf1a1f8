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

std::string shapeText(const std::vector<int64_t> &s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

} // namespace

std::string CachedDecoder::roundCacheTo(const std::string &name) {
  using ra_dtype::Dtype;
  Dtype t;
  if (!ra_dtype::parse(name.c_str(), t) || t == Dtype::I32)
    return "--cache-dtype " + name + ": f32, f16 or bf16";
  if (stored != Dtype::F32 && t != stored)
    return fmt::format("--cache-dtype {}: this artifact keeps its caches in {} (racc compile "
                       "--cache-dtype)",
                       name, ra_dtype::name(stored));
  rounding = t;
  return "";
}

std::string readCacheLayout(const Model &model, CacheLayout &out) {
  out = CacheLayout();
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
  auto paging = decoding->find("paging");
  if (paging == decoding->end() || !paging->is_object())
    return "manifest.json: decoding.paging must be an object (an older racc compiled this "
           "artifact: compile it again)";
  for (const char *key : {"block_positions", "blocks"})
    if (!paging->contains(key) || !(*paging)[key].is_number_integer() || (*paging)[key] < 1)
      return fmt::format("manifest.json: decoding.paging.{} must be an integer >= 1", key);
  size_t n = caches->size();
  if (decode->inputs.size() != 3 + n || decode->outputs.size() != 1 + n ||
      prefill->outputs.size() != 1 + n || prefill->inputs.size() != 2)
    return fmt::format("manifest.json: @prefill and @decode do not take and return the {} caches "
                       "decoding.caches lists",
                       n);
  const std::vector<int64_t> &tokens = prefill->inputs[0].shape;
  if (tokens.size() != 2)
    return "manifest.json: @prefill's tokens must be [batch, seq]";
  int64_t batch = tokens[0], context = tokens[1];
  out.blockPositions = (*paging)["block_positions"];
  out.blocks = (*paging)["blocks"];
  out.blocksPerSequence = (context + out.blockPositions - 1) / out.blockPositions;
  const TensorInfo &table = decode->inputs[2];
  if (table.name != "block_table" ||
      table.shape != std::vector<int64_t>{batch, out.blocksPerSequence})
    return fmt::format("manifest.json: @decode's third input must be block_table [{}, {}] (blocks "
                       "of {} positions of a context of {}), got {} {}",
                       batch, out.blocksPerSequence, out.blockPositions, context, table.name,
                       shapeText(table.shape));
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
    const TensorInfo &input = decode->inputs[3 + i];
    s.shape = input.shape;
    if (input.name != s.name || decode->outputs[1 + i].name != s.name + ".new" ||
        prefill->outputs[1 + i].name != s.name)
      return fmt::format("{}: @prefill and @decode name it otherwise", at);
    bool paged = s.kind == CacheSpec::Kind::PerToken;
    int64_t first = paged ? out.blocks : batch, held = paged ? out.blockPositions : s.slots;
    if (s.axis < 1 || s.axis >= int64_t(s.shape.size()) || s.shape[0] != first ||
        s.shape[s.axis] != held || s.slots < 1 || (paged && s.slots != context) ||
        (s.kind == CacheSpec::Kind::RunningSum && s.slots != 1) ||
        s.elements * held * first != input.elements())
      return paged
                 ? fmt::format("{}: axis {}, a pool of {} blocks of {} positions of {} values "
                               "does not describe @decode's {} {}",
                               at, s.axis, first, held, s.elements, s.name, shapeText(s.shape))
                 : fmt::format("{}: axis {}, {} slots of {} values do not describe @decode's {} {}",
                               at, s.axis, s.slots, s.elements, s.name, shapeText(s.shape));
    // @prefill's and @decode's rows: the sequences' [batch, .., T or 1, ..].
    std::vector<int64_t> rows = s.shape;
    rows[0] = batch;
    if (prefill->outputs[1 + i].shape != withAxis(rows, s.axis, context) ||
        decode->outputs[1 + i].shape != withAxis(rows, s.axis, 1))
      return fmt::format("{}: @prefill's or @decode's {} is not {} at {} and 1 positions", at,
                         s.name, shapeText(rows), context);
    out.caches.push_back(std::move(s));
  }
  return "";
}

std::unique_ptr<CachedDecoder> CachedDecoder::create(Model &model, std::string &error) {
  std::unique_ptr<CachedDecoder> d(new CachedDecoder(model));
  if (!(error = readCacheLayout(model, d->layout)).empty())
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
  for (size_t c = 0; c < d->layout.caches.size(); ++c) {
    const TensorInfo &input = decode.inputs[3 + c];
    const CacheSpec &s = d->layout.caches[c];
    using ra_dtype::Dtype;
    Dtype t = Dtype::F32; // the manifest's reader checked the name
    ra_dtype::parse(input.dtype.c_str(), t);
    if (t == Dtype::I32 || (s.kind == CacheSpec::Kind::RunningSum && t != Dtype::F32) ||
        (t != Dtype::F32 && d->stored != Dtype::F32 && t != d->stored)) {
      error = fmt::format("manifest.json: @decode's {} is {}: running sums are f32, keys, values "
                          "and queries one float type",
                          s.name, input.dtype);
      return nullptr;
    }
    if (t != Dtype::F32)
      d->stored = d->rounding = t;
    d->types.push_back(t);
    d->buffers.emplace_back(input.bytes(), 0);
  }
  d->lengths.assign(d->batchSize, 0);
  d->held.assign(d->batchSize, {});
  // A stack: block N-1 is handed out first.
  for (int32_t blk = 0; blk < int32_t(d->layout.blocks); ++blk)
    d->freeBlocks.push_back(blk);
  for (const TensorInfo &t : prefill.outputs)
    d->prefillOut.emplace_back(t.elements());
  for (const TensorInfo &t : decode.outputs)
    d->decodeOut.emplace_back(t.elements());
  // On a device @decode's caches stay in its memory between calls: each
  // call uploads the rows stored since the last, not every cache.
  for (size_t c = 0; c < d->buffers.size(); ++c)
    model.keepInputOnDevice("decode", kFirstCacheInput + c);
  d->wholeCache.assign(d->buffers.size(), true); // the device copies start uninitialized
  return d;
}

std::string CachedDecoder::uploadChanges() {
  std::vector<Model::InputPatch> patches;
  for (size_t c = 0; c < buffers.size(); ++c)
    if (wholeCache[c])
      patches.push_back({kFirstCacheInput + c, 0, buffers[c].data(), int64_t(buffers[c].size())});
  for (const Model::InputPatch &p : changedRows)
    if (!wholeCache[p.input - kFirstCacheInput])
      patches.push_back(p);
  wholeCache.assign(buffers.size(), false);
  changedRows.clear();
  return model.patchKeptInputs("decode", patches);
}

bool CachedDecoder::reserve(size_t r, int64_t positions) {
  int64_t more = blocksFor(positions) - int64_t(held[r].size());
  if (more > int64_t(freeBlocks.size()))
    return false;
  for (; more > 0; --more) {
    held[r].push_back(freeBlocks.back());
    freeBlocks.pop_back();
  }
  return true;
}

void CachedDecoder::releaseAll() {
  for (int64_t r = 0; r < batchSize; ++r)
    release(r);
}

void CachedDecoder::release(size_t r) {
  // Returned in reverse, so that the next sequence takes them in order.
  freeBlocks.insert(freeBlocks.end(), held[r].rbegin(), held[r].rend());
  held[r].clear();
  lengths[r] = 0;
}

std::string CachedDecoder::poolFull(int64_t needed) const {
  return fmt::format("the decoding caches' pool of {} blocks of {} positions has {} free, {} "
                     "needed: decode fewer or shorter sequences, or compile with a larger "
                     "--cache-blocks",
                     layout.blocks, layout.blockPositions, freeBlocks.size(), needed);
}

void CachedDecoder::storeRow(size_t c, int64_t b, const float *from, int64_t n, int64_t row,
                             int64_t slot, bool add) {
  const CacheSpec &s = layout.caches[c];
  // [batch * outer, positions, inner] around the axis; a pool's blocks
  // [blocks * outer, block positions, inner].
  int64_t outer = product(s.shape, 1, s.axis), inner = product(s.shape, s.axis + 1, s.shape.size());
  // Element offsets: the sequence's (or its block's) first row at `slot`.
  int64_t base;
  if (s.kind == CacheSpec::Kind::PerToken) {
    int64_t p = layout.blockPositions;
    base = (int64_t(held[b][slot / p]) * outer * p + slot % p) * inner;
  } else {
    base = (b * outer * s.slots + slot) * inner;
  }
  int64_t stride = s.kind == CacheSpec::Kind::PerToken ? layout.blockPositions : s.slots;
  void *to = buffers[c].data();
  ra_dtype::Dtype type = types[c];
  for (int64_t o = 0; o < outer; ++o) {
    const float *src = from + ((b * outer + o) * n + row) * inner;
    int64_t dst = base + o * stride * inner;
    if (add) { // a running sum: float32 whatever the cache's precision
      float *sum = static_cast<float *>(to) + dst;
      for (int64_t i = 0; i < inner; ++i)
        sum[i] += src[i];
    } else if (type == ra_dtype::Dtype::F32 && rounding == ra_dtype::Dtype::F32) {
      std::memcpy(static_cast<float *>(to) + dst, src, inner * sizeof(float));
    } else {
      for (int64_t i = 0; i < inner; ++i)
        ra_dtype::store(to, dst + i, ra_dtype::roundTo(src[i], rounding), type);
    }
    if (!wholeCache[c]) {
      int64_t bytes = ra_dtype::bytes(type);
      changedRows.push_back({kFirstCacheInput + c, dst * bytes,
                             static_cast<unsigned char *>(to) + dst * bytes, inner * bytes});
    }
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
  releaseAll();
  int64_t needed = 0;
  for (const auto &prompt : prompts)
    needed += blocksFor(int64_t(prompt.size()));
  if (needed > int64_t(freeBlocks.size()))
    return poolFull(needed);
  for (size_t r = 0; r < prompts.size(); ++r)
    reserve(r, int64_t(prompts[r].size()));
  // Each sequence's logits at its last prompt position: row r T + n - 1.
  rows.assign(batchSize, 0);
  for (size_t r = 0; r < prompts.size(); ++r)
    rows[r] = int32_t(r * contextSize + prompts[r].size() - 1);
  std::vector<void *> outs;
  for (auto &o : prefillOut)
    outs.push_back(o.data());
  if (std::string err = model.call("prefill", {ids.data(), rows.data()}, outs); !err.empty()) {
    releaseAll();
    return err;
  }
  // Every cache changes: the next @decode uploads them whole.
  wholeCache.assign(buffers.size(), true);
  changedRows.clear();
  // Rings and sums start empty; a pool's rows are written before they are read.
  for (size_t c = 0; c < layout.caches.size(); ++c)
    if (layout.caches[c].kind != CacheSpec::Kind::PerToken)
      std::fill(buffers[c].begin(), buffers[c].end(), 0); // +0.0 in every type
  logits.assign(prompts.size(), nullptr);
  for (size_t r = 0; r < prompts.size(); ++r) {
    int64_t n = int64_t(prompts[r].size());
    lengths[r] = int32_t(n);
    logits[r] = prefillOut[0].data() + r * vocabSize;
    for (size_t c = 0; c < layout.caches.size(); ++c) {
      const CacheSpec &s = layout.caches[c];
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
  int64_t needed = 0;
  for (size_t r = 0; r < tokens.size(); ++r) {
    if (!live[r])
      continue;
    if (lengths[r] < 1 || lengths[r] >= contextSize)
      return fmt::format("sequence {} holds {} tokens: no room for another in the context of {}", r,
                         lengths[r], contextSize);
    ids[r] = tokens[r];
    positions[r] = lengths[r];
    if (blocksFor(lengths[r] + 1) > int64_t(held[r].size()))
      ++needed;
  }
  if (needed > int64_t(freeBlocks.size()))
    return poolFull(needed);
  // The block each new row goes to; then the table of every sequence's blocks.
  for (size_t r = 0; r < tokens.size(); ++r)
    if (live[r])
      reserve(r, lengths[r] + 1);
  int64_t m = layout.blocksPerSequence;
  table.assign(batchSize * m, 0);
  for (int64_t r = 0; r < batchSize; ++r)
    std::copy(held[r].begin(), held[r].end(), table.begin() + r * m);
  if (std::string err = uploadChanges(); !err.empty())
    return err;
  std::vector<const void *> ins{ids.data(), positions.data(), table.data()};
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
    for (size_t c = 0; c < layout.caches.size(); ++c) {
      const CacheSpec &s = layout.caches[c];
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

std::string CachedDecoder::startWithRandomCache(const std::vector<int32_t> &starts, uint64_t seed) {
  ra::Rng rng(ra::hashName("decode-cache.random", seed));
  for (size_t c = 0; c < buffers.size(); ++c)
    for (int64_t i = 0, n = int64_t(buffers[c].size()) / ra_dtype::bytes(types[c]); i < n; ++i)
      ra_dtype::store(buffers[c].data(), i, float(rng.normal()), types[c]);
  wholeCache.assign(buffers.size(), true);
  changedRows.clear();
  releaseAll();
  // Room for the position after the last too: what the next decode takes.
  size_t n = std::min(starts.size(), size_t(batchSize));
  std::vector<int64_t> room(n);
  int64_t needed = 0;
  for (size_t r = 0; r < n; ++r) {
    room[r] = std::min<int64_t>(std::clamp<int64_t>(starts[r], 0, contextSize) + 1, contextSize);
    needed += blocksFor(room[r]);
  }
  if (needed > int64_t(freeBlocks.size()))
    return poolFull(needed);
  for (size_t r = 0; r < n; ++r) {
    lengths[r] = int32_t(std::clamp<int64_t>(starts[r], 0, contextSize));
    reserve(r, room[r]);
  }
  return "";
}

// Measured from the buffers: what is allocated, not what the manifest says.
int64_t CachedDecoder::elementsPerToken() const {
  int64_t n = 0;
  for (size_t c = 0; c < layout.caches.size(); ++c)
    if (layout.caches[c].kind == CacheSpec::Kind::PerToken)
      n += int64_t(buffers[c].size()) / ra_dtype::bytes(types[c]) /
           (layout.blocks * layout.blockPositions);
  return n;
}

int64_t CachedDecoder::elementsPerSequence() const {
  int64_t n = 0;
  for (size_t c = 0; c < layout.caches.size(); ++c)
    if (layout.caches[c].kind != CacheSpec::Kind::PerToken)
      n += int64_t(buffers[c].size()) / ra_dtype::bytes(types[c]) / batchSize;
  return n;
}

int64_t CachedDecoder::bytesPerToken() const {
  int64_t bytes = 0;
  for (size_t c = 0; c < layout.caches.size(); ++c)
    if (layout.caches[c].kind == CacheSpec::Kind::PerToken)
      bytes += int64_t(buffers[c].size()) / (layout.blocks * layout.blockPositions);
  return bytes;
}

int64_t CachedDecoder::bytesPerSequence() const {
  int64_t bytes = 0;
  for (size_t c = 0; c < layout.caches.size(); ++c)
    if (layout.caches[c].kind != CacheSpec::Kind::PerToken)
      bytes += int64_t(buffers[c].size()) / batchSize;
  return bytes;
}

} // namespace ra::rt
