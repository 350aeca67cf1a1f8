//===- RaBase.td - the ra dialect and its type constraints -----*- tablegen -*-===//
//
// The `ra` dialect: semantic ops on ranked, statically shaped tensors, small
// enough that the fusion passes can recognize every pattern they rewrite.
//
//===----------------------------------------------------------------------===//
#ifndef RA_BASE_TD
#define RA_BASE_TD

include "mlir/IR/OpBase.td"

def Ra_Dialect : Dialect {
  let name = "ra";
  let cppNamespace = "::ra";
  let summary = "Transformer-variant ops for the racc compiler";
  let description = [{
    Ops on ranked static tensors. Parameters are module-level symbols
    (`ra.param`) read with `ra.get_param`. Element types are f32 for
    activations and i32 for token ids; the float constraint below is the one
    place to widen for bf16.
  }];
  let hasConstantMaterializer = 0;
  let useFoldAPI = kEmitFoldAdaptorFolder;
  // The attributes racc's passes attach to the module, to functions and to
  // ops; `verifyOperationAttribute` rejects any other `ra.` name, so a
  // misspelled one is an error rather than an attribute nobody reads.
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Module: the `.graph` file compiled, and its configs (name -> number).
    static constexpr ::llvm::StringLiteral kSourceAttr = "ra.source";
    static constexpr ::llvm::StringLiteral kConfigAttr = "ra.config";
    /// Module: ra-check-unused-params ran; parameters: it found this one unused.
    static constexpr ::llvm::StringLiteral kUnusedCheckedAttr = "ra.unused_checked";
    static constexpr ::llvm::StringLiteral kUnusedAttr = "ra.unused";
    /// Entry points: the names of their inputs and outputs (string arrays).
    static constexpr ::llvm::StringLiteral kInputsAttr = "ra.inputs";
    static constexpr ::llvm::StringLiteral kOutputsAttr = "ra.outputs";
    /// @train_step: the parameters of its per-parameter gradient norms, in order.
    static constexpr ::llvm::StringLiteral kGradNormParamsAttr = "ra.grad_norm_params";
    /// Entry points: the arena ra-plan-memory packed; ops: their results' offsets.
    static constexpr ::llvm::StringLiteral kArenaBytesAttr = "ra.arena_bytes";
    static constexpr ::llvm::StringLiteral kOffsetsAttr = "ra.offsets";
    /// Matmuls absorb-latent-weights decided on: the decision and its costs.
    static constexpr ::llvm::StringLiteral kAbsorbAttr = "ra.absorb";
    /// @decode: what it keeps between calls, one dictionary per cache (name,
    /// kind, role, axis, slots, elements per entry), in its inputs' order.
    static constexpr ::llvm::StringLiteral kCachesAttr = "ra.caches";
    /// @decode: how its per-token caches are paged, {block_positions = P,
    /// blocks = N}: pools of N blocks of P positions and a block table.
    static constexpr ::llvm::StringLiteral kPagingAttr = "ra.paging";
    /// Module: why derive-decoding wrote no @prefill/@decode.
    static constexpr ::llvm::StringLiteral kDecodingRefusedAttr = "ra.decoding_refused";
    /// Module: "bf16" when every matmul rounds its operands to bfloat16 and
    /// accumulates in float32 (racc compile --precision bf16); absent or
    /// "f32": float32 operands.
    static constexpr ::llvm::StringLiteral kMatmulPrecisionAttr = "ra.matmul_precision";
  }];
}

// Floating-point activations and parameters. Add BF16 here when the
// interpreter and the emitters learn it.
def Ra_FloatTensor : StaticShapeTensorOf<[F32]>;
// What @decode keeps between calls: float32, or half (f16) or bfloat16 to
// halve the cache (racc compile --cache-dtype).
def Ra_CacheTensor : StaticShapeTensorOf<[F32, F16, BF16]>;
def Ra_IndexTensor : StaticShapeTensorOf<[I32]>;
def Ra_ScalarFloat : 0DTensorOf<[F32]>;

class Ra_Op<string mnemonic, list<Trait> traits = []> :
    Op<Ra_Dialect, mnemonic, traits>;

#endif // RA_BASE_TD
