// RUN: racc-opt %s | racc-opt | FileCheck %s
// The ops autodiff, the optimizer and the fusion passes write print and
// parse back to themselves: the gradient halves, parameter writes, the
// masks of maximum's derivative, and every fused form.

ra.param @w : tensor<6xf32> {init = "ones", decay = false}
ra.param @alpha : tensor<f32> {init = "const", init_value = 0.3 : f64, decay = false}

// CHECK-LABEL: func.func @gradients
func.func @gradients(%x: tensor<2x6xf32>, %g: tensor<2x6xf32>, %ids: tensor<2xi32>, %dl: tensor<f32>) -> (tensor<2x6xf32>, tensor<2x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<5x6xf32>, tensor<2x6xf32>, tensor<2x6xf32>, tensor<2x6xf32>) {
  %w = ra.get_param @w : tensor<6xf32>
  // CHECK: ra.gelu_grad %{{.*}}, %{{.*}} : tensor<2x6xf32>
  %0 = ra.gelu_grad %x, %g : tensor<2x6xf32>
  // CHECK: ra.causal_mean_grad %{{.*}} {axis = 0 : i64} : tensor<2x6xf32>
  %1 = ra.causal_mean_grad %g {axis = 0} : tensor<2x6xf32>
  // CHECK: ra.layernorm_grad %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x6xf32>, tensor<6xf32>, tensor<2x6xf32>) -> (tensor<2x6xf32>, tensor<6xf32>, tensor<6xf32>)
  %2:3 = ra.layernorm_grad %x, %w, %g : (tensor<2x6xf32>, tensor<6xf32>, tensor<2x6xf32>) -> (tensor<2x6xf32>, tensor<6xf32>, tensor<6xf32>)
  // CHECK: ra.embedding_grad %{{.*}}, %{{.*}} : (tensor<2xi32>, tensor<2x6xf32>) -> tensor<5x6xf32>
  %3 = ra.embedding_grad %ids, %g : (tensor<2xi32>, tensor<2x6xf32>) -> tensor<5x6xf32>
  // CHECK: ra.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x6xf32>, tensor<2xi32>, tensor<f32>) -> tensor<2x6xf32>
  %4 = ra.cross_entropy_grad %x, %ids, %dl : (tensor<2x6xf32>, tensor<2xi32>, tensor<f32>) -> tensor<2x6xf32>
  // CHECK: ra.maximum %{{.*}}, %{{.*}} : tensor<2x6xf32>
  %5 = ra.maximum %x, %g : tensor<2x6xf32>
  // CHECK: ra.ge %{{.*}}, %{{.*}} : tensor<2x6xf32>
  %6 = ra.ge %x, %g : tensor<2x6xf32>
  // CHECK: ra.set_param @w, %{{.*}} : tensor<6xf32>
  ra.set_param @w, %2#1 : tensor<6xf32>
  return %0, %1, %2#1, %2#2, %3, %4, %5, %6 : tensor<2x6xf32>, tensor<2x6xf32>, tensor<6xf32>, tensor<6xf32>, tensor<5x6xf32>, tensor<2x6xf32>, tensor<2x6xf32>, tensor<2x6xf32>
}

// CHECK-LABEL: func.func @attention_gradients
func.func @attention_gradients(%q: tensor<1x2x4x8xf32>, %kl: tensor<1x4x8xf32>, %v: tensor<1x2x4x3xf32>, %a: tensor<1x4x5xf32>, %dy: tensor<1x2x4x3xf32>, %dm: tensor<1x4x5xf32>, %gate: tensor<1x2x4x1xf32>) -> (tensor<1x2x4x8xf32>, tensor<f32>, tensor<1x2x4x3xf32>, tensor<1x4x5xf32>, tensor<1x4x8xf32>, tensor<1x2x4x1xf32>, tensor<1x4x5xf32>) {
  %alpha = ra.get_param @alpha : tensor<f32>
  // CHECK: ra.attention_grad %{{.*}}, %{{.*}}, %{{.*}} reciprocal(%{{.*}} : tensor<f32>) grad(%{{.*}}) {band = 2 : i64, causal, scale = 5.000000e-01 : f64}
  %0:4 = ra.attention_grad %q, %kl, %v reciprocal(%alpha : tensor<f32>) grad(%dy) {causal, scale = 0.5, band = 2} : tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32> -> tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x2x4x3xf32>, tensor<f32>
  // CHECK: ra.flash_attention %{{.*}}, %{{.*}}, %{{.*}} {causal, scale = 5.000000e-01 : f64} : tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x2x4x3xf32> -> tensor<1x2x4x3xf32>, tensor<1x2x4xf32>
  %y, %lse = ra.flash_attention %q, %kl, %v {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x2x4x3xf32> -> tensor<1x2x4x3xf32>, tensor<1x2x4xf32>
  // CHECK: ra.flash_attention_grad %{{.*}}, %{{.*}}, %{{.*}} result(%{{.*}}, %{{.*}}) grad(%{{.*}})
  %1:3 = ra.flash_attention_grad %q, %kl, %v result(%y, %lse) grad(%dy) {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4xf32>, tensor<1x2x4x3xf32> -> tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x2x4x3xf32>
  // CHECK: ra.gated_flash_attention %{{.*}}, %{{.*}}, %{{.*}} gate(%{{.*}})
  %g:3 = ra.gated_flash_attention %q, %kl, %v gate(%gate) {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4x1xf32> -> tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4xf32>
  // CHECK: ra.gated_flash_attention_grad %{{.*}}, %{{.*}}, %{{.*}} gate(%{{.*}}) result(%{{.*}}, %{{.*}}) grad(%{{.*}})
  %2:4 = ra.gated_flash_attention_grad %q, %kl, %v gate(%gate) result(%g#1, %g#2) grad(%dy) {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4x1xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4xf32>, tensor<1x2x4x3xf32> -> tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4x1xf32>
  // CHECK: ra.head_mean_attention %{{.*}}, %{{.*}}, %{{.*}} lse(%{{.*}}) {causal, scale = 5.000000e-01 : f64} : tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x5xf32>, tensor<1x2x4xf32> -> tensor<1x4x5xf32>
  %3 = ra.head_mean_attention %q, %kl, %a lse(%lse) {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x5xf32>, tensor<1x2x4xf32> -> tensor<1x4x5xf32>
  // CHECK: ra.head_mean_attention_grad %{{.*}}, %{{.*}}, %{{.*}} lse(%{{.*}}) grad(%{{.*}})
  %4:3 = ra.head_mean_attention_grad %q, %kl, %a lse(%lse) grad(%dm) {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x5xf32>, tensor<1x2x4xf32>, tensor<1x4x5xf32> -> tensor<1x2x4x8xf32>, tensor<1x4x8xf32>, tensor<1x4x5xf32>
  return %0#0, %0#3, %2#2, %3, %4#1, %2#3, %4#2 : tensor<1x2x4x8xf32>, tensor<f32>, tensor<1x2x4x3xf32>, tensor<1x4x5xf32>, tensor<1x4x8xf32>, tensor<1x2x4x1xf32>, tensor<1x4x5xf32>
}

// CHECK-LABEL: func.func @fused
func.func @fused(%l: tensor<2x6xf32>, %ids: tensor<2xi32>, %x: tensor<2x6xf32>, %b: tensor<6xf32>) -> (tensor<f32>, tensor<2x6xf32>, tensor<2x6xf32>) {
  %one = ra.constant 1.0 : tensor<f32>
  // CHECK: ra.cross_entropy_with_grad %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x6xf32>, tensor<2xi32>, tensor<f32>) -> (tensor<f32>, tensor<2x6xf32>)
  %0:2 = ra.cross_entropy_with_grad %l, %ids, %one : (tensor<2x6xf32>, tensor<2xi32>, tensor<f32>) -> (tensor<f32>, tensor<2x6xf32>)
  // CHECK: ra.fused_elementwise %{{.*}}, %{{.*}} : (tensor<2x6xf32>, tensor<6xf32>) -> tensor<2x6xf32> {
  // CHECK: ^bb0(%[[X:.*]]: tensor<f32>, %[[B:.*]]: tensor<f32>):
  // CHECK:   %[[S:.*]] = ra.add %[[X]], %[[B]] : tensor<f32>
  // CHECK:   ra.yield %{{.*}} : tensor<f32>
  %1 = ra.fused_elementwise %x, %b : (tensor<2x6xf32>, tensor<6xf32>) -> tensor<2x6xf32> {
  ^bb0(%e: tensor<f32>, %f: tensor<f32>):
    %s = ra.add %e, %f : tensor<f32>
    %g = ra.gelu %s : tensor<f32>
    ra.yield %g : tensor<f32>
  }
  return %0#0, %0#1, %1 : tensor<f32>, tensor<2x6xf32>, tensor<2x6xf32>
}
