//===- Common.cpp - what the rarun commands share -------------------------===//
#include "Common.h"

#include <algorithm>
#include <chrono>

#include "Communicator.h"

#include <cstdio>

namespace rarun {

double secondsNow() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int fail(const std::string &message) {
  // With several ranks, which one failed.
  const Communicator &world = Communicator::world();
  std::string rank = world.size() > 1 ? "rank " + std::to_string(world.rank()) + ": " : "";
  std::fprintf(stderr, "rarun: error: %s%s\n", rank.c_str(), message.c_str());
  return 1;
}

void addDeviceOptions(cxxopts::Options &options) {
  options.add_options()("device",
                        "cpu, cuda (the first GPU) or cuda-emu (the CUDA kernels on the SIMT "
                        "emulator, on the CPU)",
                        cxxopts::value<std::string>()->default_value("cpu"))(
      "sync-kernels", "cuda: wait for every kernel, so a failing one is named (slower)");
}

std::optional<cxxopts::ParseResult> parseArtifactCommand(cxxopts::Options &options, int argc,
                                                         char **argv,
                                                         const ra::tools::NumericOptions *numbers) {
  options.positional_help("ART");
  options.add_options()("h,help", "Show this help")("artifact", "ART",
                                                    cxxopts::value<std::string>());
  addDeviceOptions(options);
  options.parse_positional({"artifact"});
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return std::nullopt;
  }
  if (numbers)
    numbers->enforce(args);
  return args;
}

OutputBuffers::OutputBuffers(const ra::rt::EntryInfo &entry) {
  for (const auto &o : entry.outputs)
    data.emplace_back(o.elements());
  for (auto &d : data)
    ptrs.push_back(d.data());
}

Device deviceOf(const cxxopts::ParseResult &args) {
  return {args["device"].as<std::string>(), args.count("sync-kernels") > 0};
}

std::unique_ptr<ra::rt::Model> loadModel(const std::string &artifact, const Device &device) {
  std::string error;
  auto model = ra::rt::Model::load(artifact, error, device.name, device.syncKernels);
  if (!model)
    fail(error);
  return model;
}

bool batchShape(const ra::rt::Model &model, BatchShape &out) {
  const ra::rt::EntryInfo *forward = model.entry("forward");
  if (!forward || forward->inputs.empty() || forward->inputs[0].shape.size() != 2) {
    fail("the artifact's forward does not take [batch, seq] token ids");
    return false;
  }
  out.batch = forward->inputs[0].shape[0];
  out.seq = forward->inputs[0].shape[1];
  out.vocab = model.config("vocab").value_or(256);
  return true;
}

int logitsOutput(const ra::rt::Model &model, const BatchShape &shape) {
  const ra::rt::EntryInfo *forward = model.entry("forward");
  for (size_t i = 0; forward && i < forward->outputs.size(); ++i)
    if (forward->outputs[i].name == "logits" &&
        forward->outputs[i].shape == std::vector<int64_t>{shape.batch, shape.seq, shape.vocab})
      return int(i);
  fail("the artifact's forward has no logits output of [" + std::to_string(shape.batch) + ", " +
       std::to_string(shape.seq) + ", " + std::to_string(shape.vocab) + "]");
  return -1;
}

std::unique_ptr<ra::rt::Model> loadCheckpointed(const std::string &artifact, const Device &device,
                                                const std::string &ckpt, BatchShape &shape,
                                                ra::rt::CheckpointMeta &meta) {
  auto model = loadModel(artifact, device);
  if (!model || !batchShape(*model, shape))
    return nullptr;
  if (std::string err = readCheckpoint(ckpt, *model, meta, ra::rt::CheckpointContents::Weights);
      !err.empty()) {
    fail(err);
    return nullptr;
  }
  return model;
}

std::string validationLoss(ra::rt::Model &model, const ra::rt::Corpus &corpus,
                           const BatchShape &shape, int batches, double &loss,
                           std::map<std::string, double> *reports) {
  const ra::rt::EntryInfo *forward = model.entry("forward");
  int lossIndex = -1;
  for (size_t i = 0; i < forward->outputs.size(); ++i)
    if (forward->outputs[i].name == "loss")
      lossIndex = i;
  if (lossIndex < 0)
    return "the model has no loss output";
  ra::rt::Batcher val(corpus.validation, shape.batch, shape.seq, /*seed=*/0x5EED);
  std::vector<int32_t> tokens, targets;
  OutputBuffers outs(*forward);
  double total = 0;
  for (int i = 0; i < batches; ++i) {
    val.next(tokens, targets);
    if (std::string err = model.call("forward", {tokens.data(), targets.data()}, outs.ptrs);
        !err.empty())
      return err;
    total += outs.data[lossIndex][0];
    for (size_t o = 0; reports && o < forward->outputs.size(); ++o) {
      const std::string &name = forward->outputs[o].name;
      if (name.rfind("report.", 0) == 0)
        (*reports)[name.substr(7)] += outs.data[o][0] / batches;
    }
  }
  loss = total / batches;
  return "";
}

int evaluateCheckpoint(const std::string &artifact, const Device &device, const std::string &ckpt,
                       const std::string &data, int batches, CheckpointEvaluation &out) {
  auto model = loadCheckpointed(artifact, device, ckpt, out.shape, out.meta);
  if (!model)
    return 1;
  ra::rt::Corpus corpus;
  if (std::string err = loadCorpus(data, out.shape.vocab, out.shape.seq, corpus); !err.empty())
    return fail(err);
  if (std::string err = validationLoss(*model, corpus, out.shape, batches, out.loss, &out.reports);
      !err.empty())
    return fail(err);
  return 0;
}

} // namespace rarun
