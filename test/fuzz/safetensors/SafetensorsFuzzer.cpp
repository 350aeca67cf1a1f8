//===- SafetensorsFuzzer.cpp - libFuzzer target for checkpoints -----------===//
//
// Arbitrary bytes as a .safetensors checkpoint, read as rarun inspect reads
// one. The reader's contract: it never crashes, throws or allocates more
// than the file could hold; an error names the checkpoint; on success every
// tensor holds exactly its shape's elements.
//
//===----------------------------------------------------------------------===//
#include "runtime/Checkpoint.h"
#include "test/fuzz/FuzzInput.h"

using namespace racc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string &path = inputFile(data, size, ".safetensors");
  std::vector<ra::rt::CheckpointTensor> tensors;
  ra::rt::CheckpointMeta meta;
  std::string error = ra::rt::readCheckpointTensors(path, tensors, meta);
  if (!error.empty()) {
    fuzzCheck(error.find("checkpoint '" + path + "'") != std::string::npos,
              "an error names the checkpoint");
    return 0;
  }
  uint64_t bytes = 0;
  for (const auto &t : tensors) {
    uint64_t elements = 1;
    for (int64_t d : t.shape) {
      fuzzCheck(d >= 0, "a tensor's dimensions are not negative");
      elements *= uint64_t(d);
    }
    fuzzCheck(t.data.size() == elements, "a tensor holds its shape's elements");
    fuzzCheck(t.dtype == "F32" || t.dtype == "F16" || t.dtype == "BF16", "a float dtype");
    bytes += (t.dtype == "F32" ? 4 : 2) * elements;
  }
  fuzzCheck(bytes <= size, "the tensors fit in the file");
  return 0;
}
