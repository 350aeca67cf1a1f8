//===- ra_cuda_device.cuh - the device layer of a CUDA artifact -*- C++ -*-===//
//
// The C functions rarun calls to hold a model on a device: open the device
// (one stream, one cuBLAS handle on it), allocate, copy, synchronize. They are
// compiled into the artifact's CUDA library next to the entry points, so
// rarun itself links no CUDA: with nvcc they call the CUDA runtime; with the
// host compiler they call ra_simt.h's CUDA runtime on host memory, so the
// emulator runs this same code (tests exercise it on every run).
//
// Every call checks its status; messages name the call and CUDA's reason.
// Include once per library, after ra_cuda_kernels.cuh.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_DEVICE_CUH
#define RA_CUDA_DEVICE_CUH

#include "ra_cuda_graphs.cuh"
#include "ra_cuda_kernels.cuh"

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace ra_cuda_device {
inline cudaStream_t stream = nullptr;
inline bool opened = false;
#ifdef __CUDACC__
inline cublasHandle_t cublas = nullptr;
inline cublasLtHandle_t cublasLt = nullptr;
inline void *ltWorkspace = nullptr;
/// The cuBLAS handle's and cuBLASLt's workspaces, each.
constexpr uint64_t kWorkspaceBytes = uint64_t(32) << 20;
#endif

inline int error(char *out, int64_t size, const char *call, const char *reason) {
  std::snprintf(out, size_t(size), "%s: %s", call, reason);
  return 1;
}

/// A block per move: `bytes` bytes from `staging` at `from` to device
/// address `to` (moves: to, from, bytes each).
__global__ void scatterKernel(const unsigned char *staging, const int64_t *moves, int64_t count) {
  for (int64_t m = blockIdx.x; m < count; m += gridDim.x) {
    auto *to = reinterpret_cast<unsigned char *>(moves[3 * m]);
    const unsigned char *from = staging + moves[3 * m + 1];
    for (int64_t i = threadIdx.x; i < moves[3 * m + 2]; i += blockDim.x)
      to[i] = from[i];
  }
}

/// Device buffers the scatter stages through, grown as needed.
struct Staging {
  void *data = nullptr;
  int64_t bytes = 0;
  /// `bytes` of device memory (what it held is lost when it grows).
  cudaError_t reserve(int64_t want) {
    if (want <= bytes)
      return cudaSuccess;
    cudaFree(data);
    data = nullptr;
    bytes = 0;
    if (cudaError_t e = cudaMalloc(&data, size_t(want)))
      return e;
    bytes = want;
    return cudaSuccess;
  }
};
inline Staging scatterRows, scatterMoves;
} // namespace ra_cuda_device

cudaStream_t ra_cuda_stream() { return ra_cuda_device::stream; }
#ifdef __CUDACC__
cublasHandle_t ra_cublas_handle() { return ra_cuda_device::cublas; }
cublasLtHandle_t ra_cublaslt_handle() { return ra_cuda_device::cublasLt; }
void *ra_cublaslt_workspace() { return ra_cuda_device::ltWorkspace; }
uint64_t ra_cublaslt_workspace_bytes() { return ra_cuda_device::kWorkspaceBytes; }
#endif

extern "C" {

/// Selects device 0 and creates the stream and cuBLAS handle; `name` gets
/// the device's name and compute capability. Idempotent.
int ra_device_open(char *name, int64_t nameSize, char *err, int64_t errSize) {
  using namespace ra_cuda_device;
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess || count == 0)
    return error(err, errSize, "no CUDA device",
                 e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found none");
  cudaDeviceProp prop;
  if (cudaError_t e = cudaGetDeviceProperties(&prop, 0))
    return error(err, errSize, "cudaGetDeviceProperties", cudaGetErrorString(e));
  std::snprintf(name, size_t(nameSize), "%s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor,
                prop.multiProcessorCount);
  if (opened)
    return 0;
  if (cudaError_t e = cudaSetDevice(0))
    return error(err, errSize, "cudaSetDevice", cudaGetErrorString(e));
  if (cudaError_t e = cudaStreamCreate(&stream))
    return error(err, errSize, "cudaStreamCreate", cudaGetErrorString(e));
#ifdef __CUDACC__
  if (cublasStatus_t s = cublasCreate(&cublas))
    return error(err, errSize, "cublasCreate", cublasGetStatusString(s));
  if (cublasStatus_t s = cublasSetStream(cublas, stream))
    return error(err, errSize, "cublasSetStream", cublasGetStatusString(s));
  // TF32 tensor cores for fp32 GEMMs when RA_CUDA_TF32=1 (PyTorch's
  // allow_tf32); off by default, so results match the CPU build's float32.
  if (const char *tf32 = std::getenv("RA_CUDA_TF32"); tf32 && tf32[0] == '1')
    cublasSetMathMode(cublas, CUBLAS_TF32_TENSOR_OP_MATH);
  // A workspace of the handle's own, allocated now: cuBLAS calls captured
  // into a CUDA graph must not allocate one while capturing.
  void *workspace = nullptr;
  if (cudaError_t e = cudaMalloc(&workspace, kWorkspaceBytes))
    return error(err, errSize, "cudaMalloc (the cuBLAS workspace)", cudaGetErrorString(e));
  if (cublasStatus_t s = cublasSetWorkspace(cublas, workspace, kWorkspaceBytes))
    return error(err, errSize, "cublasSetWorkspace", cublasGetStatusString(s));
  // cuBLASLt, for the GEMMs with a bias epilogue (ra_cuda::gemmBias).
  if (cublasStatus_t s = cublasLtCreate(&cublasLt))
    return error(err, errSize, "cublasLtCreate", cublasGetStatusString(s));
  if (cudaError_t e = cudaMalloc(&ltWorkspace, kWorkspaceBytes))
    return error(err, errSize, "cudaMalloc (the cuBLASLt workspace)", cudaGetErrorString(e));
#endif
  opened = true;
  return 0;
}

/// Every launch synchronizes and is checked, so a kernel that faults is
/// named (slower; rarun --sync-kernels). Entry points then run without
/// CUDA graphs (ra_cuda_graphs.cuh).
void ra_device_sync_each_kernel(int on) { ra_cuda::syncEachKernel() = on != 0; }

/// How each entry point ran: eagerly, captured, replayed as a CUDA graph
/// (a line each). Returns the length of the whole report.
int64_t ra_device_graphs_report(char *out, int64_t size) {
  std::string r = ra_cuda::graphs::report();
  std::snprintf(out, size_t(size), "%s", r.c_str());
  return int64_t(r.size());
}

void *ra_device_alloc(int64_t bytes, char *err, int64_t errSize) {
  void *p = nullptr;
  if (cudaError_t e = cudaMalloc(&p, size_t(bytes > 0 ? bytes : 1))) {
    char reason[160];
    std::snprintf(reason, sizeof reason, "%s (%lld bytes)", cudaGetErrorString(e),
                  (long long)bytes);
    ra_cuda_device::error(err, errSize, "cudaMalloc", reason);
    return nullptr;
  }
  if (cudaError_t e = cudaMemsetAsync(p, 0, size_t(bytes), ra_cuda_device::stream)) {
    ra_cuda_device::error(err, errSize, "cudaMemsetAsync", cudaGetErrorString(e));
    cudaFree(p);
    return nullptr;
  }
  return p;
}

void ra_device_free(void *p) { cudaFree(p); }

/// Copies `bytes` host -> device (toDevice) or device -> host, then waits
/// for the stream, so the host buffer may be reused at once.
int ra_device_copy(void *dst, const void *src, int64_t bytes, int toDevice, char *err,
                   int64_t errSize) {
  using namespace ra_cuda_device;
  cudaMemcpyKind kind = toDevice ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost;
  if (cudaError_t e = cudaMemcpyAsync(dst, src, size_t(bytes), kind, stream))
    return error(err, errSize, toDevice ? "cudaMemcpy (host to device)" : "cudaMemcpy (to host)",
                 cudaGetErrorString(e));
  if (cudaError_t e = cudaStreamSynchronize(stream))
    return error(err, errSize, "cudaStreamSynchronize after a copy", cudaGetErrorString(e));
  return 0;
}

/// Updates pieces of device buffers from the host in three steps whatever
/// their number: the pieces (`stagingBytes` at `staging`, one after
/// another) and `count` moves (device address, offset in `staging`, bytes)
/// are copied to the device, and one kernel scatters them. What keeps a
/// decoding cache on the device takes one row per sequence and cache a
/// step this way, not the whole cache. Waits for the stream.
int ra_device_scatter(const void *staging, int64_t stagingBytes, const int64_t *moves,
                      int64_t count, char *err, int64_t errSize) {
  using namespace ra_cuda_device;
  if (count == 0)
    return 0;
  if (cudaError_t e = scatterRows.reserve(stagingBytes); e)
    return error(err, errSize, "cudaMalloc (scatter staging)", cudaGetErrorString(e));
  if (cudaError_t e = scatterMoves.reserve(count * 3 * int64_t(sizeof(int64_t))); e)
    return error(err, errSize, "cudaMalloc (scatter moves)", cudaGetErrorString(e));
  if (ra_device_copy(scatterRows.data, staging, stagingBytes, 1, err, errSize) ||
      ra_device_copy(scatterMoves.data, moves, count * 3 * int64_t(sizeof(int64_t)), 1, err,
                     errSize))
    return 1;
  const auto *rows = static_cast<const unsigned char *>(scatterRows.data);
  const auto *table = static_cast<const int64_t *>(scatterMoves.data);
  RA_LAUNCH(scatterKernel, dim3(unsigned(count < 65535 ? count : 65535)), dim3(128), 0, rows, table,
            count);
  if (ra_cuda::failed()) { // the launch's check (RA_AFTER_LAUNCH) took the error
    error(err, errSize, "scatterKernel", ra_cuda::failure().message);
    ra_cuda::failure() = ra_cuda::Failure();
    return 1;
  }
  if (cudaError_t e = cudaStreamSynchronize(stream))
    return error(err, errSize, "cudaStreamSynchronize after scatterKernel", cudaGetErrorString(e));
  return 0;
}

/// Waits for every launch so far. A kernel that faulted shows here: the
/// message says so and how to name it.
int ra_device_sync(char *err, int64_t errSize) {
  if (cudaError_t e = cudaStreamSynchronize(ra_cuda_device::stream))
    return ra_cuda_device::error(
        err, errSize, "a kernel failed while running (rerun with --sync-kernels to name it)",
        cudaGetErrorString(e));
  return 0;
}

/// TFLOP/s of an n x n x n GEMM on the device, the median of 5 after a
/// warm-up: the ceiling rarun bench measures MFU against. `bf16`: bf16
/// inputs, fp32 accumulation (the tensor-core rate of the card); else
/// float32 in the handle's math mode. The emulator times the CPU GEMM.
/// Returns a negative value on failure, with `err` set.
double ra_gemm_tflops(int n, int bf16, char *err, int64_t errSize) {
  using namespace ra_cuda_device;
#ifdef __CUDACC__
  size_t elementBytes = bf16 ? 2 : 4;
#else
  size_t elementBytes = 4; // the CPU GEMM is float32 either way
#endif
  size_t bytes = size_t(n) * n * elementBytes;
  void *a = nullptr, *b = nullptr, *c = nullptr;
  if (cudaMalloc(&a, bytes) || cudaMalloc(&b, bytes) || cudaMalloc(&c, size_t(n) * n * 4)) {
    cudaFree(a);
    cudaFree(b);
    error(err, errSize, "cudaMalloc for the GEMM peak", "out of memory");
    return -1;
  }
  cudaMemsetAsync(a, 0x3c, bytes, stream); // bf16 ~0.0115, fp32 ~0.0115: finite, nonzero
  cudaMemsetAsync(b, 0x3c, bytes, stream);
  double times[6];
  for (int i = 0; i < 6; ++i) {
    cudaStreamSynchronize(stream);
    auto start = std::chrono::steady_clock::now();
#ifdef __CUDACC__
    const float one = 1.f, zero = 0.f;
    cublasStatus_t st =
        bf16 ? cublasGemmEx(cublas, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, CUDA_R_16BF, n, b,
                            CUDA_R_16BF, n, &zero, c, CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT)
             : cublasSgemm(cublas, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, (const float *)a, n,
                           (const float *)b, n, &zero, (float *)c, n);
    if (st != CUBLAS_STATUS_SUCCESS) {
      error(err, errSize, bf16 ? "cublasGemmEx (bf16)" : "cublasSgemm", cublasGetStatusString(st));
      times[i] = -1;
      break;
    }
#else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, (const float *)a, n,
                (const float *)b, n, 0.f, (float *)c, n);
#endif
    if (cudaError_t e = cudaStreamSynchronize(stream)) {
      error(err, errSize, "the GEMM peak", cudaGetErrorString(e));
      times[i] = -1;
      break;
    }
    times[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  for (double t : times)
    if (t < 0)
      return -1;
  std::sort(times + 1, times + 6); // times[0] is the warm-up
  return 2.0 * n * n * n / times[3] / 1e12;
}

} // extern "C"

#endif // RA_CUDA_DEVICE_CUH
