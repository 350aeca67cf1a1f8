//===- AccumulatedStep.cpp - one optimizer step over many micro-batches ---===//
#include "AccumulatedStep.h"

#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <limits>

namespace rarun {

std::string AccumulatedStep::prepare(ra::rt::Model &m, int k, Communicator &w) {
  model = &m;
  world = &w;
  accum = k;
  const ra::rt::EntryInfo *grad = m.entry("grad"), *apply = m.entry("apply");
  if (!grad || !apply)
    return "the artifact has no @grad and @apply entry points, which --grad-accum and several "
           "ranks need (recompile it with this racc)";
  if (grad->outputs.size() != apply->inputs.size() - 1)
    return "the artifact's @grad and @apply disagree on the parameters";
  size_t total = 0;
  for (size_t i = 1; i < grad->outputs.size(); ++i) {
    if (grad->outputs[i].elements() != apply->inputs[i - 1].elements())
      return fmt::format("the artifact's @grad output {} and @apply input {} differ in size",
                         grad->outputs[i].name, apply->inputs[i - 1].name);
    offsets.push_back(total);
    total += grad->outputs[i].elements();
  }
  sum.assign(total + 1, 0);
  gradOuts = std::make_unique<OutputBuffers>(*grad);
  if (const char *r = std::getenv("RARUN_FAULT_NAN_RANK"); r && std::atoi(r) == w.rank())
    if (const char *s = std::getenv("RARUN_FAULT_NAN_STEP"))
      faultStep = std::atoll(s);
  return "";
}

std::string AccumulatedStep::run(ra::rt::Batcher &batcher, int64_t step, float lr, Result &out) {
  std::fill(sum.begin(), sum.end(), 0.0f);
  int ranks = world->size(), rank = world->rank();
  for (int micro = 0; micro < ranks * accum; ++micro) {
    if (micro / accum != rank) {
      batcher.skip();
      continue;
    }
    batcher.next(tokens, targets);
    if (std::string err = model->call("grad", {tokens.data(), targets.data()}, gradOuts->ptrs);
        !err.empty())
      return err;
    for (size_t i = 0; i < offsets.size(); ++i) {
      const std::vector<float> &g = gradOuts->data[i + 1];
      float *into = sum.data() + offsets[i];
      for (size_t j = 0; j < g.size(); ++j)
        into[j] += g[j];
    }
    sum.back() += gradOuts->data[0][0];
  }
  if (step == faultStep)
    sum.back() = sum[0] = std::numeric_limits<float>::quiet_NaN();
  out.nonFiniteRank = world->firstRankWhere(!std::isfinite(sum.back()));
  world->allreduceSum(sum.data(), sum.size());
  out.reduceSeconds = world->takeReduceSeconds();
  float scale = 1.0f / float(ranks * accum);
  for (float &x : sum)
    x *= scale;
  out.loss = sum.back();

  std::vector<const void *> inputs;
  for (size_t off : offsets)
    inputs.push_back(sum.data() + off);
  float stepValue = float(step);
  inputs.push_back(&lr);
  inputs.push_back(&stepValue);
  out.norms.resize(offsets.size());
  return model->call("apply", inputs, {&out.gradNorm, out.norms.data()});
}

} // namespace rarun
