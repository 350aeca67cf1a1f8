//===- AccumulatedStep.h - one optimizer step over many micro-batches -*- C++ -*-===//
//
// rarun train --grad-accum K, and data parallelism over N ranks: the global
// batch of a step is N * K micro-batches of the artifact's batch, drawn in
// order from one random stream that every rank advances alike; rank r takes
// micro-batches r K .. r K + K - 1. Each runs @grad; the gradients (and
// losses) are summed in micro-batch order on the rank, then over the ranks
// (MPI_Allreduce), divided by N K, and @apply clips (by the global norm) and
// updates once, the same on every rank.
//
// So N ranks equal one process with --grad-accum N bit for bit at N = 2 (the
// sum of two floats does not depend on their order); for N > 2 MPI's
// reduction order may differ from the sequential sum within float32
// rounding. Both equal one process with an N-times larger batch within
// float32 tolerance (a mean of means against one mean).
//
//===----------------------------------------------------------------------===//
#ifndef RARUN_ACCUMULATEDSTEP_H
#define RARUN_ACCUMULATEDSTEP_H

#include "Common.h"
#include "Communicator.h"

#include <memory>

namespace rarun {

class AccumulatedStep {
public:
  /// Checks that the artifact has @grad and @apply of the same parameters.
  /// "" or an error.
  std::string prepare(ra::rt::Model &model, int accum, Communicator &world);

  struct Result {
    float loss = 0, gradNorm = 0; // the global batch's mean loss; the norm before clipping
    std::vector<float> norms;     // per parameter, @apply's order
    double reduceSeconds = 0;     // in the all-reduce
    int nonFiniteRank = -1;       // the first rank whose own loss was not finite
  };
  /// One step at learning rate `lr`, step number `step`. "" or an error.
  std::string run(ra::rt::Batcher &batcher, int64_t step, float lr, Result &out);

private:
  ra::rt::Model *model = nullptr;
  Communicator *world = nullptr;
  int accum = 1;
  std::unique_ptr<OutputBuffers> gradOuts;
  std::vector<float> sum; // every gradient, flat, then the loss
  std::vector<size_t> offsets;
  std::vector<int32_t> tokens, targets;
  int64_t faultStep = -1; // RARUN_FAULT_NAN_RANK/STEP: a test's injected NaN
};

} // namespace rarun

#endif // RARUN_ACCUMULATEDSTEP_H
