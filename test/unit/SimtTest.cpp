// The SIMT emulator (codegen/cuda/ra_simt.h): CUDA-style kernels keep their
// meaning on the CPU, and the mistakes a GPU punishes by luck fail every time.
#include "codegen/cuda/ra_simt.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <numeric>
#include <string>
#include <vector>

namespace {

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

/// Runs `f` in a child process; returns its exit signal and its stderr.
std::pair<int, std::string> inChild(const std::function<void()> &f) {
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    // The child aborts by design: without the test runner's handlers.
    signal(SIGABRT, SIG_DFL);
    dup2(pipefd[1], 2);
    freopen("/dev/null", "w", stdout);
    f();
    _exit(0);
  }
  close(pipefd[1]);
  std::string err;
  char buf[256];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;)
    err.append(buf, n);
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFSIGNALED(status) ? WTERMSIG(status) : 0, err};
}

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
