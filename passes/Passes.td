//===- Passes.td - racc's passes -------------------------------*- tablegen -*-===//
#ifndef RA_PASSES_TD
#define RA_PASSES_TD

include "mlir/Pass/PassBase.td"

def CheckUnusedParams : Pass<"ra-check-unused-params", "mlir::ModuleOp"> {
  let summary = "Warn about parameters that cannot affect the loss";
  let description = [{
    A parameter no path from the `loss` output reaches gets no gradient: it
    would silently stay at its initial value. This pass warns at the
    parameter's declaration and marks it `ra.unused`. models.md requires
    every shipped model to declare none.

    Before:  ra.param @h.11.gate.w_gp : tensor<3072x64xf32> {...}   (never read)
    After:   ra.param @h.11.gate.w_gp : tensor<3072x64xf32> {..., ra.unused}
  }];
  let constructor = "ra::createCheckUnusedParamsPass()";
}

def CheckCausality : Pass<"ra-check-causality", "mlir::ModuleOp"> {
  let summary = "Warn about ops that let a position see later tokens";
  let description = [{
    With the sequence axes of every value of @forward inferred from its
    inputs, warns at ops that certainly mix positions: a reduction over a
    sequence axis, attention without the causal mask. (The loss's mean over
    positions is not a leak.) One warning per source location. `racc check
    --causal` confirms a leak by running the model.
  }];
  let constructor = "ra::createCheckCausalityPass()";
}

def Autodiff : Pass<"ra-autodiff", "mlir::ModuleOp"> {
  let summary = "Derive @grad: the loss and the gradient of every trainable parameter";
  let description = [{
    Reverse-mode differentiation of @forward's `loss` output. Ops are visited
    in reverse; each emits its vector-Jacobian product through
    VjpOpInterface; a value used several times accumulates its gradients with
    `ra.add`; integer values carry none. A trainable parameter the loss does
    not reach is reported and gets an explicit zero gradient. A model with no
    `loss` output is inference-only and gets no @grad.

    Before:  func.func @forward(%tokens, %targets) -> (loss, logits)
    After:   func.func @forward(...) unchanged, and
             func.func @grad(%tokens, %targets) -> (loss, grad.wte, grad.wpe, ...)
  }];
  let constructor = "ra::createAutodiffPass()";
}

def Optimizer : Pass<"ra-optimizer", "mlir::ModuleOp"> {
  let summary = "Derive @train_step from @grad: clipping, AdamW, gradient norms";
  let description = [{
    One training step as one function: the gradients of @grad, per-parameter
    and global gradient norms, clipping to `max-grad-norm`, and AdamW as in
    PyTorch (decoupled weight decay on parameters marked `decay`, bias
    correction). The moments are parameters `adam.m.NAME` and `adam.v.NAME`
    with `trainable = false`; updates are `ra.set_param`. The learning rate and
    the step number (from 1) are runtime inputs.

    After:  func.func @train_step(%tokens, %targets, %lr, %step)
              -> (loss, grad_norm, grad_norms: tensor<P x f32>)
  }];
  let constructor = "ra::createOptimizerPass()";
  let options = [
    Option<"beta1", "beta1", "double", /*default=*/"0.9", "AdamW beta1">,
    Option<"beta2", "beta2", "double", /*default=*/"0.95", "AdamW beta2">,
    Option<"epsilon", "eps", "double", /*default=*/"1e-8", "AdamW epsilon">,
    Option<"weightDecay", "weight-decay", "double", /*default=*/"0.1",
           "decoupled weight decay of parameters marked decay">,
    Option<"maxGradNorm", "max-grad-norm", "double", /*default=*/"1.0",
           "clip the global gradient norm to this (0: no clipping)">,
  ];
}

def PlanMemory : Pass<"ra-plan-memory", "mlir::ModuleOp"> {
  let summary = "Give every intermediate tensor an offset in one arena per entry point";
  let description = [{
    Values are live from their defining op to their last use (program order).
    Parameters, inputs and reshapes are views and take no arena space: a
    reshape of a row-major tensor is the same bytes. Results are placed
    first-fit in freed space, aligned to 64 bytes, and never over an operand
    of the op that defines them, so kernels need not handle aliasing.

    After:  %3 = ra.matmul ... {ra.offsets = [4096]}
            func.func @grad(...) attributes {ra.arena_bytes = 1048576, ...}
  }];
  let constructor = "ra::createPlanMemoryPass()";
}

//===----------------------------------------------------------------------===//
// Fusion: after autodiff and the optimizer; each can be turned off with
// racc compile --disable-pass=NAME, all with --no-fuse.
//===----------------------------------------------------------------------===//

def FuseAttention : Pass<"fuse-attention", "mlir::ModuleOp"> {
  let summary = "Flash-style attention: no [T, T] matrix forward or backward";
  let description = [{
    Each `ra.attention` becomes `ra.flash_attention`, which also returns each
    query row's log-sum-exp, and each `ra.attention_grad` of it becomes
    `ra.flash_attention_grad`, which recomputes the probabilities tile by tile
    from that log-sum-exp and uses `D = rowsum(dy * y)` for the softmax
    backward. Covers MLA's shared latent keys/values and RA's reciprocal term
    (in the tile, `q_j . k_i` beside `q_i . k_j`; tiles outside the band skip
    it). A backward with no forward in its function is left as it is.

    Before:  %y = ra.attention %q, %k, %v reciprocal(%a) {band = 64, causal}
             %dq, %dk, %dv, %da = ra.attention_grad %q, %k, %v reciprocal(%a) grad(%g)
    After:   %y, %lse = ra.flash_attention %q, %k, %v reciprocal(%a) {band = 64, causal}
             %dq, %dk, %dv, %da = ra.flash_attention_grad %q, %k, %v reciprocal(%a)
                 result(%y, %lse) grad(%g)
  }];
  let constructor = "ra::createFuseAttentionPass()";
}

def FuseGatedAttention : Pass<"fuse-gated-attention", "mlir::ModuleOp"> {
  let summary = "Mechanism 1's per-head gate as the epilogue of the attention kernels";
  let description = [{
    `mul(flash_attention(...), broadcast(gate))` with a gate `[B, H, T, 1]`
    becomes `ra.gated_flash_attention`, which scales each output row as it
    writes it; its backward (`flash_attention_grad` of `grad * gate` and the
    gate's `reduce_sum(grad * y, axis 3)`) becomes
    `ra.gated_flash_attention_grad`, which scales each gradient row as it
    reads it and sums the gate's gradient in the same pass. No
    `[B, H, T, Dv]` broadcast, product or gradient copy is stored. After
    fuse-attention.

    Before:  %y, %lse = ra.flash_attention %q, %k, %v ...
             %b = ra.broadcast %gate : tensor<2x2x16x1xf32> -> tensor<2x2x16x16xf32>
             %o = ra.mul %y, %b
    After:   %o, %y, %lse = ra.gated_flash_attention %q, %k, %v gate(%gate) ...
  }];
  let constructor = "ra::createFuseGatedAttentionPass()";
}

def FuseHeadMeanAttention : Pass<"fuse-head-mean-attention", "mlir::ModuleOp"> {
  let summary = "Attention averaged over heads on the block's own softmax (mechanism 2)";
  let description = [{
    `reduce_mean(flash_attention(q, k, a), axis 1)` with a value `a` shared by
    every head, where an earlier flash attention (plain or gated) has the
    same `q`, `k` and reciprocal term, becomes `ra.head_mean_attention` on
    that attention's row log-sum-exps: the probabilities `exp(S - lse)` are
    not normalized again, and are averaged over heads before one product
    with `a` (one softmax, two products). Its backward (the attention's
    backward of `dm / H` broadcast to every head) becomes
    `ra.head_mean_attention_grad`, which makes `dm a^T / H` once per row and
    `a`'s gradient from the averaged probabilities. Neither the
    `[B, H, T, F]` outputs nor their gradient is stored. After
    fuse-attention and fuse-gated-attention.

    Before:  %y, %lse = ra.flash_attention %q, %k, %v ...
             %pa, %lse2 = ra.flash_attention %q, %k, %a ... -> tensor<2x4x16x128xf32>, ...
             %m = ra.reduce_mean %pa {axis = 1 : i64} : ... -> tensor<2x16x128xf32>
    After:   %m = ra.head_mean_attention %q, %k, %a lse(%lse) ... -> tensor<2x16x128xf32>
  }];
  let constructor = "ra::createFuseHeadMeanAttentionPass()";
}

def DeriveDecoding : Pass<"derive-decoding", "mlir::ModuleOp"> {
  let summary = "Derive @prefill and @decode, the cached decoder, from @forward";
  let description = [{
    Keeps what the inference-cache analysis names (every attention's keys and
    values in their narrowest form, RA's query ring, causal means' running
    sums) and derives `@prefill(tokens [B, T])`, returning the logits and
    every cached tensor at every position, and `@decode(tokens [B, 1],
    positions [B], cache...)`, @forward at one position per sequence with
    `ra.attention` read from the cache (`ra.cached_attention`), causal means
    from their running sums (`ra.running_mean`) and position tables at the
    positions, returning the logits and each cache's new row. The caches are
    described by @decode's `ra.caches`. A model with an op that mixes
    positions other than causally gets neither; the module's
    `ra.decoding_refused` says why.

    Per-token caches are paged (PagedAttention): @decode takes each as a pool
    of `cache-blocks` blocks of `block-positions` positions shared by all
    sequences, and a `block_table [B, M]` naming each sequence's blocks
    (`@decode`'s `ra.paging`); the runtime hands blocks out as sequences grow.
    With `cache-dtype` f16 or bf16 the pools and rings hold half-width values
    (running sums stay float32).

    Before:  %y = ra.attention %q, %k, %v {causal, scale = ...}
    After (@decode):
             %y = ra.cached_attention %q1, %pool0, %k1, %pool1, %v1, %positions
                    blocks(%block_table : tensor<BxMxi32>) {scale = ...}
  }];
  let constructor = "ra::createDeriveDecodingPass()";
  let options = [
    Option<"blockPositions", "block-positions", "int64_t", /*default=*/"128",
           "positions per block of the paged caches (at most the window)">,
    Option<"cacheBlocks", "cache-blocks", "int64_t", /*default=*/"0",
           "blocks in each per-token cache's pool (0: the whole window of every sequence)">,
    Option<"cacheDtype", "cache-dtype", "std::string", /*default=*/"\"f32\"",
           "element type of the kept keys, values and queries: f32, f16 or bf16">,
  ];
}

def AbsorbLatentWeights : Pass<"absorb-latent-weights", "mlir::ModuleOp"> {
  let summary = "MLA weight absorption (W_q W_ql, W_vu W_o) in inference entry points, where cheaper";
  let description = [{
    In entry points that neither write parameters nor return gradients,
    folds `x W_q + b_q` split into heads then `W_ql[h]` into `x W_qa + b_qa`
    (`W_qa = W_q W_ql`, `[D, H R]`), and `v_l W_vu` split into heads, attended
    and merged then `W_o` into attention over `v_l` itself merged then
    `W_vo` (`W_vo[h] = W_vu[h] W_o[h]`, `[H R, D]`), each only where the
    call's multiply-adds (the folds included) are fewer. The decision, with
    both counts, is the `ra.absorb` attribute of the resulting matmul.

    Before:  %q = ra.add (ra.matmul %x, %w_q), (ra.broadcast %b_q) ...
             %ql = ra.matmul (ra.transpose (ra.reshape %q)), %w_ql ...
    After:   %y = ra.matmul %x, %w_qa {ra.absorb = {absorbed = true, ...}}
             %ql = ra.transpose (ra.reshape (ra.add %y, (ra.broadcast %b_qa)))
  }];
  let constructor = "ra::createAbsorbLatentWeightsPass()";
}

def FuseLatentProjections : Pass<"fuse-latent-projections", "mlir::ModuleOp"> {
  let summary = "Projections of one activation to equal widths as one batched GEMM";
  let description = [{
    GEMMs `x @ W_i` of one activation with `[K, N]` parameters of one width
    (MLA's `W_kd` and `W_vd`) become one GEMM of `x` against the weights
    stacked `[G, K, N]`; each result is a range of the leading axis of its
    output, a view. One strided-batched cuBLAS call on a GPU.

    Before:  %k = ra.matmul %x, %w_kd : ... -> tensor<4x256x64xf32>
             %v = ra.matmul %x, %w_vd : ... -> tensor<4x256x64xf32>
    After:   %w = ra.concat %w_kd', %w_vd' {axis = 0 : i64} : ... -> tensor<2x256x64xf32>
             %y = ra.matmul %x', %w : tensor<1024x256xf32>, tensor<2x256x64xf32> -> tensor<2x1024x64xf32>
             %k = ra.reshape (ra.slice %y {axis = 0, start = 0, end = 1})   (views)
  }];
  let constructor = "ra::createFuseLatentProjectionsPass()";
}

def FuseCrossEntropy : Pass<"fuse-cross-entropy", "mlir::ModuleOp"> {
  let summary = "The loss and its gradient from one pass over the logits";
  let description = [{
    `cross_entropy(logits, t)` and `cross_entropy_grad(logits, t, c)` with a
    constant seed `c` become one `ra.cross_entropy_with_grad` at the loss:
    one softmax per row instead of two, the logits read once.

    Before:  %loss = ra.cross_entropy %logits, %t
             ...
             %dl = ra.cross_entropy_grad %logits, %t, %one
    After:   %loss, %dl = ra.cross_entropy_with_grad %logits, %t, %one
  }];
  let constructor = "ra::createFuseCrossEntropyPass()";
}

def FuseWeightGradients : Pass<"fuse-weight-gradients", "mlir::ModuleOp"> {
  let summary = "A weight's gradient as one GEMM over every row, not a batch of GEMMs and a sum";
  let description = [{
    `reduce_sum(matmul(x, dy, transpose_lhs), axis 0)` over `[B, T, K]` and
    `[B, T, N]` becomes one GEMM of the `[B*T, K]` and `[B*T, N]` views: the
    batch sum is folded into the GEMM's reduction and no `[B, K, N]` is held.

    Before:  %p = ra.matmul %x, %dy {transpose_lhs} : ... -> tensor<4x1024x256xf32>
             %g = ra.reduce_sum %p {axis = 0 : i64} : ... -> tensor<1024x256xf32>
    After:   %g = ra.matmul (ra.reshape %x), (ra.reshape %dy) {transpose_lhs} : ... -> tensor<1024x256xf32>
  }];
  let constructor = "ra::createFuseWeightGradientsPass()";
}

def RecomputeActivations : Pass<"recompute-activations", "mlir::ModuleOp"> {
  let summary = "Recompute the MLP's activations and layernorm outputs in the backward pass";
  let description = [{
    With a backward pass in the function, the MLP's `h = x @ W + b` and
    `gelu(h)`, and layernorm outputs, are recomputed where the backward pass
    reads them (one GEMM, its bias and the GELU; a layernorm), from values
    the backward pass keeps anyway, instead of being held from the forward
    pass: the forward copies die at once. Trades one GEMM per layer for the
    largest activations of each block at the memory peak. Chains whose leaves
    are not parameters or values the backward pass reads anyway are left
    alone, so no lifetime grows.
  }];
  let constructor = "ra::createRecomputeActivationsPass()";
  let options = [
    Option<"apply", "apply", "bool", /*default=*/"true",
           "recompute (false: leave the IR unchanged, as racc compile --recompute auto "
           "does when the training step fits its memory budget without it)">,
  ];
}

def FuseElementwise : Pass<"fuse-elementwise", "mlir::ModuleOp"> {
  let summary = "Elementwise chains, with their splat constants and scalar or bias broadcasts, as one kernel";
  let description = [{
    Each chain of elementwise ops whose intermediate values feed only the
    chain becomes one `ra.fused_elementwise`: one pass over memory, no
    intermediate buffers. Splat constants and broadcasts of a scalar or a row
    vector are read by the kernel, not materialized. A value with users
    outside the chain stays a result of its own, so no work is repeated.

    Before:  %b = ra.broadcast %bias : tensor<64xf32> -> tensor<8x64xf32>
             %s = ra.add %m, %b : tensor<8x64xf32>
             %y = ra.gelu %s : tensor<8x64xf32>
    After:   %y = ra.fused_elementwise %m, %bias : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32> {
             ^bb0(%x: tensor<f32>, %c: tensor<f32>):
               %s = ra.add %x, %c : tensor<f32>
               %g = ra.gelu %s : tensor<f32>
               ra.yield %g : tensor<f32>
             }
  }];
  let constructor = "ra::createFuseElementwisePass()";
}

#endif // RA_PASSES_TD
