//===- ReplayMain.cpp - runs the fuzz target over a corpus ----------------===//
//
// `racc-fuzz-replay DIR...` feeds every file under each DIR to
// LLVMFuzzerTestOneInput: the corpus, and every crash the fuzzer found and
// we fixed, stay regression tests without a fuzzing build.
//
//===----------------------------------------------------------------------===//
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdio>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    for (llvm::sys::fs::recursive_directory_iterator it(argv[i], ec), end; it != end && !ec;
         it.increment(ec)) {
      if (llvm::sys::fs::is_directory(it->path()))
        continue;
      auto buffer = llvm::MemoryBuffer::getFile(it->path());
      if (!buffer) {
        std::fprintf(stderr, "cannot read %s\n", it->path().c_str());
        return 1;
      }
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>((*buffer)->getBufferStart()),
                             (*buffer)->getBufferSize());
      ++files;
    }
    if (ec) {
      std::fprintf(stderr, "cannot list %s: %s\n", argv[i], ec.message().c_str());
      return 1;
    }
  }
  if (files == 0) {
    std::fprintf(stderr, "no corpus files found\n");
    return 1;
  }
  std::printf("replayed %d inputs: %d passed, 0 failed\n", files, files);
  return 0;
}
