// RUN: racc-opt %s --ra-check-unused-params --verify-diagnostics | FileCheck %s
// A parameter the loss cannot reach is reported and marked.

// CHECK: ra.param @used : tensor<4x4xf32> {decay = true, init = "zeros"}
ra.param @used : tensor<4x4xf32> {init = "zeros", decay = true}
// CHECK: ra.param @spare : tensor<4x4xf32> {decay = true, init = "zeros", ra.unused}
// expected-warning @+1 {{parameter 'spare' cannot affect the loss; it would never train}}
ra.param @spare : tensor<4x4xf32> {init = "zeros", decay = true}

func.func @forward(%x: tensor<2x4xf32>, %t: tensor<2xi32>) -> (tensor<f32>, tensor<2x4xf32>) attributes {ra.outputs = ["loss", "aux"]} {
  %w = ra.get_param @used : tensor<4x4xf32>
  %s = ra.get_param @spare : tensor<4x4xf32>
  %h = ra.matmul %x, %w : tensor<2x4xf32>, tensor<4x4xf32> -> tensor<2x4xf32>
  %loss = ra.cross_entropy %h, %t : tensor<2x4xf32>, tensor<2xi32> -> tensor<f32>
  // `aux` uses @spare, but only `loss` trains.
  %aux = ra.matmul %x, %s : tensor<2x4xf32>, tensor<4x4xf32> -> tensor<2x4xf32>
  return %loss, %aux : tensor<f32>, tensor<2x4xf32>
}
