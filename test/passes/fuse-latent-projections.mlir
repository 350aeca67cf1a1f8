// RUN: racc-opt %s --fuse-latent-projections | FileCheck %s
// Two projections of one activation to one width: one GEMM against the
// stacked weights; the results are ranges of its leading axis.

ra.param @w_kd : tensor<8x4xf32> {init = "normal", init_value = 0.02 : f64, decay = true}
ra.param @w_vd : tensor<8x4xf32> {init = "normal", init_value = 0.02 : f64, decay = true}
ra.param @w_q : tensor<8x8xf32> {init = "normal", init_value = 0.02 : f64, decay = true}

// CHECK-LABEL: func.func @latents
func.func @latents(%x: tensor<2x3x8xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x8xf32>) {
  %kd = ra.get_param @w_kd : tensor<8x4xf32>
  %vd = ra.get_param @w_vd : tensor<8x4xf32>
  %q = ra.get_param @w_q : tensor<8x8xf32>
  // CHECK: %[[W:.*]] = ra.concat {{.*}} {axis = 0 : i64} : (tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<2x8x4xf32>
  // CHECK: %[[X:.*]] = ra.reshape %arg0 : tensor<2x3x8xf32> -> tensor<6x8xf32>
  // CHECK: %[[Y:.*]] = ra.matmul %[[X]], %[[W]] : tensor<6x8xf32>, tensor<2x8x4xf32> -> tensor<2x6x4xf32>
  // CHECK: ra.slice %[[Y]] {axis = 0 : i64, end = 1 : i64, start = 0 : i64}
  // CHECK: ra.slice %[[Y]] {axis = 0 : i64, end = 2 : i64, start = 1 : i64}
  %k = ra.matmul %x, %kd : tensor<2x3x8xf32>, tensor<8x4xf32> -> tensor<2x3x4xf32>
  %v = ra.matmul %x, %vd : tensor<2x3x8xf32>, tensor<8x4xf32> -> tensor<2x3x4xf32>
  // Another width: left alone.
  // CHECK: ra.matmul %arg0, {{.*}} : tensor<2x3x8xf32>, tensor<8x8xf32> -> tensor<2x3x8xf32>
  %y = ra.matmul %x, %q : tensor<2x3x8xf32>, tensor<8x8xf32> -> tensor<2x3x8xf32>
  return %k, %v, %y : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x8xf32>
}
