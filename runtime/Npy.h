//===- Npy.h - NumPy .npy files in and out ------------------------*- C++ -*-===//
//
// The .npy format: magic, version, a Python-dict header ({'descr': '<f4',
// 'fortran_order': False, 'shape': (2, 3), }) padded so the data starts
// 64-aligned, then raw C-order data. Token ids come in this way (`rarun
// forward --tokens`, `racc interpret --tokens`) and logits and dumps go out,
// so that any implementation can be held against racc with numpy.load.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_NPY_H
#define RA_RUNTIME_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace ra::rt {

/// An array read from a .npy file, every element as a double (exact for the
/// integer dtypes up to 2^53).
struct NpyArray {
  std::vector<int64_t> shape;
  std::string descr; // as the file gives it: "<i8", "<f4", ...
  bool integer = false;
  std::vector<double> values;
};

/// Reads a C-order .npy of a little-endian integer or float dtype (bool,
/// int8..int64, uint8..uint64, float16, float32, float64). Errors name the
/// file and what is wrong.
std::string readNpy(const std::string &path, NpyArray &out);

/// Writes raw C-order data of dtype `descr` ("<f4", "<f8", "<i8", ...;
/// `elementBytes` each), atomically.
std::string writeNpy(const std::string &path, const std::vector<int64_t> &shape,
                     const std::string &descr, const void *data, size_t elementBytes);

} // namespace ra::rt

#endif // RA_RUNTIME_NPY_H
