//===- CpuSource.h - C++ for the CPU from the kernel form --------*- C++ -*-===//
#ifndef RA_CODEGEN_CPU_CPUSOURCE_H
#define RA_CODEGEN_CPU_CPUSOURCE_H

#include "codegen/KernelForm.h"

#include <string>
#include <utility>
#include <vector>

namespace ra::codegen {

/// One C++ translation unit calling the kernels of ra_cpu_kernels.h (OpenMP
/// loops, OpenBLAS GEMMs), shipped next to it. Token ids are checked before
/// the kernels that index a table: a bad one returns 1 with a message.
std::string emitCpuSource(const KernelProgram &program, const std::string &source);

/// The kernels every model shares and that take their shapes at run time
/// (attention's), as one translation unit: racc compiles it once into an
/// object (kept in the compile cache) linked into each model.so, whose
/// source is compiled with RA_CPU_KERNELS_PRECOMPILED and sees only their
/// declarations.
std::string cpuLibrarySource();

/// The headers the CPU source includes, (file name, text), embedded in racc
/// at build time and written next to it.
extern const std::vector<std::pair<const char *, const char *>> kCpuShippedHeaders;

} // namespace ra::codegen

#endif // RA_CODEGEN_CPU_CPUSOURCE_H
