// RUN: racc-opt %s --fuse-gated-attention | FileCheck %s
// A per-head gate on the attention's output becomes the epilogue of the
// attention kernels, forward and backward; the gate's broadcast, the gated
// product and the gate's gradient reduction disappear.

// CHECK-LABEL: func.func @gated
func.func @gated(%q: tensor<2x2x8x4xf32>, %k: tensor<2x8x4xf32>, %v: tensor<2x8x4xf32>,
                 %gate: tensor<2x2x8x1xf32>, %g: tensor<2x2x8x4xf32>)
    -> (tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x2x8x1xf32>) {
  // CHECK: %[[O:.*]], %[[Y:.*]], %[[L:.*]] = ra.gated_flash_attention %arg0, %arg1, %arg2 gate(%arg3) {causal, scale = 5.000000e-01 : f64}
  %y, %lse = ra.flash_attention %q, %k, %v {causal, scale = 0.5 : f64}
      : tensor<2x2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32> -> tensor<2x2x8x4xf32>, tensor<2x2x8xf32>
  %b = ra.broadcast %gate : tensor<2x2x8x1xf32> -> tensor<2x2x8x4xf32>
  %o = ra.mul %y, %b : tensor<2x2x8x4xf32>
  // The backward: grad * gate into the attention's, the gate's gradient.
  // CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DV:.*]], %[[DG:.*]] = ra.gated_flash_attention_grad %arg0, %arg1, %arg2 gate(%arg3) result(%[[Y]], %[[L]]) grad(%arg4)
  %gb = ra.mul %g, %b : tensor<2x2x8x4xf32>
  %gy = ra.mul %g, %y : tensor<2x2x8x4xf32>
  %dgate = ra.reduce_sum %gy {axis = 3 : i64, keepdim} : tensor<2x2x8x4xf32> -> tensor<2x2x8x1xf32>
  %dq, %dk, %dv = ra.flash_attention_grad %q, %k, %v result(%y, %lse) grad(%gb) {causal, scale = 0.5 : f64}
      : tensor<2x2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x2x8xf32>, tensor<2x2x8x4xf32>
      -> tensor<2x2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>
  // CHECK-NOT: ra.broadcast
  // CHECK-NOT: ra.mul
  // CHECK-NOT: ra.reduce_sum
  // CHECK: return %[[O]], %[[DQ]], %[[DK]], %[[DV]], %[[DG]]
  return %o, %dq, %dk, %dv, %dgate : tensor<2x2x8x4xf32>, tensor<2x2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x2x8x1xf32>
}
