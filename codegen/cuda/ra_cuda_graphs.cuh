//===- ra_cuda_graphs.cuh - entry points replayed as CUDA graphs -*- C++ -*-===//
//
// A training step launches hundreds of kernels; on a GPU each launch costs a
// few microseconds of host time, more than many of the kernels take. So each
// entry point runs eagerly on its first call (cuBLAS picks its algorithms,
// modules load), is captured into a CUDA graph on its second, and from then
// on is one cudaGraphLaunch.
//
// A graph holds the pointers it was captured with: the parameters, the
// arena, and the device buffers of the inputs and outputs, which the runtime
// keeps for the model's life (runtime/Model.cpp) and refills before each
// call (the lr and the step are inputs in those buffers, not kernel
// arguments). A call with other pointers captures again. Nothing else in an
// entry point is decided by the host at run time, which is what makes the
// replay equal the eager run (the emulator checks it: ra_simt.h records
// captured work and runs it only at launch).
//
// Eager, one kernel at a time: with --sync-kernels (each launch waits, to
// name a failing kernel), while profiling (each kernel is timed), and with
// RA_CUDA_GRAPHS=0. An entry point whose capture or instantiation fails
// runs eagerly from then on, and the report says why.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_GRAPHS_CUH
#define RA_CUDA_GRAPHS_CUH

#include "ra_cuda_common.cuh"

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace ra_cuda::graphs {

/// An entry point's function: abi::EntryFn.
using EntryFn = int (*)(float *P, char *A, const void *const *in, void *const *out, char *error,
                        int64_t errorSize);

/// RA_CUDA_GRAPHS=0 turns graphs off for the process.
inline bool &enabled() {
  static bool on = [] {
    const char *v = std::getenv("RA_CUDA_GRAPHS");
    return !(v && v[0] == '0');
  }();
  return on;
}

/// What one entry point's graph is and has done.
struct EntryGraph {
  std::vector<const void *> key; // P, A, the inputs' and outputs' buffers
  int64_t eagerCalls = 0, captures = 0, replays = 0;
  size_t nodes = 0;
  cudaGraphExec_t exec = nullptr;
  std::string refused; // why it runs eagerly, when capture failed

  EntryGraph() = default;
  EntryGraph(const EntryGraph &) = delete;
  EntryGraph &operator=(const EntryGraph &) = delete;
  /// When the library is unloaded (or the process ends).
  ~EntryGraph() {
    if (exec)
      cudaGraphExecDestroy(exec);
  }
};

inline std::map<std::string, EntryGraph> &entries() {
  static std::map<std::string, EntryGraph> all;
  return all;
}

inline int failWith(char *error, int64_t errorSize, const char *name, const char *call,
                    cudaError_t e) {
  std::snprintf(error, size_t(errorSize), "CUDA error in %s (for the graph of %s): %s", call, name,
                cudaGetErrorString(e));
  return 1;
}

/// Runs entry point `name` (`fn`, with `inputs` and `outputs` buffers): the
/// first call with these pointers eagerly, the second captured and
/// launched, later ones replayed.
inline int call(const char *name, EntryFn fn, int64_t inputs, int64_t outputs, float *P, char *A,
                const void *const *in, void *const *out, char *error, int64_t errorSize) {
  if (!enabled() || syncEachKernel() || ra_profile::on)
    return fn(P, A, in, out, error, errorSize);
  EntryGraph &g = entries()[name];
  std::vector<const void *> key = {P, A};
  key.insert(key.end(), in, in + inputs);
  key.insert(key.end(), out, out + outputs);
  if (key != g.key) { // new buffers: start over
    if (g.exec)
      cudaGraphExecDestroy(g.exec);
    g.exec = nullptr;
    g.key = std::move(key);
    g.eagerCalls = 0;
  }
  if (!g.refused.empty() || (!g.exec && g.eagerCalls == 0)) {
    ++g.eagerCalls;
    return fn(P, A, in, out, error, errorSize);
  }
  cudaStream_t stream = ra_cuda_stream();
  if (!g.exec) {
    if (cudaError_t e = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal))
      return failWith(error, errorSize, name, "cudaStreamBeginCapture", e);
    int failed = fn(P, A, in, out, error, errorSize);
    cudaGraph_t graph = nullptr;
    cudaError_t ended = cudaStreamEndCapture(stream, &graph);
    if (failed) { // a launch failed while capturing: nothing ran
      if (graph)
        cudaGraphDestroy(graph);
      return 1;
    }
    if (ended != cudaSuccess || !graph) {
      g.refused = std::string("capture failed: ") + cudaGetErrorString(ended);
      cudaGetLastError(); // the capture's error is reported here, not by the next launch
      ++g.eagerCalls;
      return fn(P, A, in, out, error, errorSize);
    }
    cudaGraphGetNodes(graph, nullptr, &g.nodes);
    cudaError_t made = cudaGraphInstantiate(&g.exec, graph, 0);
    cudaGraphDestroy(graph);
    if (made != cudaSuccess) { // the captured work did not run: run it eagerly
      g.exec = nullptr;
      g.refused = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(made);
      cudaGetLastError();
      ++g.eagerCalls;
      return fn(P, A, in, out, error, errorSize);
    }
    ++g.captures;
  }
  if (cudaError_t e = cudaGraphLaunch(g.exec, stream))
    return failWith(error, errorSize, name, "cudaGraphLaunch", e);
  ++g.replays;
  return 0;
}

/// One line per entry point called so far: eager calls, captures, graph
/// nodes and launches, or why it runs eagerly.
inline std::string report() {
  std::string s;
  if (!enabled())
    return "off (RA_CUDA_GRAPHS=0)\n";
  if (syncEachKernel())
    return "off (--sync-kernels launches one kernel at a time)\n";
  for (const auto &[name, g] : entries()) {
    char line[512];
    if (!g.refused.empty())
      std::snprintf(line, sizeof line, "%s: eager (%s), %lld calls\n", name.c_str(),
                    g.refused.c_str(), (long long)g.eagerCalls);
    else
      std::snprintf(line, sizeof line,
                    "%s: %lld eager, %lld captured (%zu nodes), %lld graph launches\n",
                    name.c_str(), (long long)g.eagerCalls, (long long)g.captures, g.nodes,
                    (long long)g.replays);
    s += line;
  }
  return s;
}

} // namespace ra_cuda::graphs

#endif // RA_CUDA_GRAPHS_CUH
