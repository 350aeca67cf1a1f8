//===- IRUtils.cpp - small queries on ra IR every layer needs -------------===//
#include "ir/IRUtils.h"
#include "ir/RaDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/raw_ostream.h"

namespace ra {

std::string sourceLocation(mlir::Operation *op) {
  mlir::Location loc = op->getLoc();
  while (auto cs = loc.dyn_cast<mlir::CallSiteLoc>())
    loc = cs.getCallee();
  std::string s;
  llvm::raw_string_ostream os(s);
  if (auto fl = loc.dyn_cast<mlir::FileLineColLoc>())
    os << fl.getFilename().getValue() << ":" << fl.getLine() << ":" << fl.getColumn();
  else
    os << loc;
  return os.str();
}

bool matmulRoundsToBf16(mlir::Operation *op) {
  auto module = op->getParentOfType<mlir::ModuleOp>();
  auto precision =
      module ? module->getAttrOfType<mlir::StringAttr>(RaDialect::kMatmulPrecisionAttr) : nullptr;
  return precision && precision.getValue() == "bf16";
}

bool sumRoundsToBf16(mlir::Operation *op) {
  auto sum = llvm::dyn_cast<ReduceSumOp>(op);
  if (!sum || !matmulRoundsToBf16(op) || sum.getAxis() != 0 || sum.getKeepdim())
    return false;
  mlir::Value dy = sum.getInput();
  if (dy.getType().cast<mlir::ShapedType>().getRank() != 2)
    return false;
  // A weight gradient's matmul reading the same [k, n] storage as its rhs.
  auto weightGradient = [&](mlir::Value v) {
    for (mlir::Operation *user : v.getUsers())
      if (auto m = llvm::dyn_cast<MatmulOp>(user);
          m && m.getRhs() == v && m.getTransposeLhs() && !m.getTransposeRhs() &&
          m.getLhs().getType().cast<mlir::ShapedType>().getRank() == 2)
        return true;
    return false;
  };
  mlir::Value s = storageOf(dy);
  if (weightGradient(dy) || (s.getType() == dy.getType() && weightGradient(s)))
    return true;
  for (mlir::Operation *user : s.getUsers())
    if (auto view = llvm::dyn_cast<ReshapeOp>(user); view && view.getType() == dy.getType())
      if (weightGradient(view.getResult()))
        return true;
  return false;
}

std::vector<int64_t> shapeOf(mlir::Value v) {
  auto s = v.getType().cast<mlir::ShapedType>().getShape();
  return {s.begin(), s.end()};
}

ra_dtype::Dtype dtypeOf(mlir::Value v) {
  mlir::Type e = v.getType().cast<mlir::ShapedType>().getElementType();
  if (e.isInteger(32))
    return ra_dtype::Dtype::I32;
  if (e.isF16())
    return ra_dtype::Dtype::F16;
  if (e.isBF16())
    return ra_dtype::Dtype::BF16;
  return ra_dtype::Dtype::F32;
}

bool isElementwiseOp(mlir::Operation *op, bool orFused) {
  return llvm::isa<ElementwiseOpInterface>(op) || (orFused && llvm::isa<FusedElementwiseOp>(op));
}

mlir::Value storageOf(mlir::Value v) {
  while (mlir::Operation *def = v.getDefiningOp()) {
    if (!isView(def))
      break;
    v = def->getOperand(0);
  }
  return v;
}

bool isView(mlir::Operation *op) {
  if (llvm::isa<ReshapeOp>(op))
    return true;
  auto slice = llvm::dyn_cast<SliceOp>(op);
  if (!slice || slice.getAxis() != 0)
    return false;
  mlir::Operation *root = storageOf(slice.getInput()).getDefiningOp();
  return root && !llvm::isa<GetParamOp>(root);
}

} // namespace ra
