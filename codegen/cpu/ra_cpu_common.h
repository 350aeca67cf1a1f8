//===- ra_cpu_common.h - what every CPU kernel family uses -------*- C++ -*-===//
//
// Shared by the per-family headers (ra_cpu_elementwise.h, ...): the index
// type, when a loop is worth OpenMP's fork, and sums in a fixed order so
// that results do not depend on the thread count.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_COMMON_H
#define RA_CPU_COMMON_H

#include "ra_attention_shape.h"
#include "ra_elementwise.h"
#include "ra_profile.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

// An entry point (ra_train_step, ...) is a straight line of thousands of
// kernel calls. Optimizing it buys nothing (each call is one branch-free
// jump into a kernel that runs for microseconds to milliseconds), but at -O3
// the compiler inlined every kernel into every call site: most of a
// compile's time (GPT-2 124M's model.cpp: 41 s, 5.4 s without). Entry points
// are therefore left unoptimized and the kernels compiled once each,
// optimized; the training step's speed and results are unchanged.
#if defined(__clang__)
#define RA_ENTRY_POINT __attribute__((optnone, noinline))
#elif defined(__GNUC__)
#define RA_ENTRY_POINT __attribute__((optimize("O0"), noinline))
#else
#define RA_ENTRY_POINT
#endif

// The kernels every model shares (attention's) are compiled once, in
// ra_cpu_library.cpp, which defines RA_CPU_KERNEL_LIBRARY: there they are
// ordinary definitions for model.so to link; a model's source, compiled
// with RA_CPU_KERNELS_PRECOMPILED, sees their declarations only; anywhere
// else (a standalone --emit=cpp, the tests) they are inline.
#ifdef RA_CPU_KERNEL_LIBRARY
#define RA_CPU_SHARED_KERNEL
#else
#define RA_CPU_SHARED_KERNEL inline
#endif

namespace ra_cpu {

using i64 = int64_t;

// Loops shorter than this run on one thread: forking costs more.
constexpr i64 kParallelMin = 1 << 15;

// Columns a task owns when a kernel sums the rows of a matrix into a vector
// (a bias gradient, layernorm's dw and db): it sweeps the rows reading its
// block of each contiguously, instead of walking each column down the rows
// a row's stride apart. 1 KiB of double accumulators; d_model 256 makes two
// tasks.
constexpr i64 kColumnBlock = 128;

using ra_math::apply;
using ra_math::Binary;
using ra_math::gelu;
using ra_math::geluGrad;
using ra_math::Unary;

/// Per-row or per-task partial sums added in index order: the same result
/// whatever the number of threads that made them.
inline double orderedSum(const std::vector<double> &parts) {
  double sum = 0;
  for (double part : parts)
    sum += part;
  return sum;
}

/// *out = the parts summed in order, when out is given.
inline void storeSum(const std::vector<double> &parts, float *out) {
  if (out)
    *out = float(orderedSum(parts));
}

} // namespace ra_cpu

#endif // RA_CPU_COMMON_H
