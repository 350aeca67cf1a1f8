//===- Common.h - what the rarun commands share -------------------*- C++ -*-===//
#ifndef RARUN_COMMON_H
#define RARUN_COMMON_H

#include "runtime/Checkpoint.h"
#include "runtime/Data.h"
#include "runtime/Model.h"

#include "tools/common/NumericOptions.h"

#include <cxxopts.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rarun {

/// Prints `rarun: error: message` and returns 1, the exit status.
int fail(const std::string &message);

/// A steady clock in seconds, for timing calls.
double secondsNow();
/// The median of timings (0 for none).
double median(std::vector<double> v);

/// Where a command runs: --device and --sync-kernels.
struct Device {
  std::string name = "cpu"; // cpu, cuda or cuda-emu
  bool syncKernels = false;
};
/// Adds --device and --sync-kernels to a command's options.
void addDeviceOptions(cxxopts::Options &options);
Device deviceOf(const cxxopts::ParseResult &args);

/// Adds what every command on an artifact takes (the ART positional,
/// --help, --device, --sync-kernels) and parses. Empty after printing the
/// help: the command then exits 0.
/// `numbers`' ranges are enforced (an error names the option and its range).
std::optional<cxxopts::ParseResult>
parseArtifactCommand(cxxopts::Options &options, int argc, char **argv,
                     const ra::tools::NumericOptions *numbers = nullptr);

/// Host buffers for every output of an entry point, and their pointers in
/// the order ra::rt::Model::call takes them.
struct OutputBuffers {
  std::vector<std::vector<float>> data;
  std::vector<void *> ptrs;
  explicit OutputBuffers(const ra::rt::EntryInfo &entry);
};

/// Loads ART for a device, or reports why not.
std::unique_ptr<ra::rt::Model> loadModel(const std::string &artifact, const Device &device = {});

/// The shapes a model's @forward takes: batch and sequence length.
struct BatchShape {
  int64_t batch = 0, seq = 0, vocab = 0;
};
bool batchShape(const ra::rt::Model &model, BatchShape &out);

/// The index of @forward's `logits` output of [batch, seq, vocab]; -1 after
/// reporting that there is none.
int logitsOutput(const ra::rt::Model &model, const BatchShape &shape);

/// Loads ART for a device with CKPT's trainable parameters (a weights-only
/// checkpoint does), and its batch shape; null after reporting why not.
std::unique_ptr<ra::rt::Model> loadCheckpointed(const std::string &artifact, const Device &device,
                                                const std::string &ckpt, BatchShape &shape,
                                                ra::rt::CheckpointMeta &meta);

/// Mean validation loss over `batches` fixed windows of the validation split
/// (the same windows every call), and the model's reports (`report.NAME`
/// outputs: gate means, learned widths) averaged over the same batches.
/// Empty string or an error.
std::string validationLoss(ra::rt::Model &model, const ra::rt::Corpus &corpus,
                           const BatchShape &shape, int batches, double &loss,
                           std::map<std::string, double> *reports = nullptr);

/// A checkpoint evaluated on the validation split of a corpus.
struct CheckpointEvaluation {
  BatchShape shape;
  ra::rt::CheckpointMeta meta;
  double loss = 0;
  std::map<std::string, double> reports;
};

/// Loads ART for DEVICE, reads CKPT into it, loads DATA and evaluates
/// `batches` validation batches. Returns 0, or 1 after reporting the error.
int evaluateCheckpoint(const std::string &artifact, const Device &device, const std::string &ckpt,
                       const std::string &data, int batches, CheckpointEvaluation &out);

int trainCommand(int argc, char **argv);
int evalCommand(int argc, char **argv);
int inspectCommand(int argc, char **argv);
int benchCommand(int argc, char **argv);
/// rarun bench --entry decode (DecodeBench.cpp).
int decodeBench(const cxxopts::ParseResult &args);
/// rarun generate; `asSample`: rarun sample, the full window sliding past `seq`.
int generateCommand(int argc, char **argv, bool asSample);
int tokenizeCommand(int argc, char **argv);
int forwardCommand(int argc, char **argv);
int decodeCheckCommand(int argc, char **argv);
int importCommand(int argc, char **argv);
int exportCommand(int argc, char **argv);
int studyCommand(int argc, char **argv);

} // namespace rarun

#endif // RARUN_COMMON_H
