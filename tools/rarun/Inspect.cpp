//===- Inspect.cpp - rarun inspect ----------------------------------------===//
//
// The parameter table of a checkpoint and every learned scalar (the alphas
// of the mechanisms), grouped per layer; optimizer moments are summarized.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "runtime/Checkpoint.h"

#include <cmath>
#include <fmt/format.h>

namespace rarun {

int inspectCommand(int argc, char **argv) {
  cxxopts::Options options("rarun inspect", "Parameters and learned scalars of a checkpoint");
  options.positional_help("CKPT");
  options.add_options()("h,help", "Show this help")(
      "artifact",
      "The artifact the checkpoint belongs to: adds the model's reports (gate "
      "means, learned widths) on validation batches",
      cxxopts::value<std::string>())(
      "data", "Corpus for the reports",
      cxxopts::value<std::string>()->default_value("/usr/share/games/fortunes"))(
      "ckpt", "CKPT", cxxopts::value<std::string>());
  options.parse_positional({"ckpt"});
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    fmt::print("{}\n", options.help());
    return 0;
  }
  if (!args.count("ckpt"))
    return fail("rarun inspect needs a checkpoint");
  std::vector<ra::rt::CheckpointTensor> tensors;
  ra::rt::CheckpointMeta meta;
  if (std::string err = readCheckpointTensors(args["ckpt"].as<std::string>(), tensors, meta);
      !err.empty())
    return fail(err);
  fmt::print("checkpoint {} at step {} ({})\n\n", args["ckpt"].as<std::string>(), meta.step,
             meta.extra.count("source") ? meta.extra["source"] : "unknown source");
  fmt::print("{:<32} {:<16} {:>12} {:>12} {:>12}\n", "parameter", "shape", "elements", "mean",
             "rms");
  int64_t total = 0, moments = 0;
  std::vector<const ra::rt::CheckpointTensor *> scalars;
  for (const auto &t : tensors) {
    if (t.name.rfind("adam.", 0) == 0) {
      moments += t.data.size();
      continue;
    }
    double sum = 0, sq = 0;
    for (float x : t.data) {
      sum += x;
      sq += double(x) * x;
    }
    double n = std::max<size_t>(t.data.size(), 1);
    fmt::print("{:<32} {:<16} {:>12} {:>12.5f} {:>12.5f}\n", t.name, nlohmann::json(t.shape).dump(),
               t.data.size(), sum / n, std::sqrt(sq / n));
    total += t.data.size();
    if (t.shape.empty())
      scalars.push_back(&t);
  }
  fmt::print("\n{} parameters; {} optimizer-state values\n", total, moments);
  if (!scalars.empty()) {
    fmt::print("\nlearned scalars:\n");
    for (const auto *s : scalars)
      fmt::print("  {:<36} {:.6f}\n", s->name, s->data[0]);
  }
  if (!args.count("artifact"))
    return 0;
  CheckpointEvaluation e;
  if (int status =
          evaluateCheckpoint(args["artifact"].as<std::string>(), Device{},
                             args["ckpt"].as<std::string>(), args["data"].as<std::string>(), 4, e))
    return status;
  fmt::print("\nreports (4 validation batches; validation loss {:.4f}):\n", e.loss);
  for (const auto &[name, value] : e.reports)
    fmt::print("  {:<36} {:.6f}\n", name, value);
  return 0;
}

} // namespace rarun
