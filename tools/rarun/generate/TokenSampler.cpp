//===- TokenSampler.cpp - the next token from one position's logits -------===//
#include "generate/TokenSampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rarun {

TokenSampler::TokenSampler(SamplingOptions options, uint64_t seed)
    : options(options), state(seed ? seed : 0x9E3779B97F4A7C15ull) {}

// splitmix64, as abi/Init.h's Rng: small, seedable, the same everywhere.
double TokenSampler::uniform() {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return ((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

std::vector<std::pair<int32_t, double>> TokenSampler::candidates(const float *logits,
                                                                 int64_t vocab) const {
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  auto moreLikely = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  if (options.temperature == 0) {
    int32_t best = *std::min_element(ids.begin(), ids.end(), moreLikely);
    return {{best, 1.0}};
  }
  int64_t keep = options.topK > 0 && options.topK < vocab ? options.topK : vocab;
  std::partial_sort(ids.begin(), ids.begin() + keep, ids.end(), moreLikely);
  // Probabilities over the kept tokens, in double: a 50,257-way softmax of
  // float logits loses the tail otherwise.
  std::vector<std::pair<int32_t, double>> kept(keep);
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) {
    double w = std::exp((double(logits[ids[i]]) - logits[ids[0]]) / options.temperature);
    kept[i] = {ids[i], w};
    total += w;
  }
  for (auto &[id, p] : kept)
    p /= total;
  if (options.topP < 1) {
    // The smallest prefix whose mass reaches p; the most likely token always.
    double mass = 0;
    size_t n = 0;
    while (n < kept.size() && (n == 0 || mass < options.topP))
      mass += kept[n++].second;
    kept.resize(n);
    for (auto &[id, p] : kept)
      p /= mass;
  }
  return kept;
}

int32_t TokenSampler::draw(const float *logits, int64_t vocab) {
  auto kept = candidates(logits, vocab);
  if (kept.size() == 1)
    return kept[0].first;
  double u = uniform();
  for (const auto &[id, p] : kept)
    if ((u -= p) < 0)
      return id;
  return kept.back().first;
}

} // namespace rarun
