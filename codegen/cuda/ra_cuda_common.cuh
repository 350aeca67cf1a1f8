//===- ra_cuda_common.cuh - what every CUDA kernel family uses --*- C++ -*-===//
//
// Shared by the per-family headers (ra_cuda_elementwise.cuh, ...): the
// failure record every launch and library call reports into, grid sizes,
// block-wide reductions by warp shuffles, device copies and a fixed-order
// sum. Compiles with nvcc, and with a host compiler against ra_simt.h, where
// the tests run it. Launchers take device pointers.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_COMMON_CUH
#define RA_CUDA_COMMON_CUH
#include <cfloat>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

// Every launch goes on the device layer's stream and is checked after it
// (ra_cuda_device.cuh defines both; a kernel test may define its own).
#define RA_STREAM ra_cuda_stream()
#define RA_AFTER_LAUNCH(name) ::ra_cuda::afterLaunch(name)
#undef RA_PROFILE_SYNC // a test may include the CPU kernels first
#define RA_PROFILE_SYNC() cudaStreamSynchronize(ra_cuda_stream())

#include "ra_attention_shape.h"
#include "ra_elementwise.h"
#include "ra_simt.h"

#ifdef __CUDACC__
#include <cublasLt.h>
#include <cublas_v2.h>
/// The device layer's cuBLAS handle, on its stream.
cublasHandle_t ra_cublas_handle();
/// Its cuBLASLt handle and the workspace Lt's GEMMs may use.
cublasLtHandle_t ra_cublaslt_handle();
void *ra_cublaslt_workspace();
uint64_t ra_cublaslt_workspace_bytes();
#else
#include <cblas.h>
#endif
/// The device layer's stream.
cudaStream_t ra_cuda_stream();

#include "ra_profile.h" // after the stream it waits for

namespace ra_cuda {

//===----------------------------------------------------------------------===//
// Failures: the first failing launch or library call, by name
//===----------------------------------------------------------------------===//

/// The first failure since the last report: which kernel or library call,
/// and CUDA's message. Launches are asynchronous, so a kernel that faults
/// while running is seen at the next synchronization unless every launch
/// synchronizes (`syncEachKernel`, rarun --sync-kernels).
struct Failure {
  const char *what = nullptr;
  char message[256] = {0};
};
inline Failure &failure() {
  static Failure f;
  return f;
}
inline bool &syncEachKernel() {
  static bool on = false;
  return on;
}
inline bool failed() { return failure().what != nullptr; }
inline void fail(const char *what, const char *message) {
  if (failed())
    return;
  failure().what = what;
  std::snprintf(failure().message, sizeof failure().message, "%s", message);
}
inline void afterLaunch(const char *kernel) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess && syncEachKernel())
    e = cudaStreamSynchronize(ra_cuda_stream());
  if (e != cudaSuccess)
    fail(kernel, cudaGetErrorString(e));
}
/// Writes the failure, at the graph op `origin`, to `error`; clears it.
inline int report(char *error, int64_t errorSize, const char *origin) {
  std::snprintf(error, size_t(errorSize), "CUDA error in %s (for %s): %s", failure().what, origin,
                failure().message);
  failure() = Failure();
  return 1;
}

using i64 = int64_t;
using ra_math::Binary;
using ra_math::Unary;

constexpr int kThreads = 256; // per block
constexpr int kWarp = 32;

/// Blocks for a grid-stride loop over n elements (capped: the loop strides).
inline unsigned gridFor(i64 n) {
  i64 blocks = (n + kThreads - 1) / kThreads;
  return unsigned(blocks < 4096 ? (blocks > 0 ? blocks : 1) : 4096);
}

#define RA_GRID_STRIDE(i, n)                                                                       \
  for (i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);                                \
       i += i64(gridDim.x) * blockDim.x)

//===----------------------------------------------------------------------===//
// Block reductions: warp shuffles, then one value per warp through shared memory
//===----------------------------------------------------------------------===//

enum class Combine { Sum, Max };

template <Combine c> __device__ __forceinline__ float combine(float a, float b) {
  if constexpr (c == Combine::Sum)
    return a + b;
  else
    return a > b ? a : b;
}

template <Combine c> __device__ float warpReduce(float v) {
  for (int delta = kWarp / 2; delta > 0; delta /= 2)
    v = combine<c>(v, __shfl_down_sync(0xffffffffu, v, delta));
  return v;
}

/// The reduction of `v` over the block, returned to every thread.
template <Combine c> __device__ float blockReduce(float v, float identity) {
  RA_SHARED(float, partial, kThreads / kWarp);
  unsigned lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  unsigned warps = (blockDim.x + kWarp - 1) / kWarp;
  v = warpReduce<c>(v);
  if (lane == 0)
    partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? float(partial[lane]) : identity;
    v = warpReduce<c>(v);
  }
  __syncthreads(); // every warp total is read before partial[0] is reused
  if (threadIdx.x == 0)
    partial[0] = v;
  __syncthreads();
  v = partial[0];
  __syncthreads(); // read by all before the next reduction writes
  return v;
}

/// A device-to-device copy on the stream (host memory under the emulator).
inline void copy(void *dst, const void *src, size_t bytes) {
  if (cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, RA_STREAM))
    fail("cudaMemcpyAsync (device to device)", cudaGetErrorString(e));
}

inline unsigned rowsGrid(i64 rows) { return unsigned(rows < 65535 ? rows : 65535); }

/// out = scale * sum(x), by one block, in a fixed order.
__global__ void scaledSumKernel(const float *x, float *out, i64 n, float scale) {
  float s = 0.f;
  for (i64 i = threadIdx.x; i < n; i += blockDim.x)
    s += x[i];
  s = blockReduce<Combine::Sum>(s, 0.f);
  if (threadIdx.x == 0)
    *out = s * scale;
}

} // namespace ra_cuda

#endif // RA_CUDA_COMMON_CUH
