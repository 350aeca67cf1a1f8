// RUN: racc-opt %s --ra-autodiff --ra-optimizer | FileCheck %s
// ra-optimizer derives @train_step and @apply from @grad: AdamW moments declared as
// non-trainable parameters, the gradient norms (per parameter and global),
// clipping, and each parameter and moment written with set_param; decay
// only where the parameter says so.

ra.param @w : tensor<4x4xf32> {init = "normal", init_value = 0.02, decay = true}
ra.param @b : tensor<4xf32> {init = "zeros", decay = false}

// CHECK: ra.param @adam.m.w : tensor<4x4xf32> {decay = false, init = "zeros", mechanism = "optimizer", trainable = false}
// CHECK: ra.param @adam.v.w : tensor<4x4xf32> {decay = false, init = "zeros", mechanism = "optimizer", trainable = false}
// CHECK: ra.param @adam.m.b : tensor<4xf32>
// CHECK: ra.param @adam.v.b : tensor<4xf32>

// CHECK-LABEL: func.func @train_step(%arg0: tensor<2x4xf32>, %arg1: tensor<2xi32>, %arg2: tensor<f32>, %arg3: tensor<f32>)
// CHECK-SAME:    -> (tensor<f32>, tensor<f32>, tensor<2xf32>)
// CHECK-SAME:    ra.grad_norm_params = ["w", "b"], ra.inputs = ["x", "t", "lr", "step"], ra.outputs = ["loss", "grad_norm", "grad_norms"]
// Per-parameter norms, joined in the order of ra.grad_norm_params.
// CHECK:         %[[NORMS:.*]] = ra.concat %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<1xf32>, tensor<1xf32>) -> tensor<2xf32>
// Clipping: coef = 1 / max(1, (norm + 1e-6) / max_norm).
// CHECK:         ra.maximum
// Bias corrections 1 - beta^t through exp(t log beta), t = %arg3.
// CHECK:         ra.mul %arg3,
// CHECK:         ra.exp
// The decayed weight is shrunk by (1 - lr wd) before the step...
// CHECK:         %[[W:.*]] = ra.get_param @w : tensor<4x4xf32>
// CHECK:         ra.mul %[[W]], %{{.*}} : tensor<4x4xf32>
// CHECK:         ra.set_param @w,
// CHECK-NEXT:    ra.set_param @adam.m.w,
// CHECK-NEXT:    ra.set_param @adam.v.w,
// ...the bias is not.
// CHECK:         %[[B:.*]] = ra.get_param @b : tensor<4xf32>
// CHECK-NOT:     ra.mul %[[B]],
// CHECK:         ra.set_param @b,
// CHECK-NEXT:    ra.set_param @adam.m.b,
// CHECK-NEXT:    ra.set_param @adam.v.b,
// CHECK:         return %{{.*}}, %{{.*}}, %[[NORMS]] : tensor<f32>, tensor<f32>, tensor<2xf32>
// @apply is the same update from gradients the host passes in (summed over
// micro-batches and ranks): its inputs are the gradients themselves.
// CHECK-LABEL: func.func @apply(%arg0: tensor<4x4xf32>, %arg1: tensor<4xf32>, %arg2: tensor<f32>, %arg3: tensor<f32>)
// CHECK-SAME:    -> (tensor<f32>, tensor<2xf32>)
// CHECK-SAME:    ra.grad_norm_params = ["w", "b"], ra.inputs = ["grad.w", "grad.b", "lr", "step"], ra.outputs = ["grad_norm", "grad_norms"]
// CHECK:         ra.mul %arg0, %arg0 : tensor<4x4xf32>
// CHECK:         ra.maximum
// CHECK:         ra.set_param @w,
// CHECK-NEXT:    ra.set_param @adam.m.w,
// CHECK-NEXT:    ra.set_param @adam.v.w,
// CHECK:         ra.set_param @b,
// CHECK-NEXT:    ra.set_param @adam.m.b,
// CHECK-NEXT:    ra.set_param @adam.v.b,
// CHECK:         return %{{.*}}, %{{.*}} : tensor<f32>, tensor<2xf32>
func.func @forward(%x: tensor<2x4xf32>, %t: tensor<2xi32>) -> tensor<f32> attributes {ra.inputs = ["x", "t"], ra.outputs = ["loss"]} {
  %w = ra.get_param @w : tensor<4x4xf32>
  %b = ra.get_param @b : tensor<4xf32>
  %h = ra.matmul %x, %w : tensor<2x4xf32>, tensor<4x4xf32> -> tensor<2x4xf32>
  %bb = ra.broadcast %b : tensor<4xf32> -> tensor<2x4xf32>
  %y = ra.add %h, %bb : tensor<2x4xf32>
  %loss = ra.cross_entropy %y, %t : tensor<2x4xf32>, tensor<2xi32> -> tensor<f32>
  return %loss : tensor<f32>
}
