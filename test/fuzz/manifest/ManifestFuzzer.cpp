//===- ManifestFuzzer.cpp - libFuzzer target for manifest.json ------------===//
//
// Arbitrary bytes as an artifact's manifest.json. The reader's contract: it
// never crashes or throws; an error names the manifest; on success every
// value that sizes memory agrees with the others (parameters inside the
// parameter buffer, inputs and outputs with non-negative shapes whose
// element counts do not overflow, arenas not negative).
//
//===----------------------------------------------------------------------===//
#include "runtime/Manifest.h"
#include "test/fuzz/FuzzInput.h"

using namespace racc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string path = "fuzz.rac/manifest.json";
  ra::rt::Manifest m;
  std::string error =
      ra::rt::readManifest(std::string(reinterpret_cast<const char *>(data), size), path, m);
  if (!error.empty()) {
    fuzzCheck(error.find(path) != std::string::npos, "an error names the manifest");
    return 0;
  }
  fuzzCheck(m.parameterElements >= 0, "the parameter buffer's size is not negative");
  for (const auto &p : m.params) {
    fuzzCheck(p.offset >= 0 && p.elements() >= 0, "a parameter's offset and size are valid");
    fuzzCheck(p.offset <= m.parameterElements - p.elements(),
              "a parameter lies inside the parameter buffer");
  }
  for (const auto &e : m.entries) {
    fuzzCheck(e.arenaBytes >= 0 && e.scratchBytes >= 0, "an entry's memory is not negative");
    for (const auto *list : {&e.inputs, &e.outputs})
      for (const auto &t : *list) {
        for (int64_t d : t.shape)
          fuzzCheck(d >= 0, "a tensor's dimensions are not negative");
        fuzzCheck(t.elements() >= 0, "a tensor's element count does not overflow");
      }
  }
  return 0;
}
