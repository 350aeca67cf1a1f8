//===- ra_simt.h - CUDA kernels on the CPU, for tests and debugging -*- C++ -*-===//
//
// Compiles CUDA C++ kernels with a host compiler and runs them with their
// meaning intact:
//   - each block's threads are cooperative fibers on one OS thread; blocks of
//     a grid run in parallel on OS threads;
//   - __syncthreads() is a barrier over the block's fibers; warp shuffles
//     synchronize the 32 lanes of a warp; a barrier some thread never reaches
//     is reported as a deadlock, with the kernel's name;
//   - shared memory declared with RA_SHARED(T, name, N) is race-checked: a
//     thread reading an element another thread wrote since the last barrier
//     (or writing one another thread read or wrote) aborts the launch with the
//     kernel's name and the element, so a missing barrier fails every time
//     instead of passing by luck;
//   - atomicAdd is atomic across blocks;
//   - streams capture into graphs as CUDA's do: captured work is recorded,
//     not run, until the graph is launched, and a synchronization while
//     capturing invalidates the capture.
// Kernels use RA_LAUNCH(kernel, grid, block, sharedBytes, args...) so that the
// same source compiles with nvcc (where the macros are CUDA's own).
//
//===----------------------------------------------------------------------===//
#ifndef RA_SIMT_H
#define RA_SIMT_H

// What runs after every launch: the kernels header checks the launch there.
#ifndef RA_AFTER_LAUNCH
#define RA_AFTER_LAUNCH(name) ((void)0)
#endif

#ifdef __CUDACC__
#ifndef RA_STREAM
#define RA_STREAM 0 // the runtime's stream, when it defines one
#endif
#define RA_SHARED(T, name, n) __shared__ T name[n]
#define RA_LAUNCH(kernel, grid, block, shared, ...)                                                \
  do {                                                                                             \
    kernel<<<(grid), (block), (shared), RA_STREAM>>>(__VA_ARGS__);                                 \
    RA_AFTER_LAUNCH(#kernel);                                                                      \
  } while (0)
#else

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <ucontext.h>
#include <vector>

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}
};

#if defined(__x86_64__)
// Saves the callee-saved registers, MXCSR and the x87 control word on the
// current stack, stores the stack pointer in *from and resumes the stack
// `to` (System V x86-64). glibc's swapcontext also saves the signal mask,
// two system calls per switch, which dominated the emulator's time. Weak: the
// header may be included by several translation units.
extern "C" void ra_simt_switch(void **from, void *to);
asm(R"(
  .text
  .weak ra_simt_switch
  .type ra_simt_switch, @function
ra_simt_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size ra_simt_switch, .-ra_simt_switch
)");
#define RA_SIMT_FAST_SWITCH 1
#endif

namespace ra_simt {

constexpr int kWarpSize = 32;
constexpr size_t kStackBytes = 64 << 10;

/// A launch failure: a race, a deadlock. Reported, then the process aborts:
/// a kernel that races has no defined result to return.
[[noreturn]] inline void fail(const std::string &kernel, const std::string &message) {
  std::fprintf(stderr, "ra_simt: kernel %s: %s\n", kernel.c_str(), message.c_str());
  std::fflush(stderr);
  std::abort();
}

struct Fiber {
#ifdef RA_SIMT_FAST_SWITCH
  void *sp = nullptr;
#else
  ucontext_t context;
#endif
  dim3 thread;
  unsigned linear = 0;
  bool done = false;
  enum Wait { None, Block, Warp } waiting = None;
  uint64_t collectives = 0; // warp-collective calls made (ra_simt_mma.h)
};

struct BlockState {
  const char *kernel = "";
  dim3 index, dim, grid;
  std::vector<Fiber> fibers;
#ifdef RA_SIMT_FAST_SWITCH
  void *schedulerSp = nullptr;
#else
  ucontext_t scheduler;
#endif
  Fiber *current = nullptr;
  unsigned epoch = 0;                       // barriers passed in this block
  uint64_t serial = 0;                      // which block run (per OS thread)
  std::vector<std::vector<float>> exchange; // per warp: one slot per lane
  std::vector<unsigned> warpEpoch;
  std::vector<char> dynamicShared;
  std::function<void()> body;
  // Per warp, for warp-collective matrix instructions (ra_simt_mma.h): each
  // lane's call and arguments, and the fragments exchanged.
  std::vector<std::vector<uint64_t>> warpCalls;
  std::vector<std::vector<float>> warpTiles;
};

inline thread_local BlockState *tlBlock = nullptr;
inline std::atomic<uint64_t> blockSerial{1};

inline BlockState &block() { return *tlBlock; }

/// Switches from the running fiber back to the scheduler.
inline void yield() {
  BlockState &b = block();
  Fiber *f = b.current;
#ifdef RA_SIMT_FAST_SWITCH
  ra_simt_switch(&f->sp, b.schedulerSp);
#else
  swapcontext(&f->context, &b.scheduler);
#endif
}

/// A fiber's first frame: run the thread's work, then hand back for good.
inline void fiberMain() {
  BlockState &bs = block();
  bs.body();
  bs.current->done = true;
#ifdef RA_SIMT_FAST_SWITCH
  void *unused;
  ra_simt_switch(&unused, bs.schedulerSp); // never resumed
#endif
}

inline void syncthreads() {
  block().current->waiting = Fiber::Block;
  yield();
}

/// Lanes of the current fiber's warp that have not finished.
inline unsigned warpOf(const Fiber &f) { return f.linear / kWarpSize; }

inline void warpBarrier() {
  block().current->waiting = Fiber::Warp;
  yield();
}

inline float shuffle(float value, int srcLane) {
  BlockState &b = block();
  Fiber &f = *b.current;
  unsigned w = warpOf(f), lane = f.linear % kWarpSize;
  b.exchange[w][lane] = value;
  warpBarrier(); // every lane has written
  unsigned width = std::min<unsigned>(kWarpSize, b.fibers.size() - w * kWarpSize);
  float out = srcLane >= 0 && unsigned(srcLane) < width ? b.exchange[w][srcLane] : value;
  warpBarrier(); // every lane has read before the slots are reused
  return out;
}

/// A shared-memory array whose every access is checked against the other
/// threads' accesses since the last barrier.
template <typename T, size_t N> class SharedArray {
  struct Shadow {
    uint64_t stamp = ~0ull; // block run and barrier phase of the accesses below
    int writer = -1;
    int reader = -1; // -1 none, -2 several
  };

public:
  class Ref {
  public:
    Ref(SharedArray &a, size_t i) : a(a), i(i) {}
    operator T() const { return a.read(i); }
    Ref &operator=(T v) {
      a.write(i, v);
      return *this;
    }
    Ref &operator=(const Ref &o) { return *this = T(o); }
    Ref &operator+=(T v) { return *this = T(*this) + v; }
    Ref &operator-=(T v) { return *this = T(*this) - v; }
    Ref &operator*=(T v) { return *this = T(*this) * v; }

  private:
    SharedArray &a;
    size_t i;
  };
  Ref operator[](size_t i) { return Ref(*this, i); }

private:
  Shadow &check(size_t i) {
    if (i >= N)
      fail(block().kernel, "shared-memory index " + std::to_string(i) + " out of bounds (" +
                               std::to_string(N) + ")");
    Shadow &s = shadow[i];
    uint64_t stamp = (block().serial << 32) | block().epoch;
    if (s.stamp != stamp) { // a new barrier phase, or another block
      s = Shadow{};
      s.stamp = stamp;
    }
    return s;
  }
  T read(size_t i) {
    Shadow &s = check(i);
    int me = block().current->linear;
    if (s.writer >= 0 && s.writer != me)
      fail(block().kernel, "race on shared element " + std::to_string(i) + ": thread " +
                               std::to_string(me) + " reads what thread " +
                               std::to_string(s.writer) + " wrote since the last __syncthreads()");
    s.reader = s.reader == -1 || s.reader == me ? me : -2;
    return data[i];
  }
  void write(size_t i, T v) {
    Shadow &s = check(i);
    int me = block().current->linear;
    if ((s.writer >= 0 && s.writer != me) || s.reader == -2 || (s.reader >= 0 && s.reader != me))
      fail(block().kernel, "race on shared element " + std::to_string(i) + ": thread " +
                               std::to_string(me) +
                               " writes what another thread accessed since the last "
                               "__syncthreads()");
    s.writer = me;
    data[i] = v;
  }

  T data[N];
  Shadow shadow[N];
};

/// An OS thread's instance of a shared array, allocated at its first use.
/// The arrays themselves as thread_local objects would be static TLS, which
/// glibc carves out of every thread's stack: a few tensor-core kernels'
/// tiles (with their shadows) made it larger than OpenMP's 8 MiB stacks.
template <typename T, size_t N> struct SharedSlot {
  std::unique_ptr<SharedArray<T, N>> array;
  SharedArray<T, N> &get() {
    if (!array)
      array.reset(new SharedArray<T, N>());
    return *array;
  }
};

/// Runs one block: fibers round-robin until each finishes or waits; a barrier
/// opens when every unfinished thread waits at it.
inline void runBlock(BlockState &b) {
  unsigned n = b.dim.x * b.dim.y * b.dim.z;
  b.fibers.resize(n);
  // Fiber stacks live as long as the OS thread: allocating (and zeroing) them
  // per launch dominated the emulator's time.
  static thread_local std::vector<std::unique_ptr<char[]>> stacks;
  while (stacks.size() < n)
    stacks.emplace_back(new char[kStackBytes]);
  b.exchange.assign((n + kWarpSize - 1) / kWarpSize, std::vector<float>(kWarpSize));
  for (unsigned i = 0; i < n; ++i) {
    Fiber &f = b.fibers[i];
    f.linear = i;
    f.thread = dim3(i % b.dim.x, (i / b.dim.x) % b.dim.y, i / (b.dim.x * b.dim.y));
    f.done = false;
    f.waiting = Fiber::None;
    f.collectives = 0;
#ifdef RA_SIMT_FAST_SWITCH
    // The frame ra_simt_switch pops: MXCSR and control word, six registers,
    // then the return address fiberMain, placed so that fiberMain starts
    // with the stack aligned as after a call.
    uintptr_t top = (reinterpret_cast<uintptr_t>(stacks[i].get()) + kStackBytes) & ~uintptr_t(15);
    auto *frame = reinterpret_cast<uint64_t *>(top - 72);
    std::memset(frame, 0, 72);
    uint32_t mxcsr = 0x1F80;
    uint16_t fpucw = 0x037F;
    std::memcpy(frame, &mxcsr, 4);
    std::memcpy(reinterpret_cast<char *>(frame) + 4, &fpucw, 2);
    frame[7] = reinterpret_cast<uint64_t>(&fiberMain);
    f.sp = frame;
#else
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = stacks[i].get();
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = &b.scheduler;
    makecontext(&f.context, fiberMain, 0);
#endif
  }
  for (;;) {
    bool progressed = false;
    for (Fiber &f : b.fibers) {
      if (f.done || f.waiting != Fiber::None)
        continue;
      b.current = &f;
#ifdef RA_SIMT_FAST_SWITCH
      ra_simt_switch(&b.schedulerSp, f.sp);
#else
      swapcontext(&b.scheduler, &f.context);
#endif
      progressed = true;
    }
    bool allDone = true, anyBlock = false;
    for (Fiber &f : b.fibers) {
      allDone &= f.done;
      anyBlock |= f.waiting == Fiber::Block;
    }
    if (allDone)
      return;
    // Warps whose live lanes all wait at a shuffle go on.
    for (unsigned w = 0; w < b.exchange.size(); ++w) {
      bool all = true, any = false;
      for (unsigned l = w * kWarpSize; l < std::min<unsigned>(n, (w + 1) * kWarpSize); ++l) {
        Fiber &f = b.fibers[l];
        if (f.done)
          continue;
        all &= f.waiting == Fiber::Warp;
        any = true;
      }
      if (any && all) {
        for (unsigned l = w * kWarpSize; l < std::min<unsigned>(n, (w + 1) * kWarpSize); ++l)
          b.fibers[l].waiting = Fiber::None;
        progressed = true;
      }
    }
    // The block barrier opens when no live thread is anywhere else.
    bool allAtBarrier = anyBlock;
    for (Fiber &f : b.fibers)
      allAtBarrier &= f.done || f.waiting == Fiber::Block;
    if (allAtBarrier) {
      for (Fiber &f : b.fibers)
        if (f.waiting == Fiber::Block) {
          for (Fiber &g : b.fibers)
            if (g.done)
              fail(b.kernel, "thread " + std::to_string(g.linear) +
                                 " returned while others wait at __syncthreads() "
                                 "(a barrier in divergent code)");
          f.waiting = Fiber::None;
        }
      ++b.epoch;
      progressed = true;
    }
    if (!progressed)
      fail(b.kernel, "deadlock: threads wait at different barriers");
  }
}

/// The launch-configuration limits of sm_80/sm_90: a launch outside them does
/// not run and sets cudaGetLastError's error, as on a GPU (launchOn).
inline const char *configurationError(dim3 grid, dim3 block, size_t sharedBytes) {
  unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.y > 65535 || grid.z > 65535)
    return "invalid configuration argument";
  if (sharedBytes > 48 * 1024)
    return "too much dynamic shared memory requested (over 48 KiB without opt-in)";
  return nullptr;
}

/// The error the next cudaGetLastError returns: 0 or a launch failure.
inline thread_local int lastError = 0;

/// Runs `body` (one thread's work) over a grid whose configuration launchOn
/// checked; blocks in parallel.
inline void launch(const char *kernel, dim3 grid, dim3 blockDim, size_t sharedBytes,
                   std::function<void()> body) {
  unsigned blocks = grid.x * grid.y * grid.z;
  unsigned workers = std::max(1u, std::min(blocks, std::thread::hardware_concurrency()));
  std::atomic<unsigned> next{0};
  auto work = [&] {
    BlockState b;
    b.kernel = kernel;
    b.dim = blockDim;
    b.grid = grid;
    b.body = body;
    tlBlock = &b;
    for (unsigned i; (i = next++) < blocks;) {
      b.index = dim3(i % grid.x, (i / grid.x) % grid.y, i / (grid.x * grid.y));
      b.epoch = 0;
      b.serial = blockSerial++;
      b.dynamicShared.assign(sharedBytes, 0);
      runBlock(b);
    }
    tlBlock = nullptr;
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < workers; ++t)
    threads.emplace_back(work);
  work();
  for (auto &t : threads)
    t.join();
}

inline float atomicAddFloat(float *address, float value) {
  return std::atomic_ref<float>(*address).fetch_add(value);
}

//===----------------------------------------------------------------------===//
// Streams and graphs: work on a stream runs at once, unless the stream is
// capturing, when it is recorded instead (as CUDA records it) and runs only
// when the graph is launched. So a capture that misses some work, or work
// that read its arguments at capture time, gives wrong results here too.
//===----------------------------------------------------------------------===//

/// A captured sequence of work.
struct Graph {
  std::vector<std::function<void()>> nodes;
};

/// A stream: whether it is capturing, into which graph, and whether the
/// capture was invalidated (a synchronization while capturing, as on a GPU).
struct Stream {
  Graph *capture = nullptr;
  bool invalidated = false;
};

/// Runs `work` now, or records it when `stream` is capturing.
inline void enqueue(Stream *stream, std::function<void()> work) {
  if (stream && stream->capture)
    stream->capture->nodes.push_back(std::move(work));
  else
    work();
}

/// A kernel launch on `stream`: the configuration is checked now (a bad one
/// sets cudaGetLastError's error, captured or not), the grid runs when the
/// stream gets to it.
inline void launchOn(Stream *stream, const char *kernel, dim3 grid, dim3 blockDim,
                     size_t sharedBytes, std::function<void()> body) {
  if (configurationError(grid, blockDim, sharedBytes)) {
    lastError = 9; // cudaErrorInvalidConfiguration
    return;
  }
  enqueue(stream, [=] { launch(kernel, grid, blockDim, sharedBytes, body); });
}

} // namespace ra_simt

//===----------------------------------------------------------------------===//
// The CUDA runtime calls the generated code and its device layer make, on
// host memory, so the device layer runs here exactly as on a GPU.
//===----------------------------------------------------------------------===//

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorNoDevice = 100,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorIllegalState = 401,
};
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2
};
enum cudaMemcpyKind {
  cudaMemcpyHostToHost,
  cudaMemcpyHostToDevice,
  cudaMemcpyDeviceToHost,
  cudaMemcpyDeviceToDevice,
  cudaMemcpyDefault
};
using cudaStream_t = ::ra_simt::Stream *;
using cudaGraph_t = ::ra_simt::Graph *;
using cudaGraphExec_t = ::ra_simt::Graph *;
using cudaGraphNode_t = void *;
struct cudaDeviceProp {
  char name[256];
  int major, minor, multiProcessorCount;
  size_t totalGlobalMem;
};

inline const char *cudaGetErrorString(cudaError_t e) {
  switch (e) {
  case cudaSuccess:
    return "no error";
  case cudaErrorInvalidValue:
    return "invalid argument";
  case cudaErrorMemoryAllocation:
    return "out of memory";
  case cudaErrorInvalidConfiguration:
    return "invalid configuration argument";
  case cudaErrorNoDevice:
    return "no CUDA-capable device is detected";
  case cudaErrorStreamCaptureUnsupported:
    return "operation not permitted when stream is capturing";
  case cudaErrorStreamCaptureInvalidated:
    return "operation failed due to a previous error during capture";
  case cudaErrorIllegalState:
    return "the operation cannot be performed in the present state";
  }
  return "unknown error";
}
inline cudaError_t cudaGetLastError() {
  auto e = cudaError_t(::ra_simt::lastError);
  ::ra_simt::lastError = 0;
  return e;
}
inline cudaError_t cudaGetDeviceCount(int *count) {
  *count = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) {
  std::snprintf(p->name, sizeof p->name, "SIMT emulator (%u CPU threads)",
                std::thread::hardware_concurrency());
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = int(std::thread::hardware_concurrency());
  p->totalGlobalMem = 0;
  return cudaSuccess;
}
inline cudaError_t cudaMalloc(void **p, size_t bytes) {
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void *p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind,
                                   cudaStream_t stream = nullptr) {
  if (bytes)
    ::ra_simt::enqueue(stream, [=] { std::memmove(dst, src, bytes); });
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes,
                                   cudaStream_t stream = nullptr) {
  ::ra_simt::enqueue(stream, [=] { std::memset(dst, value, bytes); });
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreate(cudaStream_t *s) {
  *s = new ::ra_simt::Stream;
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete s;
  return cudaSuccess;
}
/// Work runs as it is issued, so there is nothing to wait for; but waiting
/// on a capturing stream is an error that invalidates the capture, as on a
/// GPU (a host synchronization inside captured code never completes).
inline cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (s && s->capture) {
    s->invalidated = true;
    return cudaErrorStreamCaptureUnsupported;
  }
  return cudaSuccess;
}
inline cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
  if (!s) // the legacy default stream cannot capture
    return cudaErrorStreamCaptureUnsupported;
  if (s->capture)
    return cudaErrorIllegalState;
  s->capture = new ::ra_simt::Graph;
  s->invalidated = false;
  return cudaSuccess;
}
inline cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *graph) {
  if (!s || !s->capture)
    return cudaErrorIllegalState;
  *graph = s->capture;
  s->capture = nullptr;
  if (s->invalidated) {
    delete *graph;
    *graph = nullptr;
    return cudaErrorStreamCaptureInvalidated;
  }
  return cudaSuccess;
}
inline cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t *, size_t *count) {
  *count = graph->nodes.size();
  return cudaSuccess;
}
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph,
                                        unsigned long long = 0) {
  *exec = new ::ra_simt::Graph(*graph);
  return cudaSuccess;
}
inline cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  for (const auto &node : exec->nodes)
    ::ra_simt::enqueue(s, node);
  return cudaSuccess;
}
inline cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define rsqrtf(x) (1.f / sqrtf(x))
#define threadIdx (::ra_simt::block().current->thread)
#define blockIdx (::ra_simt::block().index)
#define blockDim (::ra_simt::block().dim)
#define gridDim (::ra_simt::block().grid)
#define __syncthreads() ::ra_simt::syncthreads()
#define __shfl_down_sync(mask, value, delta)                                                       \
  ::ra_simt::shuffle((value), int(::ra_simt::block().current->linear % 32 + (delta)))
#define __shfl_xor_sync(mask, value, lanes)                                                        \
  ::ra_simt::shuffle((value), int((::ra_simt::block().current->linear % 32) ^ (lanes)))
#define atomicAdd(address, value) ::ra_simt::atomicAddFloat((address), (value))
#define RA_SHARED(T, name, n)                                                                      \
  static thread_local ::ra_simt::SharedSlot<T, n> name##Slot;                                      \
  auto &name = name##Slot.get()
#ifndef RA_STREAM
#define RA_STREAM nullptr // the runtime's stream, when it defines one
#endif
#define RA_LAUNCH(kernel, grid, block, shared, ...)                                                \
  do {                                                                                             \
    ::ra_simt::launchOn(RA_STREAM, #kernel, (grid), (block), (shared),                             \
                        [=] { kernel(__VA_ARGS__); });                                             \
    RA_AFTER_LAUNCH(#kernel);                                                                      \
  } while (0)

#endif // __CUDACC__
#endif // RA_SIMT_H
