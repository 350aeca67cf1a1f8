// RUN: racc-opt %s -split-input-file -verify-diagnostics
// Each verifier speaks in terms a model author understands.

func.func @matmul_k(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) {
  // expected-error @+1 {{matmul: inner dimensions differ: lhs [2, 3] has K = 3 but rhs [4, 5] has K = 4}}
  %0 = ra.matmul %a, %b : tensor<2x3xf32>, tensor<4x5xf32> -> tensor<2x5xf32>
  return
}

// -----

func.func @matmul_batch(%a: tensor<2x3x4xf32>, %b: tensor<5x4x6xf32>) {
  // expected-error @+1 {{matmul: batch dimensions [2] and [5] do not broadcast}}
  %0 = ra.matmul %a, %b : tensor<2x3x4xf32>, tensor<5x4x6xf32> -> tensor<2x3x6xf32>
  return
}

// -----

func.func @matmul_result(%a: tensor<2x3xf32>, %b: tensor<3x5xf32>) {
  // expected-error @+1 {{'ra.matmul' op inferred type(s) 'tensor<2x5xf32>' are incompatible with return type(s) of operation 'tensor<2x6xf32>'}}
  %0 = ra.matmul %a, %b : tensor<2x3xf32>, tensor<3x5xf32> -> tensor<2x6xf32>
  return
}

// -----

func.func @reduce_axis(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{reduce_sum: axis 2 is out of range for a tensor of rank 2}}
  %0 = ra.reduce_sum %a {axis = 2} : tensor<2x3xf32> -> tensor<2xf32>
  return
}

// -----

func.func @layernorm_weight(%x: tensor<2x6xf32>, %w: tensor<5xf32>) {
  // expected-error @+1 {{layernorm: weight [5] and bias [5] must both be [6], the last dimension of the input [2, 6]}}
  %0 = ra.layernorm %x, %w, %w : tensor<2x6xf32>, tensor<5xf32>, tensor<5xf32> -> tensor<2x6xf32>
  return
}

// -----

func.func @attention_width(%q: tensor<2x4x8x16xf32>, %k: tensor<2x4x8x8xf32>) {
  // expected-error @+1 {{attention: q [2, 4, 8, 16] and k [2, 4, 8, 8] differ in feature width (16 vs 8)}}
  %0 = ra.attention %q, %k, %k {causal, scale = 0.25} : tensor<2x4x8x16xf32>, tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32> -> tensor<2x4x8x8xf32>
  return
}

// -----

func.func @attention_band(%q: tensor<2x4x8x16xf32>) {
  // expected-error @+1 {{a band applies to the reciprocal term only; add reciprocal(alpha)}}
  %0 = ra.attention %q, %q, %q {causal, scale = 0.25, band = 4} : tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @attention_causal_lengths(%q: tensor<2x4x8x16xf32>, %k: tensor<2x4x6x16xf32>) {
  // expected-error @+1 {{causal and reciprocal attention need as many queries as keys, got 8 and 6}}
  %0 = ra.attention %q, %k, %k {causal, scale = 0.25} : tensor<2x4x8x16xf32>, tensor<2x4x6x16xf32>, tensor<2x4x6x16xf32> -> tensor<2x4x8x16xf32>
  return
}

// -----

func.func @cross_entropy_targets(%l: tensor<2x3x5xf32>, %t: tensor<2x4xi32>) {
  // expected-error @+1 {{cross_entropy: targets [2, 4] must have the shape of the logits without the vocabulary axis, [2, 3]}}
  %0 = ra.cross_entropy %l, %t : tensor<2x3x5xf32>, tensor<2x4xi32> -> tensor<f32>
  return
}

// -----

func.func @reshape_count(%x: tensor<2x6xf32>) {
  // expected-error @+1 {{cannot reshape [2, 6] (12 elements) to [5, 2] (10 elements)}}
  %0 = ra.reshape %x : tensor<2x6xf32> -> tensor<5x2xf32>
  return
}

// -----

func.func @transpose_perm(%x: tensor<2x6xf32>) {
  // expected-error @+1 {{transpose: [0, 0] is not a permutation of the 2 axes of [2, 6]}}
  %0 = ra.transpose %x {permutation = array<i64: 0, 0>} : tensor<2x6xf32> -> tensor<2x2xf32>
  return
}

// -----

func.func @broadcast_shape(%x: tensor<2x6xf32>) {
  // expected-error @+1 {{cannot broadcast [2, 6] to [3, 6]}}
  %0 = ra.broadcast %x : tensor<2x6xf32> -> tensor<3x6xf32>
  return
}

// -----

func.func @slice_range(%x: tensor<2x6xf32>) {
  // expected-error @+1 {{slice: range [4, 8) is empty or outside axis 1 of size 6}}
  %0 = ra.slice %x {axis = 1, start = 4, end = 8} : tensor<2x6xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @concat_mismatch(%x: tensor<2x6xf32>, %y: tensor<3x6xf32>) {
  // expected-error @+1 {{concat: [3, 6] and [2, 6] differ outside axis 1}}
  %0 = ra.concat %x, %y {axis = 1} : (tensor<2x6xf32>, tensor<3x6xf32>) -> tensor<2x12xf32>
  return
}

// -----

func.func @embedding_table(%t: tensor<5xf32>, %ids: tensor<2xi32>) {
  // expected-error @+1 {{embedding: the table must be [V, D], got [5]}}
  %0 = ra.embedding %t, %ids : tensor<5xf32>, tensor<2xi32> -> tensor<2xf32>
  return
}

// -----

// expected-error @+1 {{parameter 'w': normal(std) needs a finite std > 0, got -1}}
ra.param @w : tensor<4xf32> {init = "normal", init_value = -1.0 : f64, decay = false}

// -----

// expected-error @+1 {{unknown initializer 'uniform' (expected normal, zeros, ones or const)}}
ra.param @w : tensor<4xf32> {init = "uniform", decay = false}

// -----

ra.param @w : tensor<4xf32> {init = "zeros", decay = false}
func.func @get_param_type() {
  // expected-error @+1 {{type 'tensor<5xf32>' differs from parameter 'w' of type 'tensor<4xf32>'}}
  %0 = ra.get_param @w : tensor<5xf32>
  return
}

// -----

func.func @get_param_missing() {
  // expected-error @+1 {{no parameter named 'nope'}}
  %0 = ra.get_param @nope : tensor<5xf32>
  return
}

// -----

func.func @integer_arith(%a: tensor<2xi32>) {
  // expected-error @+1 {{must be statically shaped tensor of 32-bit float values}}
  %0 = ra.add %a, %a : tensor<2xi32>
  return
}

// -----

// The attention forms' own verifiers, beyond the scores every form shares.
func.func @flash_lse(%q: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x3xf32>) {
  // expected-error @+1 {{lse [B, H, Tq] must be 'tensor<1x2x4xf32>', got 'tensor<1x2x5xf32>'}}
  %y, %lse = ra.flash_attention %q, %q, %v {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x3xf32> -> tensor<1x2x4x3xf32>, tensor<1x2x5xf32>
  return
}

// -----

func.func @gate_shape(%q: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x3xf32>, %gate: tensor<1x2x4x3xf32>) {
  // expected-error @+1 {{gate [B, H, Tq, 1] must be 'tensor<1x2x4x1xf32>'}}
  %g:3 = ra.gated_flash_attention %q, %q, %v gate(%gate) {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32> -> tensor<1x2x4x3xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4xf32>
  return
}

// -----

func.func @head_mean_per_head_values(%q: tensor<1x2x4x8xf32>, %v: tensor<1x2x4x3xf32>, %lse: tensor<1x2x4xf32>) {
  // expected-error @+1 {{v must be [B, Tk, Dv], shared by every head, got [1, 2, 4, 3]}}
  %0 = ra.head_mean_attention %q, %q, %v lse(%lse) {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x3xf32>, tensor<1x2x4xf32> -> tensor<1x4x3xf32>
  return
}

// -----

ra.param @alpha : tensor<f32> {init = "const", init_value = 0.3 : f64, decay = false}
func.func @alpha_grad_missing(%q: tensor<1x2x4x8xf32>, %dy: tensor<1x2x4x8xf32>) {
  %alpha = ra.get_param @alpha : tensor<f32>
  // expected-error @+1 {{has alpha_grad exactly when it has reciprocal(alpha)}}
  %0:3 = ra.attention_grad %q, %q, %q reciprocal(%alpha : tensor<f32>) grad(%dy) {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
  return
}

// -----

func.func @grad_shape(%q: tensor<1x2x4x8xf32>, %dy: tensor<1x2x4x7xf32>) {
  // expected-error @+1 {{grad must be 'tensor<1x2x4x8xf32>', got 'tensor<1x2x4x7xf32>'}}
  %0:3 = ra.attention_grad %q, %q, %q grad(%dy) {causal, scale = 0.5} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x7xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>
  return
}

// -----

func.func @flash_band_needs_alpha(%q: tensor<1x2x4x8xf32>) {
  // The scores' checks apply to every form, not only ra.attention.
  // expected-error @+1 {{a band applies to the reciprocal term only; add reciprocal(alpha)}}
  %y, %lse = ra.flash_attention %q, %q, %q {causal, scale = 0.5, band = 2} : tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32> -> tensor<1x2x4x8xf32>, tensor<1x2x4xf32>
  return
}

// -----

// The dialect's attribute names are declared once; a misspelling is an error.
// expected-error @+1 {{unknown attribute 'ra.outptus' of the ra dialect}}
func.func @misspelled(%x: tensor<2xf32>) -> tensor<2xf32> attributes {ra.outptus = ["y"]} {
  return %x : tensor<2xf32>
}

// -----

// expected-error @+1 {{'ra.arena_bytes' must be an integer, got "many"}}
func.func @mistyped(%x: tensor<2xf32>) -> tensor<2xf32> attributes {ra.arena_bytes = "many"} {
  return %x : tensor<2xf32>
}

// -----

func.func @cached_attention_queries(%q: tensor<2x4x3x8xf32>, %k: tensor<2x16x8xf32>, %kn: tensor<2x1x8xf32>, %pos: tensor<2xi32>) {
  // expected-error @+1 {{q must be [B, H, 1, E], one new query per sequence, got [2, 4, 3, 8]}}
  %0 = ra.cached_attention %q, %k, %kn, %k, %kn, %pos {scale = 0.25 : f64} : tensor<2x4x3x8xf32>, tensor<2x16x8xf32>, tensor<2x1x8xf32>, tensor<2x16x8xf32>, tensor<2x1x8xf32>, tensor<2xi32> -> tensor<2x4x3x8xf32>
  return
}

// -----

func.func @cached_attention_new_row(%q: tensor<2x4x1x8xf32>, %k: tensor<2x16x8xf32>, %kn: tensor<2x2x8xf32>, %pos: tensor<2xi32>) {
  // expected-error @+1 {{k_new must be [2, 1, 8], got [2, 2, 8]}}
  %0 = ra.cached_attention %q, %k, %kn, %k, %kn, %pos {scale = 0.25 : f64} : tensor<2x4x1x8xf32>, tensor<2x16x8xf32>, tensor<2x2x8xf32>, tensor<2x16x8xf32>, tensor<2x2x8xf32>, tensor<2xi32> -> tensor<2x4x1x8xf32>
  return
}

// -----

func.func @cached_attention_ring(%q: tensor<2x4x1x8xf32>, %k: tensor<2x16x8xf32>, %kn: tensor<2x1x8xf32>, %pos: tensor<2xi32>, %a: tensor<f32>, %ring: tensor<2x4x2x8xf32>, %kr: tensor<2x4x1x8xf32>) {
  // expected-error @+1 {{q_past keeps 2 queries but the reciprocal term reaches 3 back}}
  %0 = ra.cached_attention %q, %k, %kn, %k, %kn, %pos reciprocal(%a, %ring, %kr : tensor<f32>, tensor<2x4x2x8xf32>, tensor<2x4x1x8xf32>) {band = 3 : i64, scale = 0.25 : f64} : tensor<2x4x1x8xf32>, tensor<2x16x8xf32>, tensor<2x1x8xf32>, tensor<2x16x8xf32>, tensor<2x1x8xf32>, tensor<2xi32> -> tensor<2x4x1x8xf32>
  return
}

// -----

func.func @cached_attention_pools(%q: tensor<2x4x1x8xf32>, %k: tensor<5x4x8xf32>, %v: tensor<6x4x8xf32>, %kn: tensor<2x1x8xf32>, %pos: tensor<2xi32>, %t: tensor<2x3xi32>) {
  // expected-error @+1 {{keys and values must be pools of the same blocks: [5, 4, 8] and [6, 4, 8]}}
  %0 = ra.cached_attention %q, %k, %kn, %v, %kn, %pos blocks(%t : tensor<2x3xi32>) {scale = 0.25 : f64} : tensor<2x4x1x8xf32>, tensor<5x4x8xf32>, tensor<2x1x8xf32>, tensor<6x4x8xf32>, tensor<2x1x8xf32>, tensor<2xi32> -> tensor<2x4x1x8xf32>
  return
}

// -----

func.func @cached_attention_table(%q: tensor<2x4x1x8xf32>, %k: tensor<5x4x8xf32>, %kn: tensor<2x1x8xf32>, %pos: tensor<2xi32>, %t: tensor<3x3xi32>) {
  // expected-error @+1 {{the block table must be [B, M] = [2, M >= 1], got [3, 3]}}
  %0 = ra.cached_attention %q, %k, %kn, %k, %kn, %pos blocks(%t : tensor<3x3xi32>) {scale = 0.25 : f64} : tensor<2x4x1x8xf32>, tensor<5x4x8xf32>, tensor<2x1x8xf32>, tensor<5x4x8xf32>, tensor<2x1x8xf32>, tensor<2xi32> -> tensor<2x4x1x8xf32>
  return
}

// -----

func.func @cached_attention_paged_queries(%q: tensor<2x4x1x8xf32>, %k: tensor<2x16x8xf32>, %kn: tensor<2x1x8xf32>, %pos: tensor<2xi32>) {
  // expected-error @+1 {{paged_queries needs the reciprocal term and a block table}}
  %0 = ra.cached_attention %q, %k, %kn, %k, %kn, %pos {paged_queries, scale = 0.25 : f64} : tensor<2x4x1x8xf32>, tensor<2x16x8xf32>, tensor<2x1x8xf32>, tensor<2x16x8xf32>, tensor<2x1x8xf32>, tensor<2xi32> -> tensor<2x4x1x8xf32>
  return
}

// -----

func.func @cached_attention_query_pool(%q: tensor<2x4x1x8xf32>, %k: tensor<5x4x8xf32>, %kn: tensor<2x1x8xf32>, %pos: tensor<2xi32>, %a: tensor<f32>, %qp: tensor<5x4x2x8xf32>, %kr: tensor<2x4x1x8xf32>, %t: tensor<2x3xi32>) {
  // expected-error @+1 {{paged q_past must be a pool [5, 4, 4, Er] as the keys', got [5, 4, 2, 8]}}
  %0 = ra.cached_attention %q, %k, %kn, %k, %kn, %pos reciprocal(%a, %qp, %kr : tensor<f32>, tensor<5x4x2x8xf32>, tensor<2x4x1x8xf32>) blocks(%t : tensor<2x3xi32>) {paged_queries, scale = 0.25 : f64} : tensor<2x4x1x8xf32>, tensor<5x4x8xf32>, tensor<2x1x8xf32>, tensor<5x4x8xf32>, tensor<2x1x8xf32>, tensor<2xi32> -> tensor<2x4x1x8xf32>
  return
}

// -----

func.func @cached_attention_types(%q: tensor<2x4x1x8xf32>, %k: tensor<2x16x8xf16>, %v: tensor<2x16x8xbf16>, %kn: tensor<2x1x8xf32>, %pos: tensor<2xi32>) {
  // expected-error @+1 {{k_past, v_past and q_past must share an element type}}
  %0 = ra.cached_attention %q, %k, %kn, %v, %kn, %pos {scale = 0.25 : f64} : tensor<2x4x1x8xf32>, tensor<2x16x8xf16>, tensor<2x1x8xf32>, tensor<2x16x8xbf16>, tensor<2x1x8xf32>, tensor<2xi32> -> tensor<2x4x1x8xf32>
  return
}

// -----

func.func @running_mean_rows(%s: tensor<2x3x6xf32>, %pos: tensor<2xi32>) {
  // expected-error @+1 {{x must have one position on axis 1, got [2, 3, 6]}}
  %0 = ra.running_mean %s, %s, %pos {axis = 1 : i64} : tensor<2x3x6xf32>, tensor<2xi32>
  return
}
