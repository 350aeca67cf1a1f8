//===- Abi.h - the contract between an artifact and rarun ---------*- C++ -*-===//
//
// What racc writes and rarun reads must agree on: the versions of the
// manifest and of the library's C ABI, the signature of an entry point, and
// how an entry point's memory is laid out (the arena ra-plan-memory packs,
// then the CUDA kernels' scratch). The emitter, `racc compile` and
// runtime/Model.cpp include this header; nothing else defines these.
//
//===----------------------------------------------------------------------===//
#ifndef RA_ABI_ABI_H
#define RA_ABI_ABI_H

#include <cstdint>

namespace ra::abi {

/// The C ABI of an artifact's library: bumped when a function below, or one
/// rarun looks up (ra_abi_version, ra_gemm_tflops, ra_profile_*,
/// ra_device_*, ra_parameter_elements, ra_entry_layout), changes meaning.
/// 2: the library reports the memory layout it assumes.
constexpr int kAbiVersion = 2;

/// manifest.json's layout: bumped whenever a reader would misread an older one.
constexpr int kManifestFormatVersion = 2;

/// An entry point `ra_<name>`: parameters (weights and optimizer state, one
/// flat f32 buffer), the arena (and after it, on CUDA, the scratch), host or
/// device pointers to the inputs and outputs, and room for an error message.
/// Returns 0, or 1 with the message written.
using EntryFn = int (*)(float *params, char *arena, const void *const *inputs, void *const *outputs,
                        char *error, int64_t errorSize);

/// `int64_t ra_parameter_elements(void)`: the parameter buffer's floats.
using ParameterElementsFn = int64_t (*)();
/// `const int64_t *ra_entry_layout(const char *name)`: for an entry point,
/// {arena bytes, scratch bytes, #inputs, each input's elements, #outputs,
/// each output's elements}; null for an unknown name.
using EntryLayoutFn = const int64_t *(*)(const char *);

/// Every arena offset ra-plan-memory assigns is a multiple of this, and the
/// arena itself starts on one.
constexpr int64_t kArenaAlignment = 64;

/// `bytes` rounded up to a multiple of kArenaAlignment.
constexpr int64_t alignUp(int64_t bytes) {
  return (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
}

/// Where the CUDA kernels' scratch starts: after the arena, aligned.
constexpr int64_t scratchOffset(int64_t arenaBytes) { return alignUp(arenaBytes); }

/// Bytes to allocate for an entry point's arena and scratch, with the slack
/// that lets the arena start on an aligned address in any allocation.
constexpr int64_t arenaAllocationBytes(int64_t arenaBytes, int64_t scratchBytes) {
  return scratchOffset(arenaBytes) + scratchBytes + kArenaAlignment;
}

} // namespace ra::abi

#endif // RA_ABI_ABI_H
