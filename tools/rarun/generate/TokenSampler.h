//===- TokenSampler.h - the next token from one position's logits -*- C++ -*-===//
//
// Greedy at temperature 0; otherwise softmax(logits / T) restricted to the
// top k tokens, then to the smallest set whose probability reaches top p
// (nucleus sampling, Holtzman et al. 2019), in that order, as Hugging Face's
// generate applies them. One seeded stream per sequence, so a sequence's
// draws do not depend on which other sequences share its batch.
//
//===----------------------------------------------------------------------===//
#ifndef RARUN_GENERATE_TOKENSAMPLER_H
#define RARUN_GENERATE_TOKENSAMPLER_H

#include <cstdint>
#include <vector>

namespace rarun {

struct SamplingOptions {
  double temperature = 0.8; // 0: the most likely token
  int64_t topK = 0;         // 0: every token
  double topP = 1.0;        // 1: no nucleus cut
};

class TokenSampler {
public:
  TokenSampler(SamplingOptions options, uint64_t seed);
  /// The next token from `vocab` logits. Ties under greedy go to the lowest id.
  int32_t draw(const float *logits, int64_t vocab);
  /// The tokens draw() can return from these logits, most likely first (the
  /// candidate set after top k and top p), with their renormalized
  /// probabilities; for tests and for explaining a draw.
  std::vector<std::pair<int32_t, double>> candidates(const float *logits, int64_t vocab) const;

private:
  SamplingOptions options;
  uint64_t state;
  double uniform();
};

} // namespace rarun

#endif // RARUN_GENERATE_TOKENSAMPLER_H
