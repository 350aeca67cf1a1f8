//===- RaOps.td - ops of the ra dialect ------------------------*- tablegen -*-===//
//
// The op set is small and semantic: everything GPT-2 and the variants of
// models.md need, and nothing a pass could compose from the rest without
// losing what the fusion passes must recognize (attention, layernorm, softmax,
// cross-entropy stay whole).
//
// Conventions: axes are non-negative (the front end normalizes `-1`);
// elementwise binary ops take operands of one type (the front end inserts
// `ra.broadcast`); matmul broadcasts its batch dims numpy-style.
//
//===----------------------------------------------------------------------===//
#ifndef RA_OPS_TD
#define RA_OPS_TD

include "ir/RaBase.td"
include "ir/RaCostInterface.td"
include "ir/RaVjpInterface.td"
include "ir/RaAttentionInterface.td"
include "ir/RaElementwiseInterface.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def Ra_AnyTensor : StaticShapeTensorOf<[F32, I32]>;

// A differentiable op: its vector-Jacobian product is `buildVjp`, defined
// beside the other rules in RaVjp.cpp.
defvar Ra_Vjp = DeclareOpInterfaceMethods<Ra_VjpOpInterface>;

// Cost of an op whose work is `perElement` FLOPs per result element.
class Ra_PerElementCost<int perElement> {
  code cost = "int64_t getFlops() { return " # perElement #
              " * getType().cast<::mlir::ShapedType>().getNumElements(); }";
}

//===----------------------------------------------------------------------===//
// Parameters and constants
//===----------------------------------------------------------------------===//

def Ra_ParamOp : Ra_Op<"param", [Symbol]> {
  let summary = "a trainable parameter";
  let description = [{
    Declares a parameter tensor at module scope. Its name is the call path of
    the `.graph` function that declared it (`h.3.attn.w_qkv`), stable across
    compiles. `init` is one of `normal` (std in `init_value`), `zeros`, `ones`,
    `const` (value in `init_value`); `decay` selects the AdamW weight-decay group;
    `mechanism` tags the parameter for per-mechanism reports. Optimizer state
    (AdamW's moments) is declared the same way with `trainable = false`.

    ```mlir
    ra.param @h.0.attn.w_qkv : tensor<768x2304xf32> {init = "normal", init_value = 0.02, decay = true}
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, TypeAttr:$type, StrAttr:$init,
                       DefaultValuedAttr<F64Attr, "0.0">:$init_value, BoolAttr:$decay,
                       DefaultValuedStrAttr<StrAttr, "base">:$mechanism,
                       DefaultValuedAttr<BoolAttr, "true">:$trainable);
  let assemblyFormat = "$sym_name `:` $type attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::RankedTensorType getTensorType() {
      return getType().cast<::mlir::RankedTensorType>();
    }
  }];
}

def Ra_GetParamOp : Ra_Op<"get_param",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "reads a parameter";
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

def Ra_SetParamOp : Ra_Op<"set_param",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "writes a parameter when the step ends";
  let description = [{
    The new value of a parameter (or optimizer state) after this call of the
    entry point. Writes take effect when the function returns: every
    `ra.get_param` in the function reads the value from before the call.
  }];
  let arguments = (ins FlatSymbolRefAttr:$name, Ra_FloatTensor:$value);
  let assemblyFormat = "$name `,` $value attr-dict `:` type($value)";
}

def Ra_ConstantOp : Ra_Op<"constant", [Pure]> {
  let summary = "a tensor filled with one value";
  let arguments = (ins F64Attr:$value);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$value attr-dict `:` type($result)";
  let builders = [
    OpBuilder<(ins "::mlir::Type":$type, "double":$value), [{
      build($_builder, $_state, type, $_builder.getF64FloatAttr(value));
    }]>
  ];
}

def Ra_IotaOp : Ra_Op<"iota", [Pure]> {
  let summary = "the index along one axis, as float";
  let description = "`result[i0, ..., in] = i_axis`.";
  let arguments = (ins I64Attr:$axis);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

// An elementwise op's kernel function (ra_math's NAME) and its math on the
// elements `a, b` (binary) or `x` (unary), as ElementwiseOpInterface reads
// them.
class Ra_ElementwiseMath<string kernelFunction, string args, string math> {
  code decls = [{
    static constexpr ::llvm::StringLiteral kKernelFunction = "}] # kernelFunction # [{";
    static long double evaluateElement(::llvm::ArrayRef<long double> e) {
      }] # args # [{
      return }] # math # [{;
    }
  }];
}

class Ra_BinaryOp<string mnemonic, string kernelFunction, string math,
                  list<Trait> traits = []> :
    Ra_Op<mnemonic, !listconcat(traits, [Pure, SameOperandsAndResultType,
                                         Ra_CostOpInterface, Ra_Vjp,
                                         Ra_ElementwiseOpInterface])> {
  let arguments = (ins Ra_FloatTensor:$lhs, Ra_FloatTensor:$rhs);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let extraClassDeclaration = Ra_PerElementCost<1>.cost #
      Ra_ElementwiseMath<kernelFunction, "long double a = e[0], b = e[1];", math>.decls;
}

def Ra_MaximumOp : Ra_BinaryOp<"maximum", "Max", "std::max(a, b)", [Commutative]> {
  let summary = "max(lhs, rhs)";
}
def Ra_GeOp : Ra_BinaryOp<"ge", "Ge", "a >= b ? 1.0L : 0.0L"> {
  let summary = "1.0 where lhs >= rhs, else 0.0";
  let description = "A mask; piecewise constant, so its derivative is zero.";
}
def Ra_AddOp : Ra_BinaryOp<"add", "Add", "a + b", [Commutative]> { let summary = "lhs + rhs"; }
def Ra_SubOp : Ra_BinaryOp<"sub", "Sub", "a - b"> { let summary = "lhs - rhs"; }
def Ra_MulOp : Ra_BinaryOp<"mul", "Mul", "a * b", [Commutative]> { let summary = "lhs * rhs"; }
def Ra_DivOp : Ra_BinaryOp<"div", "Div", "a / b"> { let summary = "lhs / rhs"; }

class Ra_UnaryOp<string mnemonic, int flopsPerElement, string kernelFunction, string math> :
    Ra_Op<mnemonic, [Pure, SameOperandsAndResultType, Ra_CostOpInterface, Ra_Vjp,
                     Ra_ElementwiseOpInterface]> {
  let arguments = (ins Ra_FloatTensor:$input);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let extraClassDeclaration = Ra_PerElementCost<flopsPerElement>.cost #
      Ra_ElementwiseMath<kernelFunction, "long double x = e[0];", math>.decls;
}

def Ra_NegOp : Ra_UnaryOp<"neg", 1, "Neg", "-x"> { let summary = "-x"; }
def Ra_AbsOp : Ra_UnaryOp<"abs", 1, "Abs", "std::fabs(x)"> { let summary = "|x|"; }
def Ra_ExpOp : Ra_UnaryOp<"exp", 1, "Exp", "std::exp(x)"> { let summary = "e^x"; }
def Ra_LogOp : Ra_UnaryOp<"log", 1, "Log", "std::log(x)"> { let summary = "natural logarithm"; }
def Ra_TanhOp : Ra_UnaryOp<"tanh", 1, "Tanh", "std::tanh(x)"> {
  let summary = "hyperbolic tangent";
}
def Ra_SigmoidOp : Ra_UnaryOp<"sigmoid", 4, "Sigmoid", "1 / (1 + std::exp(-x))"> {
  let summary = "1 / (1 + e^-x)";
}
def Ra_SqrtOp : Ra_UnaryOp<"sqrt", 1, "Sqrt", "std::sqrt(x)"> { let summary = "square root"; }
def Ra_RsqrtOp : Ra_UnaryOp<"rsqrt", 2, "Rsqrt", "1 / std::sqrt(x)"> { let summary = "1 / sqrt(x)"; }
def Ra_GeluOp : Ra_UnaryOp<"gelu", 8, "Gelu", "::ra::math::gelu(x)"> {
  let summary = "GELU, tanh approximation (GPT-2's)";
  let description = "`0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`";
}

//===----------------------------------------------------------------------===//
// Contractions and reductions
//===----------------------------------------------------------------------===//

def Ra_MatmulOp : Ra_Op<"matmul", [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>,
                                   DeclareOpInterfaceMethods<Ra_CostOpInterface>, Ra_Vjp]> {
  let summary = "batched matrix product";
  let description = [{
    `lhs: [..., M, K]` times `rhs: [..., K, N]` (each optionally transposed in
    its last two dims). Batch dims broadcast numpy-style, so a `[K, N]` weight
    multiplies a `[B, T, K]` activation and a per-head `[H, K, N]` weight a
    `[B, H, T, K]` one.
  }];
  let arguments = (ins Ra_FloatTensor:$lhs, Ra_FloatTensor:$rhs,
                       UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)";
}

class Ra_ReduceOp<string mnemonic, int flopsPerInput> :
    Ra_Op<mnemonic, [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>,
                     Ra_CostOpInterface, Ra_Vjp]> {
  let arguments = (ins Ra_FloatTensor:$input, I64Attr:$axis, UnitAttr:$keepdim);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let extraClassDeclaration = "int64_t getFlops() { return " # flopsPerInput #
      " * getInput().getType().cast<::mlir::ShapedType>().getNumElements(); }";
}

def Ra_ReduceSumOp : Ra_ReduceOp<"reduce_sum", 1> { let summary = "sum over one axis"; }
def Ra_ReduceMeanOp : Ra_ReduceOp<"reduce_mean", 1> { let summary = "mean over one axis"; }
def Ra_ReduceMaxOp : Ra_ReduceOp<"reduce_max", 1> { let summary = "max over one axis"; }

def Ra_CausalMeanOp : Ra_Op<"causal_mean", [Pure, SameOperandsAndResultType,
                                            Ra_CostOpInterface, Ra_Vjp]> {
  let summary = "running mean over positions s <= t along one axis";
  let description = "`result[..., t, ...] = mean over s <= t of input[..., s, ...]`.";
  let arguments = (ins Ra_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
  let extraClassDeclaration = Ra_PerElementCost<2>.cost;
}

//===----------------------------------------------------------------------===//
// Normalization, softmax, lookup, loss
//===----------------------------------------------------------------------===//

def Ra_LayerNormOp : Ra_Op<"layernorm", [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>,
                                         Ra_CostOpInterface, Ra_Vjp]> {
  let summary = "layer normalization over the last axis, with weight and bias";
  let arguments = (ins Ra_FloatTensor:$input, Ra_FloatTensor:$weight, Ra_FloatTensor:$bias,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$input `,` $weight `,` $bias attr-dict `:` "
                       "type($input) `,` type($weight) `,` type($bias) `->` type($result)";
  let extraClassDeclaration = Ra_PerElementCost<8>.cost;
}

def Ra_SoftmaxOp : Ra_Op<"softmax", [Pure, SameOperandsAndResultType, Ra_CostOpInterface,
                                     Ra_Vjp]> {
  let summary = "softmax over the last axis";
  let arguments = (ins Ra_FloatTensor:$input);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
  let extraClassDeclaration = Ra_PerElementCost<5>.cost;
}

def Ra_EmbeddingOp : Ra_Op<"embedding", [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>,
                                         Ra_Vjp]> {
  let summary = "rows of a table gathered by integer ids";
  let description = "`table: [V, D]`, `indices: [...]` -> `[..., D]`.";
  let arguments = (ins Ra_FloatTensor:$table, Ra_IndexTensor:$indices);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$table `,` $indices attr-dict `:` type($table) `,` type($indices) "
                       "`->` type($result)";
}

def Ra_CrossEntropyOp : Ra_Op<"cross_entropy", [Pure,
    DeclareOpInterfaceMethods<InferTypeOpInterface>, Ra_CostOpInterface, Ra_Vjp]> {
  let summary = "mean cross-entropy of logits against integer targets";
  let description = "`logits: [..., V]`, `targets: [...]` -> scalar mean over all positions.";
  let arguments = (ins Ra_FloatTensor:$logits, Ra_IndexTensor:$targets);
  let results = (outs Ra_ScalarFloat:$result);
  let assemblyFormat = "$logits `,` $targets attr-dict `:` type($logits) `,` type($targets) "
                       "`->` type($result)";
  let extraClassDeclaration = "int64_t getFlops() { return 5 * "
      "getLogits().getType().cast<::mlir::ShapedType>().getNumElements(); }";
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

// Every attention op is verified by AttentionOpInterface (the scores) and
// its own verifier (the operands and results of its form).
def Ra_AttentionOp : Ra_Op<"attention", [Pure, Ra_AttentionOpInterface,
    DeclareOpInterfaceMethods<InferTypeOpInterface>,
    DeclareOpInterfaceMethods<Ra_CostOpInterface>, Ra_Vjp]> {
  let summary = "scaled dot-product attention, with the MLA and RA forms";
  let description = [{
    `q: [B, H, Tq, E]`; `k: [B, H, Tk, E]`, or `[B, Tk, E]` when one key
    tensor is shared by every head (MLA's latent keys); `v: [B, H, Tk, Dv]` or
    `[B, Tk, Dv]` (shared). Scores `S = scale * q k^T`, masked to `j <= i` when
    `causal`. With `reciprocal(alpha)` the scores become
    `S[i, j] + alpha * S[j, i]` for `i - j <= band` (band absent: every j <= i),
    the reciprocal attention of models.md. Result `softmax(S) v: [B, H, Tq, Dv]`.
  }];
  let arguments = (ins Ra_FloatTensor:$q, Ra_FloatTensor:$k, Ra_FloatTensor:$v,
                       Optional<Ra_ScalarFloat>:$reciprocal_alpha, F64Attr:$scale,
                       UnitAttr:$causal, OptionalAttr<I64Attr>:$band);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`reciprocal` `(` $reciprocal_alpha^ `:` type($reciprocal_alpha) `)`)?
    attr-dict `:` type($q) `,` type($k) `,` type($v) `->` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Decoding: written by derive-decoding into @decode, never by the front end
//===----------------------------------------------------------------------===//

def Ra_CachedAttentionOp : Ra_Op<"cached_attention", [Pure, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<Ra_CostOpInterface>]> {
  let summary = "one new query per sequence against its cached keys and values";
  let description = [{
    Causal attention of one position per sequence, the decoding form of
    `ra.attention`. Sequence `b`'s new token is at position `p = lengths[b]`:
    `q: [B, H, 1, E]` is its query; its keys are `k_past[.., j, :]` for
    `j < p` (the cache; rows at and past `p` are not read) and `k_new` at
    `p`. Keys and values are per head (`[B, H, T, .]`) or shared by every
    head (`[B, T, .]`, MLA's latents); `k_new`/`v_new` have one position.
    Scores `s_j = scale q . k_j`, `j <= p`.

    With RA's term (`reciprocal(alpha, q_past, k_recip)`) each `s_j` with
    `p - j <= band` (every `j` without a band) gains `alpha scale S[j, p]`,
    the score of the earlier query `j` against the new key: for `j < p`,
    `q_past[b, h, j mod W, :] . k_recip[b, h, 0, :]` (`q_past: [B, H, W, Er]`
    holds the last `W` queries in a ring, or every position when `W` is the
    cache's length), and for `j = p`, `q . k_new` (`S[p, p]`). `k_recip` is
    the new key as the ring's queries meet it: `k_new` itself, or, when the
    ring keeps queries before a per-head up-projection `W` (MLA's `W_ql`),
    `k_new W^T`.

    Result `softmax(s) v: [B, H, 1, Dv]`.

    Paged (`blocks(table)`, PagedAttention's layout): the caches are pools
    of fixed-size blocks shared by every sequence, `k_past: [N, H, P, E]` or
    `[N, P, E]` (`v_past` alike), and `table: [B, M]` names the block of
    each sequence's positions: position `j` of sequence `b` is row
    `j mod P` of block `table[b, j div P]`, so a sequence holds up to
    `M P` positions. With `paged_queries`, RA's kept queries are such a pool
    too (`q_past: [N, H, P, Er]`, every position, read through the same
    table) instead of a ring per sequence.

    The caches (`k_past`, `v_past`, `q_past`) share one element type: f32,
    or f16 or bf16 (read as float32; everything else is float32).
  }];
  let arguments = (ins Ra_FloatTensor:$q, Ra_CacheTensor:$k_past, Ra_FloatTensor:$k_new,
                       Ra_CacheTensor:$v_past, Ra_FloatTensor:$v_new, Ra_IndexTensor:$lengths,
                       Optional<Ra_ScalarFloat>:$reciprocal_alpha,
                       Optional<Ra_CacheTensor>:$q_past, Optional<Ra_FloatTensor>:$k_recip,
                       Optional<Ra_IndexTensor>:$block_table,
                       F64Attr:$scale, OptionalAttr<I64Attr>:$band,
                       UnitAttr:$paged_queries);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k_past `,` $k_new `,` $v_past `,` $v_new `,` $lengths
    (`reciprocal` `(` $reciprocal_alpha^ `,` $q_past `,` $k_recip `:` type($reciprocal_alpha) `,`
     type($q_past) `,` type($k_recip) `)`)?
    (`blocks` `(` $block_table^ `:` type($block_table) `)`)?
    attr-dict `:` type($q) `,` type($k_past) `,` type($k_new) `,` type($v_past) `,`
    type($v_new) `,` type($lengths) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Positions a sequence can hold: the caches' length, or, paged, the
    /// table's blocks times the block's positions.
    int64_t getCachedLength();
    /// Positions per block of the pools; 0 when not paged.
    int64_t getBlockPositions();
  }];
}

def Ra_RunningMeanOp : Ra_Op<"running_mean", [Pure, Ra_CostOpInterface,
                                               AllTypesMatch<["sum", "x", "result"]>]> {
  let summary = "the decoding form of ra.causal_mean: a running sum and one new row";
  let description = [{
    `x: [..., 1, ...]` is each sequence's new row along `axis` (batch on
    axis 0), `sum` (the same type) the sum of its rows before position
    `p = lengths[b]`: `result = (sum + x) / (p + 1)`, the causal mean at `p`.
  }];
  let arguments = (ins Ra_FloatTensor:$sum, Ra_FloatTensor:$x, Ra_IndexTensor:$lengths,
                       I64Attr:$axis);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = [{
    $sum `,` $x `,` $lengths attr-dict `:` type($x) `,` type($lengths)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = Ra_PerElementCost<2>.cost;
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

def Ra_SliceOp : Ra_Op<"slice", [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>,
                                 Ra_Vjp]> {
  let summary = "the range [start, end) of one axis";
  let arguments = (ins Ra_AnyTensor:$input, I64Attr:$axis, I64Attr:$start, I64Attr:$end);
  let results = (outs Ra_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

def Ra_ConcatOp : Ra_Op<"concat", [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>,
                                   Ra_Vjp]> {
  let summary = "tensors joined along one axis";
  let arguments = (ins Variadic<Ra_AnyTensor>:$inputs, I64Attr:$axis);
  let results = (outs Ra_AnyTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, $result)";
  let hasFolder = 1;
}

def Ra_ReshapeOp : Ra_Op<"reshape", [Pure, Ra_Vjp]> {
  let summary = "the same elements, in row-major order, in another shape";
  let arguments = (ins Ra_AnyTensor:$input);
  let results = (outs Ra_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Ra_TransposeOp : Ra_Op<"transpose", [Pure, DeclareOpInterfaceMethods<InferTypeOpInterface>,
                                         Ra_Vjp]> {
  let summary = "axes permuted: result axis i is input axis permutation[i]";
  let arguments = (ins Ra_AnyTensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs Ra_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Ra_BroadcastOp : Ra_Op<"broadcast", [Pure, Ra_Vjp]> {
  let summary = "numpy-style broadcast to a larger shape";
  let description = [{
    Input dims align with the result's trailing dims; each is 1 or equal.
  }];
  let arguments = (ins Ra_AnyTensor:$input);
  let results = (outs Ra_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Gradient ops: the backward halves autodiff emits where composing them from
// the forward ops would cost a pass over memory or lose the structure a
// kernel needs. They have no derivatives of their own.
//===----------------------------------------------------------------------===//

def Ra_GeluGradOp : Ra_Op<"gelu_grad", [Pure, SameOperandsAndResultType, Ra_CostOpInterface,
                                         Ra_ElementwiseOpInterface]> {
  let summary = "dy * gelu'(x)";
  let arguments = (ins Ra_FloatTensor:$input, Ra_FloatTensor:$grad);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($result)";
  let extraClassDeclaration = Ra_PerElementCost<16>.cost #
      Ra_ElementwiseMath<"GeluGrad", "long double x = e[0], dy = e[1];",
                         "dy * ::ra::math::geluGrad(x)">.decls;
}

def Ra_CausalMeanGradOp : Ra_Op<"causal_mean_grad", [Pure, SameOperandsAndResultType,
                                                     Ra_CostOpInterface]> {
  let summary = "the VJP of causal_mean: dx[s] = sum over t >= s of dy[t] / (t + 1)";
  let arguments = (ins Ra_FloatTensor:$grad, I64Attr:$axis);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$grad attr-dict `:` type($result)";
  let extraClassDeclaration = Ra_PerElementCost<2>.cost;
}

def Ra_LayerNormGradOp : Ra_Op<"layernorm_grad", [Pure, Ra_CostOpInterface]> {
  let summary = "the VJP of layernorm: (dx, dweight, dbias)";
  let arguments = (ins Ra_FloatTensor:$input, Ra_FloatTensor:$weight, Ra_FloatTensor:$grad,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs Ra_FloatTensor:$input_grad, Ra_FloatTensor:$weight_grad,
                      Ra_FloatTensor:$bias_grad);
  let assemblyFormat = "$input `,` $weight `,` $grad attr-dict `:` functional-type(operands, results)";
  let extraClassDeclaration = "int64_t getFlops() { return 16 * "
      "getInput().getType().cast<::mlir::ShapedType>().getNumElements(); }";
}

def Ra_EmbeddingGradOp : Ra_Op<"embedding_grad", [Pure]> {
  let summary = "the VJP of embedding: grad rows scatter-added into a [V, D] table";
  let arguments = (ins Ra_IndexTensor:$indices, Ra_FloatTensor:$grad);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$indices `,` $grad attr-dict `:` functional-type(operands, results)";
}

def Ra_CrossEntropyGradOp : Ra_Op<"cross_entropy_grad", [Pure, Ra_CostOpInterface]> {
  let summary = "the VJP of cross_entropy: (softmax(logits) - onehot(targets)) * dloss / N";
  let arguments = (ins Ra_FloatTensor:$logits, Ra_IndexTensor:$targets, Ra_ScalarFloat:$grad);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = "$logits `,` $targets `,` $grad attr-dict `:` functional-type(operands, results)";
  let extraClassDeclaration = "int64_t getFlops() { return 5 * "
      "getLogits().getType().cast<::mlir::ShapedType>().getNumElements(); }";
}

def Ra_AttentionGradOp : Ra_Op<"attention_grad", [Pure, Ra_AttentionOpInterface,
    DeclareOpInterfaceMethods<Ra_CostOpInterface>]> {
  let summary = "the VJP of attention: (dq, dk, dv, and dalpha with the reciprocal term)";
  let description = [{
    Same operands and attributes as the `ra.attention` it differentiates,
    plus the gradient of its result. A shared (rank-3) k or v gets the sum of
    its per-head gradients.
  }];
  let arguments = (ins Ra_FloatTensor:$q, Ra_FloatTensor:$k, Ra_FloatTensor:$v,
                       Optional<Ra_ScalarFloat>:$reciprocal_alpha, Ra_FloatTensor:$grad,
                       F64Attr:$scale, UnitAttr:$causal, OptionalAttr<I64Attr>:$band);
  let results = (outs Ra_FloatTensor:$q_grad, Ra_FloatTensor:$k_grad, Ra_FloatTensor:$v_grad,
                      Optional<Ra_ScalarFloat>:$alpha_grad);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`reciprocal` `(` $reciprocal_alpha^ `:` type($reciprocal_alpha) `)`)?
    `grad` `(` $grad `)` attr-dict `:` type($q) `,` type($k) `,` type($v) `,` type($grad)
    `->` type($q_grad) `,` type($k_grad) `,` type($v_grad) (`,` type($alpha_grad)^)?
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fused ops: written by the fusion passes after autodiff, never by the front end
//===----------------------------------------------------------------------===//

def Ra_FlashAttentionOp : Ra_Op<"flash_attention", [Pure, Ra_AttentionOpInterface,
    DeclareOpInterfaceMethods<Ra_CostOpInterface>]> {
  let summary = "attention that keeps each row's log-sum-exp instead of its probabilities";
  let description = [{
    `ra.attention` (same operands and attributes, same `result`), plus
    `lse: [B, H, Tq]`, the log-sum-exp of each query row's masked scores.
    Kernels walk the keys in tiles with an online softmax and never hold a
    `[Tq, Tk]` matrix; `ra.flash_attention_grad` recomputes the probabilities
    from `lse`. Written by `fuse-attention`.
  }];
  let arguments = (ins Ra_FloatTensor:$q, Ra_FloatTensor:$k, Ra_FloatTensor:$v,
                       Optional<Ra_ScalarFloat>:$reciprocal_alpha, F64Attr:$scale,
                       UnitAttr:$causal, OptionalAttr<I64Attr>:$band);
  let results = (outs Ra_FloatTensor:$result, Ra_FloatTensor:$lse);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`reciprocal` `(` $reciprocal_alpha^ `:` type($reciprocal_alpha) `)`)?
    attr-dict `:` type($q) `,` type($k) `,` type($v) `->` type($result) `,` type($lse)
  }];
  let hasVerifier = 1;
}

def Ra_FlashAttentionGradOp : Ra_Op<"flash_attention_grad", [Pure, Ra_AttentionOpInterface,
    DeclareOpInterfaceMethods<Ra_CostOpInterface>]> {
  let summary = "the VJP of flash_attention, from its result and row log-sum-exps";
  let description = [{
    `ra.attention_grad`'s results from the forward's `result` and `lse`:
    probabilities are recomputed tile by tile as `exp(S - lse)` and the
    softmax backward uses `D = rowsum(grad * result)`, so no `[Tq, Tk]`
    matrix is held. Written by `fuse-attention`.
  }];
  let arguments = (ins Ra_FloatTensor:$q, Ra_FloatTensor:$k, Ra_FloatTensor:$v,
                       Optional<Ra_ScalarFloat>:$reciprocal_alpha, Ra_FloatTensor:$result,
                       Ra_FloatTensor:$lse, Ra_FloatTensor:$grad,
                       F64Attr:$scale, UnitAttr:$causal, OptionalAttr<I64Attr>:$band);
  let results = (outs Ra_FloatTensor:$q_grad, Ra_FloatTensor:$k_grad, Ra_FloatTensor:$v_grad,
                      Optional<Ra_ScalarFloat>:$alpha_grad);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`reciprocal` `(` $reciprocal_alpha^ `:` type($reciprocal_alpha) `)`)?
    `result` `(` $result `,` $lse `)` `grad` `(` $grad `)` attr-dict `:` type($q) `,` type($k)
    `,` type($v) `,` type($result) `,` type($lse) `,` type($grad)
    `->` type($q_grad) `,` type($k_grad) `,` type($v_grad) (`,` type($alpha_grad)^)?
  }];
  let hasVerifier = 1;
}

def Ra_GatedFlashAttentionOp : Ra_Op<"gated_flash_attention", [Pure, Ra_AttentionOpInterface,
    DeclareOpInterfaceMethods<Ra_CostOpInterface>]> {
  let summary = "flash_attention with a per-row gate on its output, in the kernel's epilogue";
  let description = [{
    `result = ungated * gate`, with `ungated, lse` those of
    `ra.flash_attention` and `gate: [B, H, Tq, 1]` a factor per query row of
    each head (mechanism 1's `1 - alpha + alpha * g_h`). The kernel scales
    each row as it writes it: the gate is never broadcast to `[B, H, Tq, Dv]`.
    `ungated` is kept for the backward pass. Written by `fuse-gated-attention`.
  }];
  let arguments = (ins Ra_FloatTensor:$q, Ra_FloatTensor:$k, Ra_FloatTensor:$v,
                       Optional<Ra_ScalarFloat>:$reciprocal_alpha, Ra_FloatTensor:$gate,
                       F64Attr:$scale, UnitAttr:$causal, OptionalAttr<I64Attr>:$band);
  let results = (outs Ra_FloatTensor:$result, Ra_FloatTensor:$ungated, Ra_FloatTensor:$lse);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`reciprocal` `(` $reciprocal_alpha^ `:` type($reciprocal_alpha) `)`)?
    `gate` `(` $gate `)` attr-dict `:` type($q) `,` type($k) `,` type($v) `,` type($gate)
    `->` type($result) `,` type($ungated) `,` type($lse)
  }];
  let hasVerifier = 1;
}

def Ra_GatedFlashAttentionGradOp : Ra_Op<"gated_flash_attention_grad", [Pure, Ra_AttentionOpInterface,
    DeclareOpInterfaceMethods<Ra_CostOpInterface>]> {
  let summary = "the VJP of gated_flash_attention: the gate's gradient from the same pass";
  let description = [{
    `flash_attention_grad` of `grad * gate`, and `gate_grad = rowsum(grad *
    ungated)`, computed row by row in the same kernel: neither `grad * gate`
    nor `grad * ungated` is stored. Written by `fuse-gated-attention`.
  }];
  let arguments = (ins Ra_FloatTensor:$q, Ra_FloatTensor:$k, Ra_FloatTensor:$v,
                       Optional<Ra_ScalarFloat>:$reciprocal_alpha, Ra_FloatTensor:$gate,
                       Ra_FloatTensor:$ungated, Ra_FloatTensor:$lse, Ra_FloatTensor:$grad,
                       F64Attr:$scale, UnitAttr:$causal, OptionalAttr<I64Attr>:$band);
  let results = (outs Ra_FloatTensor:$q_grad, Ra_FloatTensor:$k_grad, Ra_FloatTensor:$v_grad,
                      Ra_FloatTensor:$gate_grad, Optional<Ra_ScalarFloat>:$alpha_grad);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`reciprocal` `(` $reciprocal_alpha^ `:` type($reciprocal_alpha) `)`)?
    `gate` `(` $gate `)` `result` `(` $ungated `,` $lse `)` `grad` `(` $grad `)` attr-dict `:`
    type($q) `,` type($k) `,` type($v) `,` type($gate) `,` type($ungated) `,` type($lse) `,`
    type($grad) `->` type($q_grad) `,` type($k_grad) `,` type($v_grad) `,` type($gate_grad)
    (`,` type($alpha_grad)^)?
  }];
  let hasVerifier = 1;
}

def Ra_HeadMeanAttentionOp : Ra_Op<"head_mean_attention", [Pure, Ra_AttentionOpInterface,
    DeclareOpInterfaceMethods<Ra_CostOpInterface>]> {
  let summary = "attention averaged over heads, on the probabilities of the block's attention";
  let description = [{
    `reduce_mean(attention(q, k, v), axis 1)`: `[B, Tq, Dv]` with `v` shared by
    every head (`[B, Tk, Dv]`, mechanism 2's MLP activations). `lse: [B, H, Tq]`
    holds the row log-sum-exps of a sibling `ra.flash_attention` (or
    `ra.gated_flash_attention`) over the same `q`, `k` and reciprocal term,
    so each head's probabilities are `exp(S - lse)` with no softmax of their
    own, and they are averaged over heads before they meet `v`: one softmax,
    two products (`P v` in the sibling, `mean_h(P) a` here), and `Dv` work per
    score instead of `H Dv`. The `[B, H, Tq, Dv]` per-head outputs are never
    stored. Written by `fuse-head-mean-attention`.
  }];
  let arguments = (ins Ra_FloatTensor:$q, Ra_FloatTensor:$k, Ra_FloatTensor:$v,
                       Optional<Ra_ScalarFloat>:$reciprocal_alpha, Ra_FloatTensor:$lse,
                       F64Attr:$scale, UnitAttr:$causal, OptionalAttr<I64Attr>:$band);
  let results = (outs Ra_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`reciprocal` `(` $reciprocal_alpha^ `:` type($reciprocal_alpha) `)`)?
    `lse` `(` $lse `)` attr-dict `:` type($q) `,` type($k) `,` type($v) `,` type($lse)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

def Ra_HeadMeanAttentionGradOp : Ra_Op<"head_mean_attention_grad", [Pure, Ra_AttentionOpInterface,
    DeclareOpInterfaceMethods<Ra_CostOpInterface>]> {
  let summary = "the VJP of head_mean_attention: every head reads grad / H";
  let description = [{
    `flash_attention_grad` with each head's output gradient `grad / H`
    (`grad: [B, Tq, Dv]`, never broadcast). Every head's `dP` is the same
    `grad v^T / H`, made once per row, and `v`'s gradient is
    `mean_h(P)^T grad`, one product after the heads' probabilities are
    averaged; the softmax backward's row term comes from the row's own
    probabilities, so the per-head outputs are not needed. Written by
    `fuse-head-mean-attention`.
  }];
  let arguments = (ins Ra_FloatTensor:$q, Ra_FloatTensor:$k, Ra_FloatTensor:$v,
                       Optional<Ra_ScalarFloat>:$reciprocal_alpha, Ra_FloatTensor:$lse,
                       Ra_FloatTensor:$grad, F64Attr:$scale, UnitAttr:$causal,
                       OptionalAttr<I64Attr>:$band);
  let results = (outs Ra_FloatTensor:$q_grad, Ra_FloatTensor:$k_grad, Ra_FloatTensor:$v_grad,
                      Optional<Ra_ScalarFloat>:$alpha_grad);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`reciprocal` `(` $reciprocal_alpha^ `:` type($reciprocal_alpha) `)`)?
    `lse` `(` $lse `)` `grad` `(` $grad `)` attr-dict `:` type($q) `,` type($k) `,` type($v) `,`
    type($lse) `,` type($grad) `->` type($q_grad) `,` type($k_grad) `,` type($v_grad)
    (`,` type($alpha_grad)^)?
  }];
  let hasVerifier = 1;
}

def Ra_CrossEntropyWithGradOp : Ra_Op<"cross_entropy_with_grad", [Pure, Ra_CostOpInterface]> {
  let summary = "cross_entropy and its gradient from one pass over the logits";
  let description = [{
    `(cross_entropy(logits, targets), cross_entropy_grad(logits, targets,
    grad))`: each row's softmax is computed once, for the loss and for the
    gradient, and the logits are read once. Written by `fuse-cross-entropy`.
  }];
  let arguments = (ins Ra_FloatTensor:$logits, Ra_IndexTensor:$targets, Ra_ScalarFloat:$grad);
  let results = (outs Ra_ScalarFloat:$loss, Ra_FloatTensor:$logits_grad);
  let assemblyFormat = "$logits `,` $targets `,` $grad attr-dict `:` functional-type(operands, results)";
  let extraClassDeclaration = "int64_t getFlops() { return 6 * "
      "getLogits().getType().cast<::mlir::ShapedType>().getNumElements(); }";
}

def Ra_FusedElementwiseOp : Ra_Op<"fused_elementwise", [Pure, IsolatedFromAbove,
    DeclareOpInterfaceMethods<Ra_CostOpInterface>]> {
  let summary = "a chain of elementwise ops as one kernel: one pass, no intermediates";
  let description = [{
    The body computes one element of the result from one element of each
    input; its block arguments and values are `tensor<f32>` (one element),
    its ops elementwise `ra` ops and splat constants, and `ra.yield` returns
    the element. An input has the result's shape, or one element (a scalar
    broadcast), or the result's trailing dims (a bias broadcast over rows).
    Written by `fuse-elementwise`.

      %r = ra.fused_elementwise %m, %b : (tensor<8x64xf32>, tensor<64xf32>) -> tensor<8x64xf32> {
      ^bb0(%x: tensor<f32>, %y: tensor<f32>):
        %s = ra.add %x, %y : tensor<f32>
        %g = ra.gelu %s : tensor<f32>
        ra.yield %g : tensor<f32>
      }
  }];
  let arguments = (ins Variadic<Ra_FloatTensor>:$inputs);
  let results = (outs Ra_FloatTensor:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, $result) $body";
  let hasVerifier = 1;
}

def Ra_YieldOp : Ra_Op<"yield", [Pure, Terminator, HasParent<"FusedElementwiseOp">]> {
  let summary = "the element a fused_elementwise body computes";
  let arguments = (ins Ra_FloatTensor:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

#endif // RA_OPS_TD
