// RUN: racc-opt %s --ra-check-causality --verify-diagnostics | FileCheck %s
// With the sequence axes inferred from @forward's inputs (axis 1 of
// [batch, seq] tokens), ops that certainly mix positions are warned about:
// a reduction over the sequence axis, attention without the causal mask.
// The IR is left as it is.

ra.param @wte : tensor<8x4xf32> {init = "normal", init_value = 0.02, decay = true}

// CHECK-LABEL: func.func @forward
func.func @forward(%tokens: tensor<2x6xi32>, %targets: tensor<2x6xi32>) -> (tensor<f32>, tensor<2x6x4xf32>, tensor<2x6x4xf32>) attributes {ra.inputs = ["tokens", "targets"], ra.outputs = ["loss", "pooled", "attended"]} {
  %wte = ra.get_param @wte : tensor<8x4xf32>
  %x = ra.embedding %wte, %tokens : tensor<8x4xf32>, tensor<2x6xi32> -> tensor<2x6x4xf32>
  // A mean over the features stays within each position: no warning.
  %f = ra.reduce_mean %x {axis = 2, keepdim} : tensor<2x6x4xf32> -> tensor<2x6x1xf32>
  %fb = ra.broadcast %f : tensor<2x6x1xf32> -> tensor<2x6x4xf32>
  // expected-warning @+1 {{'ra.reduce_mean' over the sequence axis mixes every position}}
  %m = ra.reduce_mean %x {axis = 1, keepdim} : tensor<2x6x4xf32> -> tensor<2x1x4xf32>
  %mb = ra.broadcast %m : tensor<2x1x4xf32> -> tensor<2x6x4xf32>
  %pooled = ra.add %fb, %mb : tensor<2x6x4xf32>
  %q = ra.reshape %x : tensor<2x6x4xf32> -> tensor<2x1x6x4xf32>
  // CHECK: ra.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 5.000000e-01 : f64}
  // expected-warning @+1 {{attention without the causal mask}}
  %a = ra.attention %q, %q, %q {scale = 0.5} : tensor<2x1x6x4xf32>, tensor<2x1x6x4xf32>, tensor<2x1x6x4xf32> -> tensor<2x1x6x4xf32>
  %c = ra.attention %q, %q, %q {causal, scale = 0.5} : tensor<2x1x6x4xf32>, tensor<2x1x6x4xf32>, tensor<2x1x6x4xf32> -> tensor<2x1x6x4xf32>
  %ac = ra.add %a, %c : tensor<2x1x6x4xf32>
  %attended = ra.reshape %ac : tensor<2x1x6x4xf32> -> tensor<2x6x4xf32>
  %loss = ra.cross_entropy %x, %targets : tensor<2x6x4xf32>, tensor<2x6xi32> -> tensor<f32>
  return %loss, %pooled, %attended : tensor<f32>, tensor<2x6x4xf32>, tensor<2x6x4xf32>
}
