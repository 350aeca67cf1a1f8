//===- Shapes.h - shape rules shared by the verifiers and the front end -*- C++ -*-===//
//
// One definition of numpy broadcasting and of shape printing, so that the
// `.graph` front end and the op verifiers agree and word their errors alike.
//
//===----------------------------------------------------------------------===//
#ifndef RA_IR_SHAPES_H
#define RA_IR_SHAPES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include <cstdint>
#include <optional>
#include <string>

namespace ra {

/// `[8, 64, 768]`: how shapes appear in every diagnostic.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// The numpy broadcast of two shapes (trailing dims aligned, each 1 or equal),
/// or nullopt when they do not broadcast.
std::optional<llvm::SmallVector<int64_t>> broadcastShapes(llvm::ArrayRef<int64_t> a,
                                                          llvm::ArrayRef<int64_t> b);

/// True when `from` broadcasts to exactly `to`.
bool isBroadcastableTo(llvm::ArrayRef<int64_t> from, llvm::ArrayRef<int64_t> to);

/// Product of the dims, or nullopt on int64 overflow.
std::optional<int64_t> checkedNumElements(llvm::ArrayRef<int64_t> shape);

} // namespace ra

#endif // RA_IR_SHAPES_H
