// RUN: racc-opt %s --fuse-weight-gradients | FileCheck %s
// A weight's gradient: the batch of products and their sum become one GEMM
// over the [B*T, .] views.

// CHECK-LABEL: func.func @weight_grad
func.func @weight_grad(%x: tensor<4x16x8xf32>, %dy: tensor<4x16x32xf32>) -> tensor<8x32xf32> {
  // CHECK-DAG: %[[X:.*]] = ra.reshape %arg0 : tensor<4x16x8xf32> -> tensor<64x8xf32>
  // CHECK-DAG: %[[D:.*]] = ra.reshape %arg1 : tensor<4x16x32xf32> -> tensor<64x32xf32>
  // CHECK: ra.matmul %[[X]], %[[D]] {transpose_lhs} : tensor<64x8xf32>, tensor<64x32xf32> -> tensor<8x32xf32>
  // CHECK-NOT: ra.reduce_sum
  %p = ra.matmul %x, %dy {transpose_lhs} : tensor<4x16x8xf32>, tensor<4x16x32xf32> -> tensor<4x8x32xf32>
  %g = ra.reduce_sum %p {axis = 0 : i64} : tensor<4x8x32xf32> -> tensor<8x32xf32>
  return %g : tensor<8x32xf32>
}

// A sum over another axis, or a product read elsewhere, is left alone.
// CHECK-LABEL: func.func @other_axis
func.func @other_axis(%x: tensor<4x16x8xf32>, %dy: tensor<4x16x32xf32>) -> (tensor<4x32xf32>, tensor<4x8x32xf32>) {
  // CHECK: ra.matmul %arg0, %arg1 {transpose_lhs}
  // CHECK: ra.reduce_sum {{.*}} {axis = 1 : i64}
  %p = ra.matmul %x, %dy {transpose_lhs} : tensor<4x16x8xf32>, tensor<4x16x32xf32> -> tensor<4x8x32xf32>
  %g = ra.reduce_sum %p {axis = 1 : i64} : tensor<4x8x32xf32> -> tensor<4x32xf32>
  return %g, %p : tensor<4x32xf32>, tensor<4x8x32xf32>
}
