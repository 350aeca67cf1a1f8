//===- Npy.cpp - writing interpreter tensors as NumPy .npy files ----------===//
#include "Npy.h"

#include "runtime/Npy.h"

#include <cstring>

namespace racc {

std::string writeNpy(const std::string &path, const ra::interp::Tensor &t) {
  std::vector<char> bytes(8 * t.data.size());
  for (size_t i = 0; i < t.data.size(); ++i) {
    if (t.isInteger) {
      int64_t v = int64_t(t.data[i]);
      std::memcpy(bytes.data() + 8 * i, &v, 8);
    } else {
      double v = double(t.data[i]);
      std::memcpy(bytes.data() + 8 * i, &v, 8);
    }
  }
  return ra::rt::writeNpy(path, t.shape, t.isInteger ? "<i8" : "<f8", bytes.data(), 8);
}

} // namespace racc
