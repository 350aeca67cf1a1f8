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
}

// Floating-point activations and parameters. Add BF16 here when the
// interpreter and the emitters learn it.
def Ra_FloatTensor : StaticShapeTensorOf<[F32]>;
def Ra_IndexTensor : StaticShapeTensorOf<[I32]>;
def Ra_ScalarFloat : 0DTensorOf<[F32]>;

class Ra_Op<string mnemonic, list<Trait> traits = []> :
    Op<Ra_Dialect, mnemonic, traits>;

#endif // RA_BASE_TD
