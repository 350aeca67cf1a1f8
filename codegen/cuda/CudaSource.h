//===- CudaSource.h - CUDA C++ from the kernel form --------------*- C++ -*-===//
#ifndef RA_CODEGEN_CUDA_CUDASOURCE_H
#define RA_CODEGEN_CUDA_CUDASOURCE_H

#include "codegen/KernelForm.h"

#include <string>
#include <utility>
#include <vector>

namespace ra::codegen {

/// One CUDA translation unit launching the kernels of ra_cuda_kernels.cuh
/// (cuBLAS for GEMMs) through the device layer of ra_cuda_device.cuh; the
/// SIMT emulator (ra_simt.h) compiles the same source for the CPU. Entry
/// points take device pointers, and scratch after the arena
/// (abi::scratchOffset, scratchFloats). A failed launch or library call
/// returns 1 naming the kernel and the op it came from.
std::string emitCudaSource(const KernelProgram &program, const std::string &source);

/// The headers the CUDA source includes, (file name, text).
extern const std::vector<std::pair<const char *, const char *>> kCudaShippedHeaders;

} // namespace ra::codegen

#endif // RA_CODEGEN_CUDA_CUDASOURCE_H
