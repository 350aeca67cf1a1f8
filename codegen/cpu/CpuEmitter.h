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

/// The headers the generated source includes, (file name, text), embedded in
/// racc at build time and written next to it.
extern const std::vector<std::pair<const char *, const char *>> kCpuShippedHeaders;

} // namespace ra::codegen

#endif // RA_CODEGEN_CPU_CPUEMITTER_H
