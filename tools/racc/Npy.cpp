//===- Npy.cpp - writing tensors as NumPy .npy files ----------------------===//
#include "Npy.h"

#include "llvm/Support/raw_ostream.h"

#include <cstring>

namespace racc {

std::string writeNpy(const std::string &path, const ra::interp::Tensor &t) {
  std::string shape = "(";
  for (int64_t d : t.shape)
    shape += std::to_string(d) + ", ";
  shape += ")";
  std::string header = std::string("{'descr': '") + (t.isInteger ? "<i8" : "<f8") +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic (6) + version (2) + header length (2) + header, padded to 64 with '\n' last.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return "cannot write '" + path + "': " + ec.message();
  os << "\x93NUMPY" << char(1) << char(0);
  uint16_t len = header.size();
  os << char(len & 0xff) << char(len >> 8) << header;
  for (ra::interp::Real x : t.data) {
    char bytes[8];
    if (t.isInteger) {
      int64_t v = (int64_t)x;
      std::memcpy(bytes, &v, 8);
    } else {
      double v = (double)x;
      std::memcpy(bytes, &v, 8);
    }
    os.write(bytes, 8);
  }
  return "";
}

} // namespace racc
