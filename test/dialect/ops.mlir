// RUN: racc-opt %s | racc-opt | FileCheck %s
// Every op prints and parses back to itself.

ra.param @w : tensor<4x6xf32> {init = "normal", init_value = 0.02 : f64, decay = true}
ra.param @alpha : tensor<f32> {init = "const", init_value = 0.3 : f64, decay = false, mechanism = "ra"}
// CHECK: ra.param @w : tensor<4x6xf32> {decay = true, init = "normal", init_value = 2.000000e-02 : f64}
// CHECK: ra.param @alpha : tensor<f32> {decay = false, init = "const", init_value = 3.000000e-01 : f64, mechanism = "ra"}

// CHECK-LABEL: func.func @elementwise
func.func @elementwise(%a: tensor<2x4xf32>, %b: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  // CHECK: ra.add %{{.*}}, %{{.*}} : tensor<2x4xf32>
  %0 = ra.add %a, %b : tensor<2x4xf32>
  %1 = ra.sub %0, %b : tensor<2x4xf32>
  %2 = ra.mul %1, %a : tensor<2x4xf32>
  %3 = ra.div %2, %b : tensor<2x4xf32>
  // CHECK: ra.gelu %{{.*}} : tensor<2x4xf32>
  %4 = ra.gelu %3 : tensor<2x4xf32>
  %5 = ra.exp %4 : tensor<2x4xf32>
  %6 = ra.log %5 : tensor<2x4xf32>
  %7 = ra.tanh %6 : tensor<2x4xf32>
  %8 = ra.sigmoid %7 : tensor<2x4xf32>
  %9 = ra.sqrt %8 : tensor<2x4xf32>
  %10 = ra.rsqrt %9 : tensor<2x4xf32>
  // CHECK: ra.abs %{{.*}} : tensor<2x4xf32>
  %abs = ra.abs %10 : tensor<2x4xf32>
  %11 = ra.neg %abs : tensor<2x4xf32>
  // CHECK: ra.constant 5.000000e-01 : tensor<2x4xf32>
  %12 = ra.constant 0.5 : tensor<2x4xf32>
  // CHECK: ra.iota {axis = 1 : i64} : tensor<2x4xf32>
  %13 = ra.iota {axis = 1} : tensor<2x4xf32>
  %14 = ra.add %12, %13 : tensor<2x4xf32>
  return %11, %14 : tensor<2x4xf32>, tensor<2x4xf32>
}

// CHECK-LABEL: func.func @contractions
func.func @contractions(%x: tensor<2x3x4xf32>, %ids: tensor<2x3xi32>, %t: tensor<5x4xf32>) -> (tensor<2x3x6xf32>, tensor<2x3xf32>, tensor<2x1x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<f32>) {
  %w = ra.get_param @w : tensor<4x6xf32>
  // CHECK: ra.matmul %{{.*}}, %{{.*}} : tensor<2x3x4xf32>, tensor<4x6xf32> -> tensor<2x3x6xf32>
  %0 = ra.matmul %x, %w : tensor<2x3x4xf32>, tensor<4x6xf32> -> tensor<2x3x6xf32>
  // CHECK: ra.reduce_sum %{{.*}} {axis = 2 : i64} : tensor<2x3x4xf32> -> tensor<2x3xf32>
  %1 = ra.reduce_sum %x {axis = 2} : tensor<2x3x4xf32> -> tensor<2x3xf32>
  // CHECK: ra.reduce_mean %{{.*}} {axis = 1 : i64, keepdim} : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  %2 = ra.reduce_mean %x {axis = 1, keepdim} : tensor<2x3x4xf32> -> tensor<2x1x4xf32>
  %3 = ra.reduce_max %x {axis = 0} : tensor<2x3x4xf32> -> tensor<3x4xf32>
  // CHECK: ra.causal_mean %{{.*}} {axis = 1 : i64} : tensor<2x3x4xf32>
  %4 = ra.causal_mean %x {axis = 1} : tensor<2x3x4xf32>
  %5 = ra.softmax %4 : tensor<2x3x4xf32>
  // CHECK: ra.embedding %{{.*}}, %{{.*}} : tensor<5x4xf32>, tensor<2x3xi32> -> tensor<2x3x4xf32>
  %6 = ra.embedding %t, %ids : tensor<5x4xf32>, tensor<2x3xi32> -> tensor<2x3x4xf32>
  %7 = ra.slice %6 {axis = 2, start = 0, end = 4} : tensor<2x3x4xf32> -> tensor<2x3x4xf32>
  // CHECK: ra.cross_entropy %{{.*}}, %{{.*}} : tensor<2x3x4xf32>, tensor<2x3xi32> -> tensor<f32>
  %8 = ra.cross_entropy %7, %ids : tensor<2x3x4xf32>, tensor<2x3xi32> -> tensor<f32>
  return %0, %1, %2, %5, %7, %8 : tensor<2x3x6xf32>, tensor<2x3xf32>, tensor<2x1x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<f32>
}

// CHECK-LABEL: func.func @attention_forms
func.func @attention_forms(%q: tensor<2x4x8x16xf32>, %k: tensor<2x4x8x16xf32>, %kl: tensor<2x8x16xf32>, %v: tensor<2x4x8x5xf32>, %vl: tensor<2x8x7xf32>) -> (tensor<2x4x8x5xf32>, tensor<2x4x8x7xf32>) {
  %alpha = ra.get_param @alpha : tensor<f32>
  // CHECK: ra.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, scale = 2.500000e-01 : f64} : tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x5xf32> -> tensor<2x4x8x5xf32>
  %0 = ra.attention %q, %k, %v {causal, scale = 0.25} : tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x5xf32> -> tensor<2x4x8x5xf32>
  // MLA latent keys and values shared by all heads, with the RA term in a band.
  // CHECK: ra.attention %{{.*}}, %{{.*}}, %{{.*}} reciprocal(%{{.*}} : tensor<f32>) {band = 3 : i64, causal, scale = 2.500000e-01 : f64}
  %1 = ra.attention %q, %kl, %vl reciprocal(%alpha : tensor<f32>) {causal, scale = 0.25, band = 3} : tensor<2x4x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x7xf32> -> tensor<2x4x8x7xf32>
  return %0, %1 : tensor<2x4x8x5xf32>, tensor<2x4x8x7xf32>
}

// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: tensor<2x6xf32>, %y: tensor<2x3xf32>, %b: tensor<6xf32>, %w: tensor<6xf32>) -> (tensor<3x2x2xf32>, tensor<2x9xf32>, tensor<4x2x6xf32>, tensor<2x6xf32>) {
  // CHECK: ra.reshape %{{.*}} : tensor<2x6xf32> -> tensor<2x3x2xf32>
  %0 = ra.reshape %x : tensor<2x6xf32> -> tensor<2x3x2xf32>
  // CHECK: ra.transpose %{{.*}} {permutation = array<i64: 1, 0, 2>} : tensor<2x3x2xf32> -> tensor<3x2x2xf32>
  %1 = ra.transpose %0 {permutation = array<i64: 1, 0, 2>} : tensor<2x3x2xf32> -> tensor<3x2x2xf32>
  // CHECK: ra.concat %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<2x6xf32>, tensor<2x3xf32>) -> tensor<2x9xf32>
  %2 = ra.concat %x, %y {axis = 1} : (tensor<2x6xf32>, tensor<2x3xf32>) -> tensor<2x9xf32>
  // CHECK: ra.broadcast %{{.*}} : tensor<2x6xf32> -> tensor<4x2x6xf32>
  %3 = ra.broadcast %x : tensor<2x6xf32> -> tensor<4x2x6xf32>
  // The default eps (1e-5) is elided; others print.
  // CHECK: ra.layernorm %{{.*}}, %{{.*}}, %{{.*}} {eps = 5.000000e-01 : f64}
  %4 = ra.layernorm %x, %w, %b {eps = 0.5} : tensor<2x6xf32>, tensor<6xf32>, tensor<6xf32> -> tensor<2x6xf32>
  return %1, %2, %3, %4 : tensor<3x2x2xf32>, tensor<2x9xf32>, tensor<4x2x6xf32>, tensor<2x6xf32>
}

// Paged: pools of 5 blocks of 4 positions read through a block table of 3
// blocks per sequence (12 positions each); RA's kept queries a pool too;
// the caches in f16.
// CHECK-LABEL: func.func @paged_decoding
func.func @paged_decoding(%q: tensor<2x4x1x8xf32>, %kp: tensor<5x4x8xf16>, %kn: tensor<2x1x8xf32>,
                          %vp: tensor<5x4x4x6xf16>, %vn: tensor<2x4x1x6xf32>, %pos: tensor<2xi32>,
                          %a: tensor<f32>, %qp: tensor<5x4x4x5xf16>, %kr: tensor<2x4x1x5xf32>,
                          %table: tensor<2x3xi32>) -> tensor<2x4x1x6xf32> {
  // CHECK: ra.cached_attention %arg0, %arg1, %arg2, %arg3, %arg4, %arg5 reciprocal(%arg6, %arg7, %arg8 : tensor<f32>, tensor<5x4x4x5xf16>, tensor<2x4x1x5xf32>) blocks(%arg9 : tensor<2x3xi32>) {paged_queries, scale = 2.500000e-01 : f64}
  %0 = ra.cached_attention %q, %kp, %kn, %vp, %vn, %pos reciprocal(%a, %qp, %kr : tensor<f32>,
      tensor<5x4x4x5xf16>, tensor<2x4x1x5xf32>) blocks(%table : tensor<2x3xi32>)
      {paged_queries, scale = 0.25 : f64}
      : tensor<2x4x1x8xf32>, tensor<5x4x8xf16>, tensor<2x1x8xf32>, tensor<5x4x4x6xf16>,
        tensor<2x4x1x6xf32>, tensor<2xi32> -> tensor<2x4x1x6xf32>
  return %0 : tensor<2x4x1x6xf32>
}

// The decoding forms derive-decoding writes into @decode.
// CHECK-LABEL: func.func @decoding
func.func @decoding(%q: tensor<2x4x1x8xf32>, %kp: tensor<2x16x8xf32>, %kn: tensor<2x1x8xf32>,
                    %vp: tensor<2x4x16x6xf32>, %vn: tensor<2x4x1x6xf32>, %pos: tensor<2xi32>,
                    %a: tensor<f32>, %ring: tensor<2x4x3x5xf32>, %kr: tensor<2x4x1x5xf32>,
                    %sum: tensor<2x1x6xf32>, %x: tensor<2x1x6xf32>)
    -> (tensor<2x4x1x6xf32>, tensor<2x4x1x6xf32>, tensor<2x1x6xf32>) {
  // CHECK: ra.cached_attention %arg0, %arg1, %arg2, %arg3, %arg4, %arg5 {scale = 2.500000e-01 : f64}
  %0 = ra.cached_attention %q, %kp, %kn, %vp, %vn, %pos {scale = 0.25 : f64}
      : tensor<2x4x1x8xf32>, tensor<2x16x8xf32>, tensor<2x1x8xf32>, tensor<2x4x16x6xf32>,
        tensor<2x4x1x6xf32>, tensor<2xi32> -> tensor<2x4x1x6xf32>
  // CHECK: ra.cached_attention %arg0, %arg1, %arg2, %arg3, %arg4, %arg5 reciprocal(%arg6, %arg7, %arg8 : tensor<f32>, tensor<2x4x3x5xf32>, tensor<2x4x1x5xf32>) {band = 3 : i64, scale = 2.500000e-01 : f64}
  %1 = ra.cached_attention %q, %kp, %kn, %vp, %vn, %pos reciprocal(%a, %ring, %kr : tensor<f32>,
      tensor<2x4x3x5xf32>, tensor<2x4x1x5xf32>) {band = 3 : i64, scale = 0.25 : f64}
      : tensor<2x4x1x8xf32>, tensor<2x16x8xf32>, tensor<2x1x8xf32>, tensor<2x4x16x6xf32>,
        tensor<2x4x1x6xf32>, tensor<2xi32> -> tensor<2x4x1x6xf32>
  // CHECK: ra.running_mean %arg9, %arg10, %arg5 {axis = 1 : i64} : tensor<2x1x6xf32>, tensor<2xi32>
  %2 = ra.running_mean %sum, %x, %pos {axis = 1 : i64} : tensor<2x1x6xf32>, tensor<2xi32>
  return %0, %1, %2 : tensor<2x4x1x6xf32>, tensor<2x4x1x6xf32>, tensor<2x1x6xf32>
}
