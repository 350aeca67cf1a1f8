// RUN: racc-opt %s --fuse-attention | FileCheck %s
// Attention and its backward become the flash forms: the backward reads the
// forward's result and log-sum-exps. MLA's shared keys/values and RA's
// reciprocal term and band carry over.

// CHECK-LABEL: func.func @mla_ra
func.func @mla_ra(%q: tensor<2x4x8x16xf32>, %k: tensor<2x8x16xf32>, %v: tensor<2x8x32xf32>,
                  %a: tensor<f32>, %g: tensor<2x4x8x32xf32>)
    -> (tensor<2x4x8x32xf32>, tensor<2x4x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x32xf32>, tensor<f32>) {
  // CHECK: %[[Y:.*]], %[[LSE:.*]] = ra.flash_attention %arg0, %arg1, %arg2 reciprocal(%arg3 : tensor<f32>) {band = 3 : i64, causal, scale = 2.500000e-01 : f64} : {{.*}} -> tensor<2x4x8x32xf32>, tensor<2x4x8xf32>
  %y = ra.attention %q, %k, %v reciprocal(%a : tensor<f32>) {band = 3 : i64, causal, scale = 0.25 : f64}
      : tensor<2x4x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x32xf32> -> tensor<2x4x8x32xf32>
  // CHECK: ra.flash_attention_grad %arg0, %arg1, %arg2 reciprocal(%arg3 : tensor<f32>) result(%[[Y]], %[[LSE]]) grad(%arg4) {band = 3 : i64, causal, scale = 2.500000e-01 : f64}
  %dq, %dk, %dv, %da = ra.attention_grad %q, %k, %v reciprocal(%a : tensor<f32>) grad(%g)
      {band = 3 : i64, causal, scale = 0.25 : f64}
      : tensor<2x4x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x32xf32>, tensor<2x4x8x32xf32>
      -> tensor<2x4x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x32xf32>, tensor<f32>
  // CHECK-NOT: ra.attention
  return %y, %dq, %dk, %dv, %da : tensor<2x4x8x32xf32>, tensor<2x4x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x32xf32>, tensor<f32>
}

// A backward whose forward is not in the function (other attributes here)
// stays as it is; the forward is still fused.
// CHECK-LABEL: func.func @unmatched
func.func @unmatched(%q: tensor<1x2x4x8xf32>, %g: tensor<1x2x4x8xf32>)
    -> (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) {
  // CHECK: ra.flash_attention %arg0, %arg0, %arg0 {causal, scale = 5.000000e-01 : f64}
  %y = ra.attention %q, %q, %q {causal, scale = 0.5 : f64}
      : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>
  // CHECK: ra.attention_grad %arg0, %arg0, %arg0 grad(%arg1) {scale = 5.000000e-01 : f64}
  %dq, %dk, %dv = ra.attention_grad %q, %q, %q grad(%g) {scale = 0.5 : f64}
      : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
      -> tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
  return %y, %dq : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
}
