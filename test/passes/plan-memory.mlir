// RUN: racc-opt %s --ra-plan-memory | FileCheck %s
// Views take no space; a buffer is reused once its last reader has run, but
// never for the result of an op that still reads it, except by an
// elementwise op, which may write over an operand of its size that dies at
// it (element i is read before it is written).

ra.param @w : tensor<4x4xf32> {init = "zeros", decay = true}

// CHECK-LABEL: func.func @chain
// CHECK-SAME: ra.arena_bytes = 128
func.func @chain(%x: tensor<4x4xf32>) -> tensor<16xf32> {
  // CHECK: ra.get_param @w {ra.offsets = array<i64: -1>}
  %w = ra.get_param @w : tensor<4x4xf32>
  // 64 bytes each. a and b apart: a matmul never writes over its operand.
  // CHECK: ra.matmul {{.*}} {ra.offsets = array<i64: [[A:[0-9]+]]>}
  %a = ra.matmul %x, %w : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  // CHECK: ra.matmul {{.*}} {ra.offsets = array<i64: [[B:[0-9]+]]>}
  %b = ra.matmul %a, %w : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  // b dies at the exp, which writes over it; so does the tanh.
  // CHECK: ra.exp {{.*}} {ra.offsets = array<i64: [[B]]>}
  %c = ra.exp %b : tensor<4x4xf32>
  // CHECK: ra.tanh {{.*}} {ra.offsets = array<i64: [[B]]>}
  %d = ra.tanh %c : tensor<4x4xf32>
  // A reshape is a view of d.
  // CHECK: ra.reshape {{.*}} {ra.offsets = array<i64: -1>}
  %e = ra.reshape %d : tensor<4x4xf32> -> tensor<16xf32>
  return %e : tensor<16xf32>
}

// A scalar takes 64 bytes like 16 floats, but a kernel reads it at every i:
// the result must not be written over it.
// CHECK-LABEL: func.func @scalar_operand
// CHECK-SAME: ra.arena_bytes = 128
func.func @scalar_operand(%x: tensor<16xf32>, %s: tensor<f32>) -> tensor<16xf32> {
  // CHECK: ra.exp {{.*}} {ra.offsets = array<i64: [[K:[0-9]+]]>}
  %k = ra.exp %s : tensor<f32>
  // CHECK: ra.fused_elementwise {{.*}} {ra.offsets = array<i64: [[F:[0-9]+]]>}
  // CHECK-NOT: ra.offsets = array<i64: [[K]]>
  %f = ra.fused_elementwise %x, %k : (tensor<16xf32>, tensor<f32>) -> tensor<16xf32> {
  ^bb0(%a: tensor<f32>, %b: tensor<f32>):
    %m = ra.mul %a, %b : tensor<f32>
    ra.yield %m : tensor<f32>
  }
  return %f : tensor<16xf32>
}

// A range of the leading axis of a computed value is a view.
// CHECK-LABEL: func.func @leading_slice
// CHECK-SAME: ra.arena_bytes = 128
func.func @leading_slice(%x: tensor<2x16xf32>) -> tensor<16xf32> {
  // CHECK: ra.exp {{.*}} {ra.offsets = array<i64: 0>}
  %e = ra.exp %x : tensor<2x16xf32>
  // CHECK: ra.slice {{.*}} ra.offsets = array<i64: -1>
  %s = ra.slice %e {axis = 0 : i64, start = 1 : i64, end = 2 : i64} : tensor<2x16xf32> -> tensor<1x16xf32>
  %r = ra.reshape %s : tensor<1x16xf32> -> tensor<16xf32>
  return %r : tensor<16xf32>
}

// The GELU's backward: both operands die at it, and it writes over the one a
// matmul wrote (dG), whatever the operands' order, so that the GEMM's DGELU
// epilogue can write dC in dG's place.
// CHECK-LABEL: func.func @gelu_grad_over_the_product
func.func @gelu_grad_over_the_product(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %w = ra.get_param @w : tensor<4x4xf32>
  // CHECK: ra.exp {{.*}} {ra.offsets = array<i64: [[C:[0-9]+]]>}
  %c = ra.exp %x : tensor<4x4xf32>
  // CHECK: ra.matmul {{.*}} {ra.offsets = array<i64: [[G:[0-9]+]]>}
  %g = ra.matmul %x, %w : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  // CHECK: ra.gelu_grad {{.*}} {ra.offsets = array<i64: [[G]]>}
  %d = ra.gelu_grad %c, %g : tensor<4x4xf32>
  return %d : tensor<4x4xf32>
}
