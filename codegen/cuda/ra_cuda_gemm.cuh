//===- ra_cuda_gemm.cuh - matrix products through cuBLAS --------*- C++ -*-===//
//
// cuBLAS sgemm (one strided-batched call where the batch steps evenly), with
// bf16 operands (--precision bf16), and with epilogues through cuBLASLt
// (bias [+ residual], GELU, and the backward's bias gradient and DGELU); the
// emulator build calls the CPU BLAS on its host memory and runs the
// epilogues' own kernels.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_GEMM_CUH
#define RA_CUDA_GEMM_CUH

#include "ra_cuda_common.cuh"
#include "ra_cuda_reduce.cuh"
#include "ra_dtype.h"

#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace ra_cuda {

/// The stride of offsets that step evenly (off[i] = off[0] + i * stride),
/// or -1: such a batch is one strided-batched cuBLAS call.
inline i64 evenStride(const i64 *off, i64 batch) {
  i64 stride = batch > 1 ? off[1] - off[0] : 0;
  for (i64 i = 2; i < batch; ++i)
    if (off[i] - off[i - 1] != stride)
      return -1;
  return stride;
}

/// C[b] = op(A[b]) op(B[b]) for each of `batch` products, row-major;
/// aOff/bOff give each operand's matrix per batch entry (host arrays).
/// cuBLAS is column-major: C^T = op(B)^T op(A)^T, so the operands swap.
inline void gemm(const float *a, const float *b, float *c, i64 batch, const i64 *aOff,
                 const i64 *bOff, i64 m, i64 n, i64 k, bool ta, bool tb) {
#ifdef __CUDACC__
  if (i64 sa = evenStride(aOff, batch), sb = evenStride(bOff, batch);
      batch > 1 && sa >= 0 && sb >= 0) {
    const float one = 1.f, zero = 0.f;
    cublasStatus_t status = cublasSgemmStridedBatched(
        ra_cublas_handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n),
        int(m), int(k), &one, b + bOff[0] * k * n, int(tb ? k : n), sb * k * n, a + aOff[0] * m * k,
        int(ta ? m : k), sa * m * k, &zero, c, int(n), m * n, int(batch));
    if (status != CUBLAS_STATUS_SUCCESS)
      fail("cublasSgemmStridedBatched", cublasGetStatusString(status));
    return;
  }
#endif
  for (i64 i = 0; i < batch; ++i) {
#ifdef __CUDACC__
    const float one = 1.f, zero = 0.f;
    cublasStatus_t status = cublasSgemm(
        ra_cublas_handle(), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n),
        int(m), int(k), &one, b + bOff[i] * k * n, int(tb ? k : n), a + aOff[i] * m * k,
        int(ta ? m : k), &zero, c + i * m * n, int(n));
    if (status != CUBLAS_STATUS_SUCCESS)
      fail("cublasSgemm", cublasGetStatusString(status));
#else // the emulator's device memory is host memory; the GEMM is work on
      // the stream like a kernel (recorded while the stream captures)
    const float *ai = a + aOff[i] * m * k, *bi = b + bOff[i] * k * n;
    float *ci = c + i * m * n;
    ra_simt::enqueue(RA_STREAM, [=] {
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                  int(m), int(n), int(k), 1.f, ai, int(ta ? m : k), bi, int(tb ? k : n), 0.f, ci,
                  int(n));
    });
#endif
  }
}

/// out[i] = the bits of x[i] rounded to bfloat16 (to nearest even), what
/// cuBLAS reads as CUDA_R_16BF.
__global__ void roundToBf16Kernel(const float *x, uint16_t *out, i64 n) {
  RA_GRID_STRIDE(i, n) { out[i] = ra_dtype::floatToBf16(x[i]); }
}

/// A and B rounded to bf16 bits into `scratch` (abi/ra_dtype.h's staging
/// layout); returns where each starts.
inline std::pair<uint16_t *, uint16_t *>
roundOperandsToBf16(const float *a, const float *b, i64 aElements, i64 bElements, float *scratch) {
  uint16_t *ar = reinterpret_cast<uint16_t *>(scratch);
  uint16_t *br = ar + ra_dtype::bf16StagingB(aElements);
  RA_LAUNCH(roundToBf16Kernel, dim3(gridFor(aElements)), dim3(kThreads), 0, a, ar, aElements);
  RA_LAUNCH(roundToBf16Kernel, dim3(gridFor(bElements)), dim3(kThreads), 0, b, br, bElements);
  return {ar, br};
}

/// The products of operands already rounded to bf16 bits (ar, br), float32
/// accumulation: on a GPU cuBLAS's bf16 tensor-core GEMM (cublasGemmEx,
/// CUBLAS_COMPUTE_32F); under the emulator the CPU GEMM of the bits widened
/// to float, the same arithmetic (a product of two bf16 values is exact in
/// float32).
inline void gemmRoundedBf16(const uint16_t *ar, const uint16_t *br, float *c, i64 batch,
                            const i64 *aOff, const i64 *bOff, i64 m, i64 n, i64 k, bool ta, bool tb,
                            i64 aElements, i64 bElements) {
#ifdef __CUDACC__
  (void)aElements;
  (void)bElements;
  const float one = 1.f, zero = 0.f;
  const cublasOperation_t opA = ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                          opB = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  // Column-major, as gemm: C^T = op(B)^T op(A)^T.
  if (i64 sa = evenStride(aOff, batch), sb = evenStride(bOff, batch);
      batch > 1 && sa >= 0 && sb >= 0) {
    cublasStatus_t status = cublasGemmStridedBatchedEx(
        ra_cublas_handle(), opB, opA, int(n), int(m), int(k), &one, br + bOff[0] * k * n,
        CUDA_R_16BF, int(tb ? k : n), sb * k * n, ar + aOff[0] * m * k, CUDA_R_16BF,
        int(ta ? m : k), sa * m * k, &zero, c, CUDA_R_32F, int(n), m * n, int(batch),
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (status != CUBLAS_STATUS_SUCCESS)
      fail("cublasGemmStridedBatchedEx (bf16)", cublasGetStatusString(status));
    return;
  }
  for (i64 i = 0; i < batch; ++i) {
    cublasStatus_t status = cublasGemmEx(
        ra_cublas_handle(), opB, opA, int(n), int(m), int(k), &one, br + bOff[i] * k * n,
        CUDA_R_16BF, int(tb ? k : n), ar + aOff[i] * m * k, CUDA_R_16BF, int(ta ? m : k), &zero,
        c + i * m * n, CUDA_R_32F, int(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (status != CUBLAS_STATUS_SUCCESS)
      fail("cublasGemmEx (bf16)", cublasGetStatusString(status));
  }
#else
  // Work on the stream: widened when it runs (a captured graph's replay
  // reads the bits its own rounding kernels wrote). The offsets are copied:
  // a replay outlives the caller's arrays.
  std::vector<i64> ao(aOff, aOff + batch), bo(bOff, bOff + batch);
  ra_simt::enqueue(RA_STREAM, [=] {
    static thread_local std::vector<float> wide;
    wide.resize(size_t(aElements + bElements));
    for (i64 i = 0; i < aElements; ++i)
      wide[i] = ra_dtype::bf16ToFloat(ar[i]);
    for (i64 i = 0; i < bElements; ++i)
      wide[aElements + i] = ra_dtype::bf16ToFloat(br[i]);
    gemm(wide.data(), wide.data() + aElements, c, batch, ao.data(), bo.data(), m, n, k, ta, tb);
  });
#endif
}

/// gemm with A and B rounded to bfloat16 and float32 accumulation (racc
/// compile --precision bf16); aElements and bElements are what the products
/// read of A and B, rounded into `scratch`.
inline void gemmBf16(const float *a, const float *b, float *c, i64 batch, const i64 *aOff,
                     const i64 *bOff, i64 m, i64 n, i64 k, bool ta, bool tb, i64 aElements,
                     i64 bElements, float *scratch) {
  auto [ar, br] = roundOperandsToBf16(a, b, aElements, bElements, scratch);
  gemmRoundedBf16(ar, br, c, batch, aOff, bOff, m, n, k, ta, tb, aElements, bElements);
}

/// c[i] += bias[i % n] (+ residual[i]): a GEMM's epilogue as its own kernel
/// (the emulator's, and a GPU's where cuBLASLt offers no algorithm).
__global__ void biasEpilogueKernel(float *c, const float *bias, const float *residual, i64 n,
                                   i64 total) {
  RA_GRID_STRIDE(i, total) {
    float v = c[i] + bias[i % n];
    c[i] = residual ? residual[i] + v : v;
  }
}

/// What cuBLASLt does after the product: GemmShape::Epilogue's GPU forms.
enum class LtEpilogue { Bias, GeluBias, GeluAuxBias, BiasGradA, DGelu };

#ifdef __CUDACC__
/// C = op(A) op(B) with `epilogue` in one cuBLASLt call. A and B are `type`
/// (float32, or bf16 bits already rounded). Column-major as gemm: D^T (n x
/// m) = op(B)^T op(A)^T, so Lt's A is our B, and a bias (length n) is per
/// row of D^T.
/// - Bias: + bias [+ residual, as Lt's C with beta 1]; GeluBias: gelu of
///   that; GeluAuxBias: also AB + bias into aux.
/// - BiasGradA: `bias` receives the sums of Lt's A (our B) over k. Lt takes
///   BGRADA only with A not transposed: our B as stored, k x n.
/// - DGelu: C = gelu'(aux) * AB, aux read.
/// aux is laid out as D^T (leading dimension n, which Lt asks divisible by
/// 8). The descriptors and the heuristic's algorithm are made once per call
/// site (host work: made on the eager first call, before any graph
/// capture). Returns false when cuBLASLt offers no algorithm.
inline bool ltGemm(const void *a, const void *b, cudaDataType_t type, LtEpilogue epilogue,
                   const float *bias, const float *residual, float *c, const float *aux, i64 m,
                   i64 n, i64 k, bool ta, bool tb) {
  if ((aux && n % 8) || (epilogue == LtEpilogue::BiasGradA && tb))
    return false;
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
    cublasLtMatmulAlgo_t algo;
    bool ok = false;
  };
  using Key = std::tuple<const float *, i64, i64, i64, bool, bool, int, bool, int, const float *>;
  static std::map<Key, Plan> plans;
  auto [it, fresh] = plans.try_emplace(
      Key{bias, m, n, k, ta, tb, int(type), residual != nullptr, int(epilogue), aux});
  Plan &p = it->second;
  const uint64_t workspaceBytes = ra_cublaslt_workspace_bytes();
  if (fresh) {
    cublasOperation_t opB = tb ? CUBLAS_OP_T : CUBLAS_OP_N, opA = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasLtEpilogue_t lt[] = {CUBLASLT_EPILOGUE_BIAS, CUBLASLT_EPILOGUE_GELU_BIAS,
                                     CUBLASLT_EPILOGUE_GELU_AUX_BIAS, CUBLASLT_EPILOGUE_BGRADA,
                                     CUBLASLT_EPILOGUE_DGELU};
    cublasLtEpilogue_t e = lt[int(epilogue)];
    cudaDataType_t biasType = CUDA_R_32F;
    int64_t auxLd = n;
    int32_t auxType = CUDA_R_32F;
    cublasLtMatmulPreference_t preference = nullptr;
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    auto set = [&](cublasLtMatmulDescAttributes_t attribute, const void *value, size_t bytes) {
      return cublasLtMatmulDescSetAttribute(p.op, attribute, value, bytes) == CUBLAS_STATUS_SUCCESS;
    };
    bool made =
        cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
        set(CUBLASLT_MATMUL_DESC_TRANSA, &opB, sizeof opB) &&
        set(CUBLASLT_MATMUL_DESC_TRANSB, &opA, sizeof opA) &&
        set(CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e) &&
        (!bias || (set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) &&
                   set(CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &biasType, sizeof biasType))) &&
        (!aux || (set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux) &&
                  set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &auxLd, sizeof auxLd) &&
                  set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, &auxType, sizeof auxType))) &&
        // Each operand as stored: row-major B (k x n) is column-major n x k.
        cublasLtMatrixLayoutCreate(&p.la, type, tb ? k : n, tb ? n : k, tb ? k : n) ==
            CUBLAS_STATUS_SUCCESS &&
        cublasLtMatrixLayoutCreate(&p.lb, type, ta ? m : k, ta ? k : m, ta ? m : k) ==
            CUBLAS_STATUS_SUCCESS &&
        cublasLtMatrixLayoutCreate(&p.lc, CUDA_R_32F, n, m, n) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulPreferenceCreate(&preference) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &workspaceBytes,
                                             sizeof workspaceBytes) == CUBLAS_STATUS_SUCCESS &&
        cublasLtMatmulAlgoGetHeuristic(ra_cublaslt_handle(), p.op, p.la, p.lb, p.lc, p.lc,
                                       preference, 1, &result, &found) == CUBLAS_STATUS_SUCCESS &&
        found > 0;
    if (preference)
      cublasLtMatmulPreferenceDestroy(preference);
    if (made)
      p.algo = result.algo;
    p.ok = made;
  }
  if (!p.ok)
    return false;
  const float one = 1.f, beta = residual ? 1.f : 0.f;
  cublasStatus_t status = cublasLtMatmul(ra_cublaslt_handle(), p.op, &one, b, p.la, a, p.lb, &beta,
                                         residual ? residual : c, p.lc, c, p.lc, &p.algo,
                                         ra_cublaslt_workspace(), workspaceBytes, ra_cuda_stream());
  if (status != CUBLAS_STATUS_SUCCESS) {
    const char *names[] = {"bias", "GELU bias", "GELU aux bias", "BGRADA", "DGELU"};
    fail((std::string("cublasLtMatmul (") + names[int(epilogue)] + " epilogue)").c_str(),
         cublasGetStatusString(status));
  }
  return true;
}
#endif

/// C = op(A) op(B) (one product), the bf16 operands rounded once into
/// `scratch` as gemmBf16 rounds them, with `epilogue` in the same cuBLASLt
/// call where it takes it (ltGemm's arguments): returns true then.
/// Otherwise (the emulator, or no algorithm) the plain product is in
/// `product` and the caller runs the epilogue's own kernels.
inline bool gemmWithLtEpilogue(const float *a, const float *b, float *product, LtEpilogue epilogue,
                               const float *bias, const float *residual, float *c, const float *aux,
                               i64 m, i64 n, i64 k, bool ta, bool tb, bool bf16, i64 aElements,
                               i64 bElements, float *scratch) {
  static const i64 zero[] = {0};
#ifndef __CUDACC__
  (void)epilogue, (void)bias, (void)residual, (void)c, (void)aux;
#endif
  if (bf16) {
    auto [ar, br] = roundOperandsToBf16(a, b, aElements, bElements, scratch);
#ifdef __CUDACC__
    if (ltGemm(ar, br, CUDA_R_16BF, epilogue, bias, residual, c, aux, m, n, k, ta, tb))
      return true;
#endif
    gemmRoundedBf16(ar, br, product, 1, zero, zero, m, n, k, ta, tb, aElements, bElements);
  } else {
#ifdef __CUDACC__
    if (ltGemm(a, b, CUDA_R_32F, epilogue, bias, residual, c, aux, m, n, k, ta, tb))
      return true;
#endif
    gemm(a, b, product, 1, zero, zero, m, n, k, ta, tb);
  }
  return false;
}

/// out = gelu(pre): the GELU epilogue where cuBLASLt does not take it.
__global__ void geluEpilogueKernel(const float *pre, float *out, i64 total) {
  RA_GRID_STRIDE(i, total) { out[i] = ra_math::gelu(pre[i]); }
}

/// C = op(A) op(B) + bias (a row of n) [+ residual (m x n)], with `gelu`
/// then C = gelu(C), and with `aux` the sum before the GELU kept there
/// (foldGemmEpilogues). On a GPU one cuBLASLt call; under the emulator (and
/// where cuBLASLt offers no algorithm) the GEMM, then the epilogue kernels.
inline void gemmEpilogue(const float *a, const float *b, const float *bias, const float *residual,
                         float *c, float *aux, bool gelu, i64 m, i64 n, i64 k, bool ta, bool tb,
                         bool bf16, i64 aElements, i64 bElements, float *scratch) {
  float *sum = aux ? aux : c; // where AB + bias [+ residual] lands
  LtEpilogue epilogue = aux    ? LtEpilogue::GeluAuxBias
                        : gelu ? LtEpilogue::GeluBias
                               : LtEpilogue::Bias;
  if (gemmWithLtEpilogue(a, b, sum, epilogue, bias, residual, c, aux, m, n, k, ta, tb, bf16,
                         aElements, bElements, scratch))
    return;
  RA_LAUNCH(biasEpilogueKernel, dim3(gridFor(m * n)), dim3(kThreads), 0, sum, bias, residual, n,
            m * n);
  if (gelu)
    RA_LAUNCH(geluEpilogueKernel, dim3(gridFor(m * n)), dim3(kThreads), 0, (const float *)sum, c,
              m * n);
}

/// C = op(A) op(B) + bias [+ residual]: cuBLASLt's bias epilogue.
inline void gemmBias(const float *a, const float *b, const float *bias, const float *residual,
                     float *c, i64 m, i64 n, i64 k, bool ta, bool tb, bool bf16, i64 aElements,
                     i64 bElements, float *scratch) {
  gemmEpilogue(a, b, bias, residual, c, nullptr, false, m, n, k, ta, tb, bf16, aElements, bElements,
               scratch);
}

/// out = gelu(op(A) op(B) + bias) (foldGemmEpilogues' BiasGelu, cuBLASLt's
/// GELU_BIAS), and with `pre` the sum kept there for the GELU's backward
/// (BiasGeluAux, GELU_AUX_BIAS).
inline void gemmBiasGelu(const float *a, const float *b, const float *bias, float *pre, float *out,
                         i64 m, i64 n, i64 k, bool ta, bool tb, bool bf16, i64 aElements,
                         i64 bElements, float *scratch) {
  gemmEpilogue(a, b, bias, nullptr, out, pre, true, m, n, k, ta, tb, bf16, aElements, bElements,
               scratch);
}

/// C = op(A) op(B) and db = the sums of B's k rows as the product reads
/// them: a linear layer's weight and bias gradients in one call
/// (foldGemmEpilogues' BiasGrad, cuBLASLt's BGRADA). B is not transposed.
inline void gemmBiasGrad(const float *a, const float *b, float *c, float *db, i64 m, i64 n, i64 k,
                         bool ta, bool tb, bool bf16, i64 aElements, i64 bElements,
                         float *scratch) {
  if (!gemmWithLtEpilogue(a, b, c, LtEpilogue::BiasGradA, db, nullptr, c, nullptr, m, n, k, ta, tb,
                          bf16, aElements, bElements, scratch))
    reduce<Reduce::Sum>(b, db, 1, k, n, bf16); // the sums of B's rows, as the product read them
}

/// c[i] *= gelu'(pre[i]): the DGELU epilogue where cuBLASLt does not take it.
__global__ void geluGradEpilogueKernel(const float *pre, float *c, i64 total) {
  RA_GRID_STRIDE(i, total) { c[i] = ra_math::apply<ra_math::Binary::GeluGrad>(pre[i], c[i]); }
}

/// C = gelu'(pre) * op(A) op(B): the GELU's backward over the product that
/// feeds it (foldGemmEpilogues' GeluGrad, cuBLASLt's DGELU with pre as aux).
inline void gemmGeluGrad(const float *a, const float *b, const float *pre, float *c, i64 m, i64 n,
                         i64 k, bool ta, bool tb, bool bf16, i64 aElements, i64 bElements,
                         float *scratch) {
  if (!gemmWithLtEpilogue(a, b, c, LtEpilogue::DGelu, nullptr, nullptr, c, pre, m, n, k, ta, tb,
                          bf16, aElements, bElements, scratch))
    RA_LAUNCH(geluGradEpilogueKernel, dim3(gridFor(m * n)), dim3(kThreads), 0, pre, c, m * n);
}

} // namespace ra_cuda

#endif // RA_CUDA_GEMM_CUH
