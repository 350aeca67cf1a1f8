//===- KernelForm.h - entry points as lists of kernel calls ------*- C++ -*-===//
//
// The form every code generator renders: for each entry point, the kernel
// calls in order, each a kernel family with its typed static parameters
// (shapes, axes, constants) and references to buffers (arena offsets from
// ra-plan-memory, parameters, inputs). Two calls with equal keys are one
// kernel called twice: a 12-layer model has each distinct kernel once.
//
// Kernel formation is one op, one kernel (GEMMs a library call); views
// (get_param, reshape, leading-axis slices, inputs) are no kernel. The
// fusion passes change what an op is, not this form.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CODEGEN_KERNELFORM_H
#define RA_CODEGEN_KERNELFORM_H

#include "abi/ra_attention_shape.h"
#include "abi/ra_dtype.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <variant>
#include <vector>

namespace ra::codegen {

/// Where parameters live in the flat parameter buffer (elements, 16-aligned).
struct ParamSlot {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0, elements = 0;
  bool trainable = true;
};
std::vector<ParamSlot> layoutParams(mlir::ModuleOp module);
int64_t paramBufferElements(const std::vector<ParamSlot> &slots);

struct BufferRef {
  enum Kind { Arena, Param, Input } kind = Arena;
  int64_t offset = 0; // bytes into the arena, or elements into the parameters
  int index = 0;      // input index
  ra_dtype::Dtype dtype = ra_dtype::Dtype::F32;
  int64_t elements = 0;
  bool isInt() const { return dtype == ra_dtype::Dtype::I32; }
};

/// The same buffer: kind, place, length and type.
bool sameBuffer(const BufferRef &a, const BufferRef &b);
/// Whether two buffers share an element (arena offsets are bytes, parameter
/// offsets elements; an input is one buffer).
bool overlaps(const BufferRef &a, const BufferRef &b);

//===----------------------------------------------------------------------===//
// The kernel families and their static parameters
//===----------------------------------------------------------------------===//

/// What generated code calls: one kernel function (CPU) or launcher (CUDA)
/// per family, in the families' headers under codegen/cpu and codegen/cuda.
enum class Family {
  Unary,
  Binary,
  Fill,
  Iota,
  SetParam,
  Gather,
  Slice,
  ConcatPart,
  Gemm,
  Reduce,
  CausalMean,
  Softmax,
  LayerNorm,
  LayerNormGrad,
  Embedding,
  EmbeddingGrad,
  CrossEntropy,
  CrossEntropyGrad,
  CrossEntropyWithGrad,
  Attention,
  AttentionGrad,
  FlashAttention,
  FlashAttentionGrad,
  GatedFlashAttention,
  GatedFlashAttentionGrad,
  HeadMeanAttention,
  HeadMeanAttentionGrad,
  CachedAttention,
  RunningMean,
  FusedElementwise,
};

/// n elements and the ra_math function applied to each (unary, binary).
struct ElementwiseParams {
  int64_t n;
  std::string fn; // ra_math::Unary or ra_math::Binary: "Add", "Gelu", ...
};
/// n elements copied (set_param).
struct CopyParams {
  int64_t n;
};
struct FillParams {
  int64_t n;
  double value;
};
/// n elements, each its index along an axis of axisSize with `inner` after.
struct IotaParams {
  int64_t n, axisSize, inner;
};
/// out[c] = in[sum c_d strides_d] over the output's dims (broadcast: stride
/// 0 on broadcast dims; transpose: permuted strides).
struct GatherParams {
  std::vector<int64_t> dims, strides;
};
/// A tensor as [outer, n, inner] around the axis an op works along.
struct AxisShape {
  int64_t outer, n, inner;
};
struct ReduceParams {
  AxisShape axis;
  std::string fn; // Sum, Mean, Max
  /// The values summed as rounded to bfloat16 (ra::sumRoundsToBf16: a bias
  /// gradient in a bf16 build, as its GEMM's BGRADA epilogue sums them).
  bool bf16Input = false;
};
struct CausalMeanParams {
  AxisShape axis;
  bool grad; // causal_mean_grad
};
/// [outer, n, inner] -> [outer, end - start, inner].
struct SliceParams {
  AxisShape axis;
  int64_t start, end;
};
/// One input [outer, n, inner] of a concat into its place at `offset` along
/// an axis of `total`.
struct ConcatPartParams {
  AxisShape axis;
  int64_t offset, total;
};
/// A row-wise op's view of its input: rows of `width` (the last axis).
struct RowShape {
  int64_t rows, width;
};
struct LayerNormParams {
  RowShape row;
  double eps;
};
/// C[i] = op(A[i]) op(B[i]) for `batch` products of m x k and k x n;
/// aOffsets/bOffsets: the matrix of each operand per product (broadcast
/// batch dims repeat one). bf16Inputs: A and B are rounded to bfloat16 and
/// the products accumulate in float32 (racc compile --precision bf16).
struct GemmShape {
  int64_t batch, m, n, k;
  bool transposeA, transposeB;
  std::vector<int64_t> aOffsets, bOffsets;
  bool bf16Inputs = false;
  /// What the GEMM adds to its product (foldGemmEpilogues): a bias row
  /// broadcast over C's rows (operand 2), and a residual of C's shape
  /// (operand 3). C = AB + bias [+ residual]. BiasGeluAux: also G =
  /// gelu(C) into a second result (C stays: the GELU's backward reads it),
  /// cuBLASLt's GELU_AUX_BIAS; BiasGelu: C = gelu(AB + bias), GELU_BIAS.
  /// The backward forms: BiasGrad, C = AB and a second result db, the sums
  /// of B's k rows as the product reads them (a bias's gradient, BGRADA);
  /// GeluGrad, C = gelu'(pre) * AB with pre the GELU's input (operand 2),
  /// DGELU.
  enum class Epilogue {
    None,
    Bias,
    BiasResidual,
    BiasGeluAux,
    BiasGelu,
    BiasGrad,
    GeluGrad
  } epilogue = Epilogue::None;

  /// The elements of A and of B the products read (every matrix an offset
  /// names, up to the largest): what a bf16 GEMM rounds.
  int64_t aElements() const;
  int64_t bElements() const;
};
/// `ids` ids into a [vocab, width] table (embedding and its gradient).
struct LookupShape {
  int64_t ids, vocab, width;
};
using ra_attention::AttentionShape;
using ra_attention::CachedAttentionShape;

/// One step of a fused elementwise kernel's per-element body, in order: an
/// element of an input, a constant, or a unary or binary function (the names
/// of ra_math::Unary / Binary) of earlier steps.
struct FusedStep {
  enum Kind { Input, Constant, Unary, Binary } kind = Input;
  std::string fn;     // Unary/Binary: e.g. "Add", "Gelu"
  int a = -1, b = -1; // Unary/Binary: earlier steps
  int input = -1;     // Input: which operand
  int64_t modulo = 0; // Input: read at i (0), at 0 (1), or at i % modulo
  double value = 0;   // Constant

  /// A store: writes step `a` to result `input` (-1: result 0).
  bool isStore() const { return kind == Unary && fn.empty(); }
  int result() const { return input < 0 ? 0 : input; }
};
/// How a step reads in C++ (`ra_math::apply<ra_math::Binary::Add>(v0, v1)`,
/// for the kernels) or as text (`Add(v0, v1)`, for --emit=kernels).
enum class StepSyntax { Code, Text };
std::string fusedStepExpression(const FusedStep &step, StepSyntax syntax);

/// n elements computed by `body`. A store step (Unary with no function)
/// writes step `a` to result `input` (-1: result 0); one kernel's body ends
/// with its store, merged kernels' (fuseElementwiseSequences) have one per
/// result.
struct FusedParams {
  int64_t n;
  std::vector<FusedStep> body;
};

using KernelParams =
    std::variant<ElementwiseParams, CopyParams, FillParams, IotaParams, GatherParams, ReduceParams,
                 CausalMeanParams, SliceParams, ConcatPartParams, RowShape, LayerNormParams,
                 GemmShape, LookupShape, AttentionShape, CachedAttentionShape, FusedParams>;

struct KernelCall {
  Family family;
  KernelParams params;
  std::vector<BufferRef> operands, results;
  std::string origin; // FILE:LINE:COL of the op

  template <class P> const P &get() const { return std::get<P>(params); }
  /// The family's name, with its function where it has one: "gemm",
  /// "binary.Add", "reduce.Sum".
  std::string name() const;
  /// Family and static parameters: calls with equal keys share a kernel.
  std::string key() const;
  /// The name with the static integers, "gemm(1,64,192,64,0,0,0,0)": what
  /// rarun bench --profile reports.
  std::string profileName() const;
};

/// One static parameter, by name, for printing the kernel form.
struct Field {
  enum Kind { Int, Bool, Float, Ints } kind = Int;
  const char *name = "";
  int64_t i = 0;
  double f = 0;
  std::vector<int64_t> list;
};
/// A call's static parameters in order (KernelCall::key's integers are the
/// Int, Bool and Ints fields in this order, its floats the Float fields).
std::vector<Field> fieldsOf(const KernelParams &params);

/// What the generators, the manifest and the runtime need to know of a
/// family beyond its parameters: one table (KernelFamilies.cpp).
struct FamilyInfo {
  Family family;
  const char *name;
  /// The operand holding token ids that index a table, or -1.
  int idOperand = -1;
  /// Whether it copies its operand's elements unchanged in another layout
  /// (ids flow through it to the kernel that checks them).
  bool layout = false;
};
const FamilyInfo &familyInfo(Family family);
/// The family called `name` (an op's mnemonic for the attention forms).
std::optional<Family> familyNamed(llvm::StringRef name);

/// The bound B a call's ids must lie in, [0, B): the table's rows or the
/// classes; 0 when the family reads no ids.
int64_t idBound(const KernelCall &call);

/// Floats of scratch a call's CUDA kernel needs beyond the arena, for
/// fixed-order sums and the attention backward's rows.
int64_t cudaScratchFloats(const KernelCall &call);

struct TensorSig {
  std::string name;
  std::vector<int64_t> shape;
  ra_dtype::Dtype dtype = ra_dtype::Dtype::F32;
};

struct EntryPoint {
  std::string name;
  std::vector<TensorSig> inputs, outputs;
  std::vector<BufferRef> outputRefs;
  int64_t arenaBytes = 0;
  std::vector<KernelCall> calls;
};

/// Floats of scratch an entry point's CUDA kernels need beyond the arena.
int64_t scratchFloats(const EntryPoint &entry);

/// A GEMM followed at once by the fused elementwise kernel that adds a bias
/// row (and a residual) to its result in place becomes one GEMM with that
/// epilogue (GemmEpilogue.cpp): cuBLASLt's bias epilogue on a GPU, the bias
/// and residual as the GEMM's C input (beta = 1) on a CPU, so C is written
/// once instead of written, read and written again. In the backward pass,
/// a bias's gradient (the sum of a weight gradient's B over its k rows) and
/// the GELU's backward over a GEMM's product become that GEMM's BGRADA and
/// DGELU epilogues.
void foldGemmEpilogues(EntryPoint &entry);

/// Consecutive fused elementwise kernels of one length become one kernel
/// that runs their bodies in turn per element, where that is exact
/// (ElementwiseSequence.cpp): AdamW's update of a parameter is one pass.
void fuseElementwiseSequences(EntryPoint &entry);

/// Whether an entry point writes the parameters (a set_param, or a kernel
/// that updates a parameter in place).
bool writesParameters(const EntryPoint &entry);

/// For each input of `e`: the bound B its ids must lie in, [0, B), when
/// they index a table (embedding rows, cross-entropy classes), directly or
/// through layout copies; 0 for inputs that index nothing. The runtime checks
/// ids on the host before a call (on a GPU the kernels cannot report them).
std::vector<int64_t> inputIdBounds(const EntryPoint &e);

/// A module's kernel form: where its parameters live and its entry points.
struct KernelProgram {
  std::vector<ParamSlot> params;
  std::vector<EntryPoint> entries;
  int64_t parameterElements() const { return paramBufferElements(params); }
};

/// Forms every entry point of a module after ra-plan-memory. Reports (and
/// fails on) what the generators cannot render, such as a parameter read
/// after it was written.
mlir::FailureOr<KernelProgram> formKernels(mlir::ModuleOp module);

/// The kernel form as text, one line per call with its named parameters and
/// buffers (racc compile --emit=kernels).
std::string printKernelForm(const KernelProgram &program);

} // namespace ra::codegen

#endif // RA_CODEGEN_KERNELFORM_H
