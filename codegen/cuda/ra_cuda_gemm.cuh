//===- ra_cuda_gemm.cuh - matrix products through cuBLAS --------*- C++ -*-===//
//
// cuBLAS sgemm (one strided-batched call where the batch steps evenly); the
// emulator build calls the CPU BLAS on its host memory.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_GEMM_CUH
#define RA_CUDA_GEMM_CUH

#include "ra_cuda_common.cuh"

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

} // namespace ra_cuda

#endif // RA_CUDA_GEMM_CUH
