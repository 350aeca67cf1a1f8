// RUN: racc-opt %s --fuse-head-mean-attention | FileCheck %s
// Attention over a value shared by the heads, averaged over heads: the
// per-head outputs and the broadcast gradient disappear, and the
// probabilities are the block's attention's (its log-sum-exps, one softmax).

// CHECK-LABEL: func.func @head_mean
func.func @head_mean(%q: tensor<2x4x8x4xf32>, %k: tensor<2x8x4xf32>, %a: tensor<2x8x16xf32>,
                     %dm: tensor<2x8x16xf32>, %v: tensor<2x4x8x4xf32>)
    -> (tensor<2x8x16xf32>, tensor<2x4x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x16xf32>, tensor<2x4x8x4xf32>) {
  // CHECK: %[[Y:.*]], %[[L:.*]] = ra.flash_attention %arg0, %arg1, %arg4
  %y, %ylse = ra.flash_attention %q, %k, %v {causal, scale = 0.5 : f64}
      : tensor<2x4x8x4xf32>, tensor<2x8x4xf32>, tensor<2x4x8x4xf32> -> tensor<2x4x8x4xf32>, tensor<2x4x8xf32>
  // CHECK: %[[M:.*]] = ra.head_mean_attention %arg0, %arg1, %arg2 lse(%[[L]]) {causal, scale = 5.000000e-01 : f64} : {{.*}} -> tensor<2x8x16xf32>
  %pa, %lse = ra.flash_attention %q, %k, %a {causal, scale = 0.5 : f64}
      : tensor<2x4x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x16xf32> -> tensor<2x4x8x16xf32>, tensor<2x4x8xf32>
  %m = ra.reduce_mean %pa {axis = 1 : i64} : tensor<2x4x8x16xf32> -> tensor<2x8x16xf32>
  // CHECK: %[[DQ:.*]], %[[DK:.*]], %[[DA:.*]] = ra.head_mean_attention_grad %arg0, %arg1, %arg2 lse(%[[L]]) grad(%arg3)
  %r = ra.reshape %dm : tensor<2x8x16xf32> -> tensor<2x1x8x16xf32>
  %b = ra.broadcast %r : tensor<2x1x8x16xf32> -> tensor<2x4x8x16xf32>
  %c = ra.constant 0.25 : tensor<2x4x8x16xf32>
  %g = ra.mul %b, %c : tensor<2x4x8x16xf32>
  %dq, %dk, %da = ra.flash_attention_grad %q, %k, %a result(%pa, %lse) grad(%g) {causal, scale = 0.5 : f64}
      : tensor<2x4x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8xf32>, tensor<2x4x8x16xf32>
      -> tensor<2x4x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x16xf32>
  // CHECK-NOT: ra.flash_attention
  // CHECK-NOT: ra.broadcast
  // CHECK-NOT: ra.reduce_mean
  // CHECK: return %[[M]], %[[DQ]], %[[DK]], %[[DA]], %[[Y]]
  return %m, %dq, %dk, %da, %y : tensor<2x8x16xf32>, tensor<2x4x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x16xf32>, tensor<2x4x8x4xf32>
}

// No attention over the same q and k to share a softmax with (here the
// other one has another scale): left alone.
// CHECK-LABEL: func.func @no_sibling
func.func @no_sibling(%q: tensor<2x4x8x4xf32>, %k: tensor<2x8x4xf32>, %a: tensor<2x8x16xf32>,
                      %v: tensor<2x4x8x4xf32>) -> (tensor<2x8x16xf32>, tensor<2x4x8x4xf32>) {
  // CHECK-NOT: ra.head_mean_attention
  %y, %ylse = ra.flash_attention %q, %k, %v {causal, scale = 0.25 : f64}
      : tensor<2x4x8x4xf32>, tensor<2x8x4xf32>, tensor<2x4x8x4xf32> -> tensor<2x4x8x4xf32>, tensor<2x4x8xf32>
  %pa, %lse = ra.flash_attention %q, %k, %a {causal, scale = 0.5 : f64}
      : tensor<2x4x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x16xf32> -> tensor<2x4x8x16xf32>, tensor<2x4x8xf32>
  %m = ra.reduce_mean %pa {axis = 1 : i64} : tensor<2x4x8x16xf32> -> tensor<2x8x16xf32>
  return %m, %y : tensor<2x8x16xf32>, tensor<2x4x8x4xf32>
}

// Per-head outputs read elsewhere: left alone.
// CHECK-LABEL: func.func @read_elsewhere
func.func @read_elsewhere(%q: tensor<2x4x8x4xf32>, %k: tensor<2x8x4xf32>, %a: tensor<2x8x16xf32>)
    -> (tensor<2x8x16xf32>, tensor<2x4x8x16xf32>) {
  // CHECK: ra.flash_attention
  // CHECK: ra.reduce_mean
  %pa, %lse = ra.flash_attention %q, %k, %a {causal, scale = 0.5 : f64}
      : tensor<2x4x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x16xf32> -> tensor<2x4x8x16xf32>, tensor<2x4x8xf32>
  %m = ra.reduce_mean %pa {axis = 1 : i64} : tensor<2x4x8x16xf32> -> tensor<2x8x16xf32>
  return %m, %pa : tensor<2x8x16xf32>, tensor<2x4x8x16xf32>
}
