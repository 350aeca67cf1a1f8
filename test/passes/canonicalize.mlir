// RUN: racc-opt %s --canonicalize | FileCheck %s
// The ra canonicalization patterns: layout ops compose or vanish, splat
// constants absorb broadcasts.

// CHECK-LABEL: func.func @reshape_chain
func.func @reshape_chain(%x: tensor<2x6xf32>) -> (tensor<12xf32>, tensor<2x6xf32>) {
  // reshape(reshape(x)) = reshape(x); reshape to the same type = x
  // CHECK-NEXT: %[[R:.*]] = ra.reshape %arg0 : tensor<2x6xf32> -> tensor<12xf32>
  // CHECK-NEXT: return %[[R]], %arg0
  %0 = ra.reshape %x : tensor<2x6xf32> -> tensor<3x4xf32>
  %1 = ra.reshape %0 : tensor<3x4xf32> -> tensor<12xf32>
  %2 = ra.reshape %x : tensor<2x6xf32> -> tensor<2x6xf32>
  return %1, %2 : tensor<12xf32>, tensor<2x6xf32>
}

// CHECK-LABEL: func.func @transpose_chain
func.func @transpose_chain(%x: tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<4x2x3xf32>) {
  // A permutation and its inverse cancel; two permutations compose.
  // CHECK-NEXT: %[[T:.*]] = ra.transpose %arg0 {permutation = array<i64: 2, 0, 1>}
  // CHECK-NEXT: return %arg0, %[[T]]
  %0 = ra.transpose %x {permutation = array<i64: 0, 2, 1>} : tensor<2x3x4xf32> -> tensor<2x4x3xf32>
  %1 = ra.transpose %0 {permutation = array<i64: 0, 2, 1>} : tensor<2x4x3xf32> -> tensor<2x3x4xf32>
  %2 = ra.transpose %x {permutation = array<i64: 1, 0, 2>} : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  %3 = ra.transpose %2 {permutation = array<i64: 2, 1, 0>} : tensor<3x2x4xf32> -> tensor<4x2x3xf32>
  return %1, %3 : tensor<2x3x4xf32>, tensor<4x2x3xf32>
}

// CHECK-LABEL: func.func @broadcast_constant
func.func @broadcast_constant(%x: tensor<4xf32>) -> (tensor<2x4xf32>, tensor<3x2x4xf32>) {
  // CHECK-DAG: %[[C:.*]] = ra.constant 5.000000e-01 : tensor<2x4xf32>
  // CHECK-DAG: %[[B:.*]] = ra.broadcast %arg0 : tensor<4xf32> -> tensor<3x2x4xf32>
  // CHECK: return %[[C]], %[[B]]
  %c = ra.constant 0.5 : tensor<f32>
  %0 = ra.broadcast %c : tensor<f32> -> tensor<2x4xf32>
  %1 = ra.broadcast %x : tensor<4xf32> -> tensor<2x4xf32>
  %2 = ra.broadcast %1 : tensor<2x4xf32> -> tensor<3x2x4xf32>
  return %0, %2 : tensor<2x4xf32>, tensor<3x2x4xf32>
}

// CHECK-LABEL: func.func @identities
func.func @identities(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  // The folders: a whole-axis slice, a one-input concat, an identity
  // permutation and a broadcast to the same shape are the input itself.
  // CHECK-NEXT: return %arg0, %arg0, %arg0, %arg0
  %0 = ra.slice %x {axis = 1, start = 0, end = 3} : tensor<2x3xf32> -> tensor<2x3xf32>
  %1 = ra.concat %x {axis = 0} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = ra.transpose %x {permutation = array<i64: 0, 1>} : tensor<2x3xf32> -> tensor<2x3xf32>
  %3 = ra.broadcast %x : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0, %1, %2, %3 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}
