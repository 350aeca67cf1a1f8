//===- NpyFuzzer.cpp - libFuzzer target for .npy arrays -------------------===//
//
// Arbitrary bytes as a .npy file (rarun forward --tokens, racc interpret
// --tokens). The reader's contract: an error names the file, never a crash
// or an allocation beyond what the file holds; on success the values are
// exactly the shape's elements.
//
//===----------------------------------------------------------------------===//
#include "runtime/Npy.h"
#include "test/fuzz/FuzzInput.h"

using namespace racc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string &path = inputFile(data, size, ".npy");
  ra::rt::NpyArray array;
  std::string error = ra::rt::readNpy(path, array);
  if (!error.empty()) {
    fuzzCheck(error.find("'" + path + "'") != std::string::npos, "an error names the file");
    return 0;
  }
  uint64_t elements = 1;
  for (int64_t d : array.shape) {
    fuzzCheck(d >= 0, "dimensions are not negative");
    elements *= uint64_t(d);
  }
  fuzzCheck(array.values.size() == elements, "the values are the shape's elements");
  fuzzCheck(elements <= size, "no more elements than the file has bytes");
  return 0;
}
