// RUN: racc-opt %s --absorb-latent-weights | FileCheck %s
// MLA's weight absorption in inference entry points, where it costs fewer
// multiply-adds: W_q W_ql into one [D, H R] query weight, W_vu W_o into one
// [H R, D] output weight over attention on the latent values. The decision
// is shown on the matmul either way.

// 16 tokens: absorbing both pairs is cheaper (folds included).
// CHECK-LABEL: func.func @forward
func.func @forward(%x: tensor<1x16x8xf32>, %wq: tensor<8x8xf32>, %bq: tensor<8xf32>,
                   %wql: tensor<2x4x2xf32>, %kl: tensor<1x16x2xf32>, %vl: tensor<1x16x2xf32>,
                   %wvu: tensor<2x8xf32>, %wo: tensor<8x8xf32>) -> tensor<1x16x8xf32>
    attributes {ra.outputs = ["out"]} {
  // CHECK-NOT: ra.broadcast %arg2
  // CHECK: %[[T:.*]] = ra.transpose %{{.*}} {permutation = array<i64: 1, 0, 2>} : tensor<8x2x4xf32> -> tensor<2x8x4xf32>
  // CHECK: %[[F:.*]] = ra.matmul %[[T]], %arg3 : tensor<2x8x4xf32>, tensor<2x4x2xf32> -> tensor<2x8x2xf32>
  // CHECK: %[[Q:.*]] = ra.matmul %arg0, %{{.*}} {ra.absorb = {absorbed = true, absorbed_macs = 656 : i64, kept_macs = 1280 : i64, weights = "W_q W_ql"}} : tensor<1x16x8xf32>, tensor<8x4xf32> -> tensor<1x16x4xf32>
  // CHECK: ra.matmul %{{.*}}, %arg3 : tensor<2x1x4xf32>, tensor<2x4x2xf32> -> tensor<2x1x2xf32>
  // CHECK: %[[QL:.*]] = ra.transpose %{{.*}} {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x16x2x2xf32> -> tensor<1x2x16x2xf32>
  %q = ra.matmul %x, %wq : tensor<1x16x8xf32>, tensor<8x8xf32> -> tensor<1x16x8xf32>
  %bb = ra.broadcast %bq : tensor<8xf32> -> tensor<1x16x8xf32>
  %qb = ra.add %q, %bb : tensor<1x16x8xf32>
  %qh = ra.reshape %qb : tensor<1x16x8xf32> -> tensor<1x16x2x4xf32>
  %qt = ra.transpose %qh {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x16x2x4xf32> -> tensor<1x2x16x4xf32>
  %ql = ra.matmul %qt, %wql : tensor<1x2x16x4xf32>, tensor<2x4x2xf32> -> tensor<1x2x16x2xf32>
  // CHECK: %[[WVO:.*]] = ra.reshape %{{.*}} : tensor<2x2x8xf32> -> tensor<4x8xf32>
  // CHECK: %[[Y:.*]] = ra.attention %[[QL]], %arg4, %arg5 {causal, scale = 5.000000e-01 : f64} : tensor<1x2x16x2xf32>, tensor<1x16x2xf32>, tensor<1x16x2xf32> -> tensor<1x2x16x2xf32>
  // CHECK: %[[O:.*]] = ra.matmul %{{.*}}, %[[WVO]] {ra.absorb = {absorbed = true, absorbed_macs = 1184 : i64, kept_macs = 2368 : i64, weights = "W_vu W_o"}} : tensor<1x16x4xf32>, tensor<4x8xf32> -> tensor<1x16x8xf32>
  %v = ra.matmul %vl, %wvu : tensor<1x16x2xf32>, tensor<2x8xf32> -> tensor<1x16x8xf32>
  %vh = ra.reshape %v : tensor<1x16x8xf32> -> tensor<1x16x2x4xf32>
  %vt = ra.transpose %vh {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x16x2x4xf32> -> tensor<1x2x16x4xf32>
  %y = ra.attention %ql, %kl, %vt {causal, scale = 0.5 : f64} : tensor<1x2x16x2xf32>, tensor<1x16x2xf32>, tensor<1x2x16x4xf32> -> tensor<1x2x16x4xf32>
  %yt = ra.transpose %y {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x2x16x4xf32> -> tensor<1x16x2x4xf32>
  %ym = ra.reshape %yt : tensor<1x16x2x4xf32> -> tensor<1x16x8xf32>
  %o = ra.matmul %ym, %wo : tensor<1x16x8xf32>, tensor<8x8xf32> -> tensor<1x16x8xf32>
  // CHECK-NOT: tensor<1x2x16x4xf32>
  // CHECK: return %[[O]]
  return %o : tensor<1x16x8xf32>
}

// 2 tokens: folding the weights every call costs more than it saves; the
// ops stay and say so.
// CHECK-LABEL: func.func @short
func.func @short(%x: tensor<1x2x8xf32>, %wq: tensor<8x8xf32>, %wql: tensor<2x4x2xf32>)
    -> tensor<1x2x2x2xf32> attributes {ra.outputs = ["q_l"]} {
  // CHECK: ra.matmul %arg0, %arg1 : tensor<1x2x8xf32>, tensor<8x8xf32>
  // CHECK: ra.matmul %{{.*}}, %arg2 {ra.absorb = {absorbed = false, absorbed_macs = 208 : i64, kept_macs = 160 : i64, weights = "W_q W_ql"}}
  %q = ra.matmul %x, %wq : tensor<1x2x8xf32>, tensor<8x8xf32> -> tensor<1x2x8xf32>
  %qh = ra.reshape %q : tensor<1x2x8xf32> -> tensor<1x2x2x4xf32>
  %qt = ra.transpose %qh {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x2x2x4xf32> -> tensor<1x2x2x4xf32>
  %ql = ra.matmul %qt, %wql : tensor<1x2x2x4xf32>, tensor<2x4x2xf32> -> tensor<1x2x2x2xf32>
  return %ql : tensor<1x2x2x2xf32>
}

// An entry point that returns gradients trains W_q and W_ql: left alone.
// CHECK-LABEL: func.func @grad
func.func @grad(%x: tensor<1x16x8xf32>, %wq: tensor<8x8xf32>, %wql: tensor<2x4x2xf32>)
    -> tensor<1x2x16x2xf32> attributes {ra.outputs = ["grad.w_q"]} {
  // CHECK-NOT: ra.absorb
  // CHECK: ra.matmul %arg0, %arg1 : tensor<1x16x8xf32>, tensor<8x8xf32>
  %q = ra.matmul %x, %wq : tensor<1x16x8xf32>, tensor<8x8xf32> -> tensor<1x16x8xf32>
  %qh = ra.reshape %q : tensor<1x16x8xf32> -> tensor<1x16x2x4xf32>
  %qt = ra.transpose %qh {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x16x2x4xf32> -> tensor<1x2x16x4xf32>
  %ql = ra.matmul %qt, %wql : tensor<1x2x16x4xf32>, tensor<2x4x2xf32> -> tensor<1x2x16x2xf32>
  return %ql : tensor<1x2x16x2xf32>
}
