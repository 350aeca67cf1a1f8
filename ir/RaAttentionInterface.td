//===- RaAttentionInterface.td - what every attention op is -----*- tablegen -*-===//
//
// The eight attention ops (attention, its flash, gated and head-mean forms,
// and their gradients) share their scores: queries q, keys k, values v, RA's
// reciprocal weight alpha, the scale, the causal mask and RA's band. This
// interface is that common part, so the interpreter, the kernel form, the
// stats, the sequence-axes analysis and the fusions read one thing instead
// of listing the ops; its verifier checks the common shapes once for all.
//
//===----------------------------------------------------------------------===//
#ifndef RA_ATTENTION_INTERFACE_TD
#define RA_ATTENTION_INTERFACE_TD

include "mlir/IR/OpBase.td"

def Ra_AttentionOpInterface : OpInterface<"AttentionOpInterface"> {
  let cppNamespace = "::ra";
  let description = [{
    `q: [B, H, Tq, E]`; `k: [B, H, Tk, E]` or `[B, Tk, E]` (shared by every
    head); `v: [B, H, Tk, Dv]` or `[B, Tk, Dv]`; scores `S = scale q k^T`,
    masked to `j <= i` when causal, plus `alpha S[j, i]` within the band when
    the op has RA's reciprocal term. A gradient form also takes the gradient
    of its forward's result (`getOutputGrad`).
  }];
  let methods = [
    InterfaceMethod<"the queries [B, H, Tq, E]", "::mlir::Value", "getQ", (ins),
                    [{ return $_op.getQ(); }]>,
    InterfaceMethod<"the keys, per head or shared", "::mlir::Value", "getK", (ins),
                    [{ return $_op.getK(); }]>,
    InterfaceMethod<"the values, per head or shared", "::mlir::Value", "getV", (ins),
                    [{ return $_op.getV(); }]>,
    InterfaceMethod<"RA's reciprocal weight, or null", "::mlir::Value", "getReciprocalAlpha",
                    (ins), [{ return $_op.getReciprocalAlpha(); }]>,
    InterfaceMethod<"the scale of q k^T", "::mlir::FloatAttr", "getScaleAttr", (ins),
                    [{ return $_op.getScaleAttr(); }]>,
    InterfaceMethod<"set when the scores are masked to j <= i", "::mlir::UnitAttr",
                    "getCausalAttr", (ins), [{ return $_op.getCausalAttr(); }]>,
    InterfaceMethod<"RA's band (the reciprocal term where i - j <= band), or null",
                    "::mlir::IntegerAttr", "getBandAttr", (ins),
                    [{ return $_op.getBandAttr(); }]>,
    InterfaceMethod<"the gradient of the forward's result (gradient forms), or null",
                    "::mlir::Value", "getOutputGrad", (ins), [{
      if constexpr (requires { $_op.getGrad(); })
        return $_op.getGrad();
      else
        return {};
    }]>,
  ];
  let extraSharedClassDeclaration = [{
    double getScaleValue() { return $_op.getScaleAttr().getValueAsDouble(); }
    bool isCausal() { return bool($_op.getCausalAttr()); }
    bool hasReciprocal() { return bool($_op.getReciprocalAlpha()); }
    /// The band, or -1 for the whole causal triangle.
    int64_t getBandOrAll() {
      return $_op.getBandAttr() ? $_op.getBandAttr().getInt() : -1;
    }
    /// Whether this is the gradient of a forward form.
    bool isGradient() { return bool($_op.getOutputGrad()); }
    /// The static parameters its kernels take.
    ::ra_attention::AttentionShape getAttentionShape() {
      return ::ra::attentionShape($_op.getQ(), $_op.getK(), $_op.getV(), getScaleValue(),
                                  isCausal(), hasReciprocal(), getBandOrAll());
    }
  }];
  let extraClassDeclaration = [{
    /// Whether `other` computes the same scores and probabilities: the same
    /// q, k, reciprocal term, scale, mask and band.
    bool sameScores(AttentionOpInterface other) {
      return getQ() == other.getQ() && getK() == other.getK() &&
             getReciprocalAlpha() == other.getReciprocalAlpha() &&
             getScaleAttr() == other.getScaleAttr() && getCausalAttr() == other.getCausalAttr() &&
             getBandAttr() == other.getBandAttr();
    }
  }];
  let verify = [{ return ::ra::verifyAttentionScores($_op); }];
}

#endif // RA_ATTENTION_INTERFACE_TD
