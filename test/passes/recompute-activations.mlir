// RUN: racc-opt %s --recompute-activations | FileCheck %s
// The MLP's pre-activation and GELU, and a layernorm output, are recomputed
// in the backward pass (after the loss's gradient) from values it keeps
// anyway; the forward copies are then read only by the forward pass.

ra.param @w : tensor<8x32xf32> {init = "normal", init_value = 0.02 : f64, decay = true}
ra.param @b : tensor<32xf32> {init = "zeros", decay = false}
ra.param @g : tensor<8xf32> {init = "ones", decay = false}
ra.param @beta : tensor<8xf32> {init = "zeros", decay = false}

// CHECK-LABEL: func.func @grad
func.func @grad(%x: tensor<2x4x8xf32>, %logits: tensor<2x4x32xf32>, %t: tensor<2x4xi32>, %dy: tensor<2x4x32xf32>)
    -> (tensor<f32>, tensor<32x32xf32>, tensor<2x4x32xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>) {
  %w = ra.get_param @w : tensor<8x32xf32>
  %b = ra.get_param @b : tensor<32xf32>
  %g = ra.get_param @g : tensor<8xf32>
  %beta = ra.get_param @beta : tensor<8xf32>
  // CHECK: %[[N:.*]] = ra.layernorm %arg0
  // CHECK: %[[M:.*]] = ra.matmul %[[N]], %{{.*}}
  // CHECK: %[[H:.*]] = ra.add %[[M]]
  // CHECK: %[[Y:.*]] = ra.gelu %[[H]]
  %n = ra.layernorm %x, %g, %beta : tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<2x4x8xf32>
  %m = ra.matmul %n, %w : tensor<2x4x8xf32>, tensor<8x32xf32> -> tensor<2x4x32xf32>
  %bb = ra.broadcast %b : tensor<32xf32> -> tensor<2x4x32xf32>
  %h = ra.add %m, %bb : tensor<2x4x32xf32>
  %y = ra.gelu %h : tensor<2x4x32xf32>
  %loss = ra.cross_entropy %logits, %t : tensor<2x4x32xf32>, tensor<2x4xi32> -> tensor<f32>
  %one = ra.constant 1.0 : tensor<f32>
  // CHECK: ra.cross_entropy_grad
  %dl = ra.cross_entropy_grad %logits, %t, %one : (tensor<2x4x32xf32>, tensor<2x4xi32>, tensor<f32>) -> tensor<2x4x32xf32>
  // The backward pass: the layernorm, the GEMM, its bias and the GELU again.
  // CHECK: %[[N2:.*]] = ra.layernorm %arg0
  // CHECK: %[[M2:.*]] = ra.matmul %[[N2]]
  // CHECK: %[[H2:.*]] = ra.add %[[M2]]
  // CHECK: %[[Y2:.*]] = ra.gelu %[[H2]]
  // CHECK: ra.matmul %[[Y2]], %arg3 {transpose_lhs}
  %dw = ra.matmul %y, %dy {transpose_lhs} : tensor<2x4x32xf32>, tensor<2x4x32xf32> -> tensor<2x32x32xf32>
  %dws = ra.reduce_sum %dw {axis = 0 : i64} : tensor<2x32x32xf32> -> tensor<32x32xf32>
  // CHECK: ra.gelu_grad %[[H2]], %arg3
  %dh = ra.gelu_grad %h, %dy : tensor<2x4x32xf32>
  // CHECK: ra.mul %[[N2]]
  %dn = ra.mul %n, %n : tensor<2x4x8xf32>
  %dx, %dg, %dbeta = ra.layernorm_grad %x, %g, %dn : (tensor<2x4x8xf32>, tensor<8xf32>, tensor<2x4x8xf32>) -> (tensor<2x4x8xf32>, tensor<8xf32>, tensor<8xf32>)
  return %loss, %dws, %dh, %dx, %dn : tensor<f32>, tensor<32x32xf32>, tensor<2x4x32xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>
}
