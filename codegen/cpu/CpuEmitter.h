//===- CpuEmitter.h - C++ source for the CPU from the kernel form -*- C++ -*-===//
#ifndef RA_CODEGEN_CPU_CPUEMITTER_H
#define RA_CODEGEN_CPU_CPUEMITTER_H

#include "codegen/KernelForm.h"

#include <string>
#include <utility>
#include <vector>

namespace ra::codegen {

/// One C++ translation unit with an `extern "C"` function per entry point:
///
///   int ra_<name>(float *params, char *arena, const void *const *inputs,
///                 void *const *outputs, char *error, int64_t errorSize);
///
/// returning 0, or 1 with a message in `error` (a token id out of range).
/// Kernels come from ra_cpu_kernels.h, shipped next to the source.
std::string emitCpuSource(const std::vector<EntryPoint> &entries, const std::string &source);

enum class Backend { Cpu, Cuda };

/// The same kernel form for either backend: the CPU's functions, or the CUDA
/// launchers (codegen/cuda/ra_cuda_kernels.cuh), which the SIMT emulator also
/// runs. CUDA entry points take scratch after the arena (scratchFloats).
std::string emitSource(const std::vector<EntryPoint> &entries, const std::string &source,
                       Backend backend);

/// Floats of scratch an entry point's CUDA kernels need beyond the arena.
int64_t scratchFloats(const EntryPoint &entry);

/// The headers the generated source includes, (file name, text), embedded in
/// racc at build time and written next to it.
extern const std::vector<std::pair<const char *, const char *>> kCpuShippedHeaders;
extern const std::vector<std::pair<const char *, const char *>> kCudaShippedHeaders;

} // namespace ra::codegen

#endif // RA_CODEGEN_CPU_CPUEMITTER_H
