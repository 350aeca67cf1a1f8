// The SIMT emulator (codegen/cuda/ra_simt.h): CUDA-style kernels keep their
// meaning on the CPU, and the mistakes a GPU punishes by luck fail every time.
// Launches go on `currentStream` (the legacy default stream, nullptr, unless
// a test sets one).
#define RA_STREAM currentStream
#include "codegen/cuda/ra_simt.h"

#include "ChildProcess.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <numeric>
#include <string>
#include <vector>

namespace {

cudaStream_t currentStream = nullptr;

// Tree reduction in shared memory: one partial sum per block.
__global__ void blockSum(const float *in, float *out, int n, bool barriers) {
  RA_SHARED(float, partial, 64);
  unsigned t = threadIdx.x;
  unsigned i = blockIdx.x * blockDim.x + t;
  partial[t] = i < unsigned(n) ? in[i] : 0.f;
  if (barriers)
    __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride)
      partial[t] += partial[t + stride];
    if (barriers)
      __syncthreads();
  }
  if (t == 0)
    out[blockIdx.x] = partial[0];
}

// Warp-shuffle reduction, one warp per block; atomics combine the blocks.
__global__ void warpSum(const float *in, float *total, int n) {
  unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = i < unsigned(n) ? in[i] : 0.f;
  for (int delta = 16; delta > 0; delta /= 2)
    v += __shfl_down_sync(0xffffffff, v, delta);
  if (threadIdx.x == 0)
    atomicAdd(total, v);
}

// A barrier only some threads reach.
__global__ void divergentBarrier(float *out) {
  if (threadIdx.x < 16)
    __syncthreads();
  out[threadIdx.x] = 1.f;
}

using ra::test::inChild;

} // namespace

TEST_CASE("simt: shared memory and barriers give the right sums", "[simt]") {
  std::vector<float> in(1000);
  std::iota(in.begin(), in.end(), 1.f);
  int blocks = (1000 + 63) / 64;
  std::vector<float> out(blocks);
  const float *pin = in.data();
  float *pout = out.data();
  RA_LAUNCH(blockSum, dim3(blocks), dim3(64), 0, pin, pout, 1000, true);
  CHECK(std::accumulate(out.begin(), out.end(), 0.0) == Approx(500500.0));
}

TEST_CASE("simt: warp shuffles and atomics across blocks", "[simt]") {
  std::vector<float> in(4096, 0.5f);
  float total = 0;
  const float *pin = in.data();
  float *ptotal = &total;
  RA_LAUNCH(warpSum, dim3(128), dim3(32), 0, pin, ptotal, 4096);
  CHECK(total == 2048.f);
}

TEST_CASE("simt: a missing barrier fails every time, naming the kernel", "[simt]") {
  auto [signal, err] = inChild([] {
    std::vector<float> in(64, 1.f), out(1);
    const float *pin = in.data();
    float *pout = out.data();
    RA_LAUNCH(blockSum, dim3(1), dim3(64), 0, pin, pout, 64, false);
  });
  CHECK(signal == SIGABRT);
  CHECK(err.find("ra_simt: kernel blockSum: race on shared element") != std::string::npos);
  CHECK(err.find("since the last __syncthreads()") != std::string::npos);
}

TEST_CASE("simt: a barrier in divergent code is reported", "[simt]") {
  auto [signal, err] = inChild([] {
    std::vector<float> out(32);
    float *pout = out.data();
    RA_LAUNCH(divergentBarrier, dim3(1), dim3(32), 0, pout);
  });
  CHECK(signal == SIGABRT);
  CHECK(err.find("ra_simt: kernel divergentBarrier:") != std::string::npos);
  CHECK(err.find("__syncthreads") != std::string::npos);
}

// y[i] = a * x[i] + y[i].
__global__ void axpy(float a, const float *x, float *y, int n) {
  int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n)
    y[i] = a * x[i] + y[i];
}

TEST_CASE("simt: a captured stream records its work and a graph replays it", "[simt]") {
  cudaStream_t stream;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  currentStream = stream;
  std::vector<float> x(100, 1.f), y(100, 0.f), z(100, 0.f);
  const float *px = x.data();
  float *py = y.data(), *pz = z.data();

  REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaErrorIllegalState);
  RA_LAUNCH(axpy, dim3(4), dim3(32), 0, 2.f, px, py, 100);
  CHECK(cudaMemcpyAsync(pz, py, 100 * sizeof(float), cudaMemcpyDeviceToDevice, stream) ==
        cudaSuccess);
  RA_LAUNCH(axpy, dim3(0), dim3(32), 0, 2.f, px, py, 100); // a bad launch fails now
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  CHECK(y[0] == 0.f); // recorded, not run
  cudaGraph_t graph = nullptr;
  REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
  size_t nodes = 0;
  cudaGraphGetNodes(graph, nullptr, &nodes);
  CHECK(nodes == 2);
  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  cudaGraphDestroy(graph);
  CHECK(y[0] == 0.f);

  // Each launch runs the work again, reading memory as it is then.
  REQUIRE(cudaGraphLaunch(exec, stream) == cudaSuccess);
  CHECK(y[99] == 2.f);
  CHECK(z[99] == 2.f);
  x.assign(100, 3.f);
  REQUIRE(cudaGraphLaunch(exec, stream) == cudaSuccess);
  CHECK(y[0] == 8.f);
  CHECK(z[0] == 8.f);
  cudaGraphExecDestroy(exec);
  currentStream = nullptr;
  cudaStreamDestroy(stream);
}

TEST_CASE("simt: waiting on a capturing stream invalidates the capture", "[simt]") {
  cudaStream_t stream;
  REQUIRE(cudaStreamCreate(&stream) == cudaSuccess);
  CHECK(cudaStreamBeginCapture(nullptr, cudaStreamCaptureModeThreadLocal) ==
        cudaErrorStreamCaptureUnsupported); // the legacy default stream
  REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  CHECK(cudaStreamSynchronize(stream) == cudaErrorStreamCaptureUnsupported);
  cudaGraph_t graph = reinterpret_cast<cudaGraph_t>(1);
  CHECK(cudaStreamEndCapture(stream, &graph) == cudaErrorStreamCaptureInvalidated);
  CHECK(graph == nullptr);
  CHECK(cudaStreamEndCapture(stream, &graph) == cudaErrorIllegalState); // not capturing
  CHECK(cudaStreamSynchronize(stream) == cudaSuccess);
  cudaStreamDestroy(stream);
}
