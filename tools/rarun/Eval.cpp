//===- Eval.cpp - rarun eval ----------------------------------------------===//
#include "Common.h"

#include "runtime/Checkpoint.h"

#include <fmt/format.h>

namespace rarun {

int evalCommand(int argc, char **argv) {
  cxxopts::Options options("rarun eval", "Validation loss of a checkpoint");
  options.add_options()("ckpt", "Checkpoint (safetensors)", cxxopts::value<std::string>())(
      "data", "Corpus (its validation split is used)",
      cxxopts::value<std::string>()->default_value("/usr/share/games/fortunes"));
  ra::tools::NumericOptions numbers(options);
  numbers.integer("batches", "Validation batches", 8, 1);
  auto parsed = parseArtifactCommand(options, argc, argv, &numbers);
  if (!parsed)
    return 0;
  const cxxopts::ParseResult &args = *parsed;
  if (!args.count("artifact") || !args.count("ckpt"))
    return fail("rarun eval needs an artifact and --ckpt CKPT");
  CheckpointEvaluation e;
  int batches = int(args["batches"].as<int64_t>());
  if (int status = evaluateCheckpoint(args["artifact"].as<std::string>(), deviceOf(args),
                                      args["ckpt"].as<std::string>(),
                                      args["data"].as<std::string>(), batches, e))
    return status;
  fmt::print("validation loss {:.4f} (step {}, {} batches of {} x {})\n", e.loss, e.meta.step,
             batches, e.shape.batch, e.shape.seq);
  return 0;
}

} // namespace rarun
