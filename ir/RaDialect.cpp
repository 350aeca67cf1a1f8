//===- RaDialect.cpp - registration of the ra dialect ----------------------===//
#include "ir/RaDialect.h"

#include "ir/RaDialect.cpp.inc"

#include "ir/RaAttentionInterface.cpp.inc"
#include "ir/RaCostInterface.cpp.inc"
#include "ir/RaElementwiseInterface.cpp.inc"
#include "ir/RaVjpInterface.cpp.inc"

using namespace mlir;

void ra::RaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/RaOps.cpp.inc"
      >();
}

/// The dialect's discardable attributes: each name declared in RaBase.td,
/// with the kind of value racc writes there.
LogicalResult ra::RaDialect::verifyOperationAttribute(Operation *op, NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  Attribute value = attr.getValue();
  auto expect = [&](bool ok, const char *what) -> LogicalResult {
    if (ok)
      return success();
    return op->emitError("'") << name << "' must be " << what << ", got " << value;
  };
  auto strings = [](Attribute a) {
    auto array = a.dyn_cast<ArrayAttr>();
    return array && llvm::all_of(array, [](Attribute e) { return e.isa<StringAttr>(); });
  };
  if (name == kSourceAttr || name == kDecodingRefusedAttr)
    return expect(value.isa<StringAttr>(), "a string");
  if (name == kConfigAttr || name == kAbsorbAttr)
    return expect(value.isa<DictionaryAttr>(), "a dictionary");
  if (name == kUnusedCheckedAttr || name == kUnusedAttr)
    return expect(value.isa<UnitAttr>(), "a unit attribute");
  if (name == kInputsAttr || name == kOutputsAttr || name == kGradNormParamsAttr)
    return expect(strings(value), "an array of strings");
  if (name == kCachesAttr) {
    auto array = value.dyn_cast<ArrayAttr>();
    return expect(array && llvm::all_of(array, [](Attribute e) { return e.isa<DictionaryAttr>(); }),
                  "an array of dictionaries");
  }
  if (name == kPagingAttr) {
    auto dict = value.dyn_cast<DictionaryAttr>();
    return expect(dict && dict.getAs<IntegerAttr>("block_positions") &&
                      dict.getAs<IntegerAttr>("blocks"),
                  "a dictionary of integers block_positions and blocks");
  }
  if (name == kMatmulPrecisionAttr) {
    auto text = value.dyn_cast<StringAttr>();
    return expect(text && (text.getValue() == "f32" || text.getValue() == "bf16"),
                  "\"f32\" or \"bf16\"");
  }
  if (name == kArenaBytesAttr)
    return expect(value.isa<IntegerAttr>(), "an integer");
  if (name == kOffsetsAttr)
    return expect(value.isa<DenseI64ArrayAttr>(), "an array of i64");
  return op->emitError("unknown attribute '") << name << "' of the ra dialect";
}
