//===- Tensor.h - the interpreter's tensors -----------------------*- C++ -*-===//
//
// A dense row-major tensor of doubles. Integer tensors (token ids) hold whole
// numbers in the same storage. Obviously correct before fast.
//
//===----------------------------------------------------------------------===//
#ifndef RA_INTERPRETER_TENSOR_H
#define RA_INTERPRETER_TENSOR_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ra::interp {

/// The interpreter computes in extended precision and rounds each op's
/// results to the precision asked for (Interpreter.h).
using Real = long double;

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<Real> data;
  bool isInteger = false;

  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape, Real fill = 0.0, bool isInteger = false)
      : shape(std::move(shape)), isInteger(isInteger) {
    data.assign(numElements(), fill);
  }
  static Tensor scalar(Real v) { return Tensor(std::vector<int64_t>{}, v); }
  int64_t numElements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  int64_t rank() const { return shape.size(); }
};

/// Parameters and optimizer state, by symbol name.
using ParamStore = std::map<std::string, Tensor>;

/// Row-major strides of `shape`.
std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape);

/// Product of shape[begin, end).
int64_t product(const std::vector<int64_t> &shape, size_t begin, size_t end);

} // namespace ra::interp

#endif // RA_INTERPRETER_TENSOR_H
