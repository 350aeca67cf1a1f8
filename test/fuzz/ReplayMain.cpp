//===- ReplayMain.cpp - runs a fuzz target over a corpus ------------------===//
//
// `racc-fuzz-replay-NAME DIR...` feeds every file under each DIR to
// LLVMFuzzerTestOneInput: the corpus, and every crash the fuzzer found and
// we fixed, stay regression tests without a fuzzing build. A broken promise
// aborts, with the file named on stderr first.
//
//===----------------------------------------------------------------------===//
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  namespace fs = std::filesystem;
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(argv[i], ec), end; it != end && !ec;
         it.increment(ec)) {
      if (!it->is_regular_file())
        continue;
      std::ifstream in(it->path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in && !in.eof()) {
        std::fprintf(stderr, "cannot read %s\n", it->path().c_str());
        return 1;
      }
      std::fprintf(stderr, "%s\n", it->path().c_str());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
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
