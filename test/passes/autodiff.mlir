// RUN: racc-opt %s --ra-autodiff --verify-diagnostics | FileCheck %s
// ra-autodiff derives @grad from @forward's loss: the forward body again,
// then each op's VJP in reverse, one gradient output per trainable
// parameter (a zero one, with a warning, where the loss cannot reach it).

ra.param @w : tensor<4x4xf32> {init = "normal", init_value = 0.02, decay = true}
ra.param @b : tensor<4xf32> {init = "zeros", decay = false}
// expected-warning @+1 {{parameter 'dead' gets no gradient from the loss; its gradient is zero}}
ra.param @dead : tensor<4xf32> {init = "zeros", decay = false}

// CHECK-LABEL: func.func @forward
// CHECK-LABEL: func.func @grad(%arg0: tensor<2x4xf32>, %arg1: tensor<2xi32>)
// CHECK-SAME:    -> (tensor<f32>, tensor<4x4xf32>, tensor<4xf32>, tensor<4xf32>)
// CHECK-SAME:    ra.outputs = ["loss", "grad.w", "grad.b", "grad.dead"]
// CHECK:         %[[W:.*]] = ra.get_param @w
// CHECK:         %[[H:.*]] = ra.matmul %arg0, %[[W]]
// CHECK:         %[[Y:.*]] = ra.add %[[H]],
// CHECK:         %[[G:.*]] = ra.gelu %[[Y]]
// CHECK:         %[[LOSS:.*]] = ra.cross_entropy %[[G]], %arg1
// The seed: d loss / d loss = 1.
// CHECK:         %[[ONE:.*]] = ra.constant 1.000000e+00 : tensor<f32>
// CHECK:         %[[DG:.*]] = ra.cross_entropy_grad %[[G]], %arg1, %[[ONE]]
// CHECK:         %[[DY:.*]] = ra.gelu_grad %[[Y]], %[[DG]]
// The bias was broadcast over rows: its gradient sums them.
// CHECK:         %[[DB:.*]] = ra.reduce_sum %[[DY]] {axis = 0 : i64}
// dW = x^T dY
// CHECK:         %[[DW:.*]] = ra.matmul %arg0, %[[DY]] {transpose_lhs}
// CHECK:         %[[ZERO:.*]] = ra.constant 0.000000e+00 : tensor<4xf32>
// CHECK:         return %[[LOSS]], %[[DW]], %[[DB]], %[[ZERO]]
func.func @forward(%x: tensor<2x4xf32>, %t: tensor<2xi32>) -> tensor<f32> attributes {ra.inputs = ["x", "t"], ra.outputs = ["loss"]} {
  %w = ra.get_param @w : tensor<4x4xf32>
  %b = ra.get_param @b : tensor<4xf32>
  %h = ra.matmul %x, %w : tensor<2x4xf32>, tensor<4x4xf32> -> tensor<2x4xf32>
  %bb = ra.broadcast %b : tensor<4xf32> -> tensor<2x4xf32>
  %y = ra.add %h, %bb : tensor<2x4xf32>
  %g = ra.gelu %y : tensor<2x4xf32>
  %loss = ra.cross_entropy %g, %t : tensor<2x4xf32>, tensor<2xi32> -> tensor<f32>
  return %loss : tensor<f32>
}
