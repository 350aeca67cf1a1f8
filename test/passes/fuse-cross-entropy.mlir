// RUN: racc-opt %s --fuse-cross-entropy | FileCheck %s
// The loss and its gradient (autodiff's constant seed) from one op at the loss.

// CHECK-LABEL: func.func @grad
func.func @grad(%logits: tensor<2x4x16xf32>, %t: tensor<2x4xi32>) -> (tensor<f32>, tensor<2x4x16xf32>) {
  // CHECK: %[[ONE:.*]] = ra.constant 1.000000e+00 : tensor<f32>
  // CHECK-NEXT: %[[L:.*]], %[[D:.*]] = ra.cross_entropy_with_grad %arg0, %arg1, %[[ONE]]
  // CHECK-NOT: ra.cross_entropy_grad
  // CHECK: return %[[L]], %[[D]]
  %loss = ra.cross_entropy %logits, %t : tensor<2x4x16xf32>, tensor<2x4xi32> -> tensor<f32>
  %one = ra.constant 1.0 : tensor<f32>
  %d = ra.cross_entropy_grad %logits, %t, %one : (tensor<2x4x16xf32>, tensor<2x4xi32>, tensor<f32>) -> tensor<2x4x16xf32>
  return %loss, %d : tensor<f32>, tensor<2x4x16xf32>
}

// A gradient seed only known later: left alone.
// CHECK-LABEL: func.func @late_seed
func.func @late_seed(%logits: tensor<2x4x16xf32>, %t: tensor<2x4xi32>, %s: tensor<f32>) -> (tensor<f32>, tensor<2x4x16xf32>) {
  // CHECK: ra.cross_entropy %arg0
  // CHECK: ra.cross_entropy_grad %arg0, %arg1, %arg2
  %loss = ra.cross_entropy %logits, %t : tensor<2x4x16xf32>, tensor<2x4xi32> -> tensor<f32>
  %d = ra.cross_entropy_grad %logits, %t, %s : (tensor<2x4x16xf32>, tensor<2x4xi32>, tensor<f32>) -> tensor<2x4x16xf32>
  return %loss, %d : tensor<f32>, tensor<2x4x16xf32>
}
