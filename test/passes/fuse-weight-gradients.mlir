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

// A bias's gradient: two sums over adjacent axes are one sum over the view
// that merges them, whichever of the two is summed first.
// CHECK-LABEL: func.func @bias_grad
func.func @bias_grad(%dy: tensor<4x16x32xf32>) -> (tensor<32xf32>, tensor<32xf32>) {
  // CHECK: %[[V:.*]] = ra.reshape %arg0 : tensor<4x16x32xf32> -> tensor<64x32xf32>
  // CHECK: %[[G:.*]] = ra.reduce_sum %[[V]] {axis = 0 : i64} : tensor<64x32xf32> -> tensor<32xf32>
  // CHECK: %[[W:.*]] = ra.reshape %arg0 : tensor<4x16x32xf32> -> tensor<64x32xf32>
  // CHECK: %[[H:.*]] = ra.reduce_sum %[[W]] {axis = 0 : i64} : tensor<64x32xf32> -> tensor<32xf32>
  // CHECK: return %[[G]], %[[H]]
  %s = ra.reduce_sum %dy {axis = 0 : i64} : tensor<4x16x32xf32> -> tensor<16x32xf32>
  %g = ra.reduce_sum %s {axis = 0 : i64} : tensor<16x32xf32> -> tensor<32xf32>
  %t = ra.reduce_sum %dy {axis = 1 : i64} : tensor<4x16x32xf32> -> tensor<4x32xf32>
  %h = ra.reduce_sum %t {axis = 0 : i64} : tensor<4x32xf32> -> tensor<32xf32>
  return %g, %h : tensor<32xf32>, tensor<32xf32>
}

// Axes that are not adjacent, a partial sum read elsewhere, or a kept axis
// are left alone.
// CHECK-LABEL: func.func @not_bias_grad
func.func @not_bias_grad(%x: tensor<4x16x32xf32>) -> (tensor<16xf32>, tensor<32xf32>, tensor<16x32xf32>, tensor<1x32xf32>) {
  // CHECK-NOT: ra.reshape
  %r = ra.reduce_sum %x {axis = 0 : i64} : tensor<4x16x32xf32> -> tensor<16x32xf32>
  %a = ra.reduce_sum %r {axis = 1 : i64} : tensor<16x32xf32> -> tensor<16xf32>
  %s = ra.reduce_sum %x {axis = 0 : i64} : tensor<4x16x32xf32> -> tensor<16x32xf32>
  %b = ra.reduce_sum %s {axis = 0 : i64} : tensor<16x32xf32> -> tensor<32xf32>
  %k = ra.reduce_sum %x {axis = 0 : i64, keepdim} : tensor<4x16x32xf32> -> tensor<1x16x32xf32>
  %c = ra.reduce_sum %k {axis = 1 : i64} : tensor<1x16x32xf32> -> tensor<1x32xf32>
  return %a, %b, %s, %c : tensor<16xf32>, tensor<32xf32>, tensor<16x32xf32>, tensor<1x32xf32>
}
