//===- ra_cpu_kernels.h - the CPU kernels generated code calls ---*- C++ -*-===//
//
// One function per kernel family, float32, OpenMP across the outer loops,
// OpenBLAS for GEMMs, a header per family. Generated code
// (codegen/FamilyCalls.cpp, codegen/cpu/CpuTarget.cpp) calls these with the
// static shapes of each op; the artifact ships every header below next to its
// model.cpp. No MLIR, no allocation except attention's per-thread scratch.
// Semantics match ir/interpreter/Kernels.cpp, the oracle they are tested
// against.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CPU_KERNELS_H
#define RA_CPU_KERNELS_H

#include "ra_cpu_common.h"

#include "ra_cpu_attention.h"
#include "ra_cpu_decode.h"
#include "ra_cpu_elementwise.h"
#include "ra_cpu_flash_attention.h"
#include "ra_cpu_gemm.h"
#include "ra_cpu_layernorm.h"
#include "ra_cpu_layout.h"
#include "ra_cpu_lookup.h"
#include "ra_cpu_reduce.h"

#endif // RA_CPU_KERNELS_H
