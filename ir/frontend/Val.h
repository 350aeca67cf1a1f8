//===- Val.h - values of .graph programs during elaboration ------*- C++ -*-===//
//
// A .graph program runs once, at compile time: integers, floats, lists and
// `none` are computed on the spot, and tensors are SSA values of the `ra` op
// being built. A call returning several values yields a tuple.
//
//===----------------------------------------------------------------------===//
#ifndef RA_FRONTEND_VAL_H
#define RA_FRONTEND_VAL_H

#include "mlir/IR/Value.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ra::graph {

struct Val {
  enum class Kind { None, Int, Float, Tensor, List, Tuple };
  Kind kind = Kind::None;
  int64_t i = 0;
  double f = 0;
  mlir::Value tensor;
  std::vector<Val> items;

  static Val none() { return {}; }
  static Val ofInt(int64_t v) {
    Val x;
    x.kind = Kind::Int;
    x.i = v;
    return x;
  }
  static Val ofFloat(double v) {
    Val x;
    x.kind = Kind::Float;
    x.f = v;
    return x;
  }
  static Val ofTensor(mlir::Value v) {
    Val x;
    x.kind = Kind::Tensor;
    x.tensor = v;
    return x;
  }
  static Val ofItems(Kind kind, std::vector<Val> items) {
    Val x;
    x.kind = kind;
    x.items = std::move(items);
    return x;
  }

  bool isNumber() const { return kind == Kind::Int || kind == Kind::Float; }
  bool isTensor() const { return kind == Kind::Tensor; }
  double asDouble() const { return kind == Kind::Int ? double(i) : f; }
};

/// A number as it reads in a message: `0.02`, `1e-05`.
std::string formatNumber(double v);

/// "an integer", "a tensor", ...: for messages like "expected a tensor, got an integer".
const char *describe(const Val &v);

} // namespace ra::graph

#endif // RA_FRONTEND_VAL_H
