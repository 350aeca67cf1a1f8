//===- Eval.cpp - rarun eval ----------------------------------------------===//
#include "Common.h"

#include "runtime/Checkpoint.h"

#include <fmt/format.h>

namespace rarun {

int evalCommand(int argc, char **argv) {
  cxxopts::Options options("rarun eval", "Validation loss of a checkpoint");
  options.positional_help("ART");
  options.add_options()("ckpt", "Checkpoint (safetensors)", cxxopts::value<std::string>())(
      "data", "Corpus (its validation split is used)",
      cxxopts::value<std::string>()->default_value("/usr/share/games/fortunes"))(
      "batches", "Validation batches", cxxopts::value<int>()->default_value("8"))(
      "device", "cpu, or cuda-emu (the CUDA kernels on the SIMT emulator)",
      cxxopts::value<std::string>()->default_value("cpu"))("h,help", "Show this help")(
      "artifact", "ART", cxxopts::value<std::string>());
  options.parse_positional({"artifact"});
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    fmt::print("{}\n", options.help());
    return 0;
  }
  if (!args.count("artifact") || !args.count("ckpt"))
    return fail("rarun eval needs an artifact and --ckpt CKPT");
  auto model = loadModel(args["artifact"].as<std::string>(), args["device"].as<std::string>());
  if (!model)
    return 1;
  BatchShape shape;
  if (!batchShape(*model, shape))
    return 1;
  ra::rt::CheckpointMeta meta;
  if (std::string err = readCheckpoint(args["ckpt"].as<std::string>(), *model, meta); !err.empty())
    return fail(err);
  ra::rt::Corpus corpus;
  if (std::string err = loadCorpus(args["data"].as<std::string>(), shape.vocab, shape.seq, corpus);
      !err.empty())
    return fail(err);
  double loss = 0;
  if (std::string err = validationLoss(*model, corpus, shape, args["batches"].as<int>(), loss);
      !err.empty())
    return fail(err);
  fmt::print("validation loss {:.4f} (step {}, {} batches of {} x {})\n", loss, meta.step,
             args["batches"].as<int>(), shape.batch, shape.seq);
  return 0;
}

} // namespace rarun
