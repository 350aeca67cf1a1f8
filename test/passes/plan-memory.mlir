// RUN: racc-opt %s --ra-plan-memory | FileCheck %s
// Views take no space; a buffer is reused once its last reader has run, but
// never for the result of an op that still reads it.

ra.param @w : tensor<4x4xf32> {init = "zeros", decay = true}

// CHECK-LABEL: func.func @chain
// CHECK-SAME: ra.arena_bytes = 128
func.func @chain(%x: tensor<4x4xf32>) -> tensor<16xf32> {
  // CHECK: ra.get_param @w {ra.offsets = array<i64: -1>}
  %w = ra.get_param @w : tensor<4x4xf32>
  // 64 bytes each. a at 0; b at 64 (a is still read by b's op).
  // CHECK: ra.matmul {{.*}} {ra.offsets = array<i64: 0>}
  %a = ra.matmul %x, %w : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  // CHECK: ra.exp {{.*}} {ra.offsets = array<i64: 64>}
  %b = ra.exp %a : tensor<4x4xf32>
  // a is dead now: c reuses offset 0.
  // CHECK: ra.tanh {{.*}} {ra.offsets = array<i64: 0>}
  %c = ra.tanh %b : tensor<4x4xf32>
  // A reshape is a view of c.
  // CHECK: ra.reshape {{.*}} {ra.offsets = array<i64: -1>}
  %d = ra.reshape %c : tensor<4x4xf32> -> tensor<16xf32>
  return %d : tensor<16xf32>
}
