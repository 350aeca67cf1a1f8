//===- Npy.h - writing tensors as NumPy .npy files ----------------*- C++ -*-===//
//
// The reference interpreter's tensors through runtime/Npy.h (the one .npy
// writer): float64, or int64 for integer tensors. Read by numpy.load and so
// by the PyTorch reference tests.
//
//===----------------------------------------------------------------------===//
#ifndef RACC_NPY_H
#define RACC_NPY_H

#include "ir/interpreter/Tensor.h"

#include <string>

namespace racc {

/// Writes `t` to `path` as float64 (or int64 for integer tensors). Returns
/// an error message, empty on success.
std::string writeNpy(const std::string &path, const ra::interp::Tensor &t);

} // namespace racc

#endif // RACC_NPY_H
