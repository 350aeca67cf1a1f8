// RUN: racc-opt %s --fuse-elementwise | FileCheck %s
// A bias add and its GELU become one kernel that reads the bias row in
// place; a scalar broadcast and a splat constant are read, not stored; a
// value read outside the chain (%x, read by the exp) stays a result.

// CHECK-LABEL: func.func @chain
func.func @chain(%m: tensor<8x64xf32>, %bias: tensor<64xf32>, %s: tensor<f32>)
    -> (tensor<8x64xf32>, tensor<8x64xf32>) {
  // CHECK: %[[X:.*]] = ra.fused_elementwise %arg0, %arg1 : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32>
  // CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<f32>, %[[B:.*]]: tensor<f32>):
  // CHECK-NEXT: ra.add %[[A]], %[[B]] : tensor<f32>
  // CHECK-NEXT: ra.yield
  %b = ra.broadcast %bias : tensor<64xf32> -> tensor<8x64xf32>
  %x = ra.add %m, %b : tensor<8x64xf32>
  // CHECK: %[[W:.*]] = ra.fused_elementwise %[[X]], %arg2 : (tensor<8x64xf32>, tensor<f32>) -> tensor<8x64xf32>
  // CHECK: ra.gelu
  // CHECK: ra.constant 5.000000e-01 : tensor<f32>
  // CHECK: ra.mul
  // CHECK: ra.div
  // CHECK: ra.yield
  %y = ra.gelu %x : tensor<8x64xf32>
  %c = ra.constant 0.5 : tensor<8x64xf32>
  %k = ra.broadcast %s : tensor<f32> -> tensor<8x64xf32>
  %z = ra.mul %y, %c : tensor<8x64xf32>
  %w = ra.div %z, %k : tensor<8x64xf32>
  // CHECK: ra.exp %[[X]] : tensor<8x64xf32>
  // CHECK-NOT: ra.broadcast
  // CHECK-NOT: ra.constant 5.000000e-01 : tensor<8x64xf32>
  %u = ra.exp %x : tensor<8x64xf32>
  return %w, %u : tensor<8x64xf32>, tensor<8x64xf32>
}

// One op alone is already one kernel: left as it is.
// CHECK-LABEL: func.func @single
func.func @single(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK-NEXT: ra.add %arg0, %arg1 : tensor<4xf32>
  %x = ra.add %a, %b : tensor<4xf32>
  return %x : tensor<4xf32>
}
