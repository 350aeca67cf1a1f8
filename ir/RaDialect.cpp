//===- RaDialect.cpp - registration of the ra dialect ----------------------===//
#include "ir/RaDialect.h"

#include "ir/RaDialect.cpp.inc"

#include "ir/RaCostInterface.cpp.inc"
#include "ir/RaVjpInterface.cpp.inc"

void ra::RaDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/RaOps.cpp.inc"
      >();
  registerVjpModels(getContext());
}
