//===- ra_cuda_kernels.cuh - the CUDA kernels generated code launches -*- C++ -*-===//
//
// One header per kernel family, mirroring codegen/cpu/: a kernel (and its
// host-side launcher) per family, grid-stride loops for elementwise and
// layout ops, a block per row with warp-shuffle and shared-memory
// reductions for softmax, layernorm and row reductions. Compiles with nvcc,
// and with a host compiler against ra_simt.h, where the tests run it.
// Generated code includes this (through ra_cuda_device.cuh); the artifact
// ships every header below.
//
//===----------------------------------------------------------------------===//
#ifndef RA_CUDA_KERNELS_CUH
#define RA_CUDA_KERNELS_CUH

#include "ra_cuda_common.cuh"

#include "ra_cuda_attention.cuh"
#include "ra_cuda_decode.cuh"
#include "ra_cuda_elementwise.cuh"
#include "ra_cuda_flash_attention.cuh"
#include "ra_cuda_gemm.cuh"
#include "ra_cuda_layernorm.cuh"
#include "ra_cuda_layout.cuh"
#include "ra_cuda_lookup.cuh"
#include "ra_cuda_reduce.cuh"
#include "ra_cuda_tc_attention.cuh"

#endif // RA_CUDA_KERNELS_CUH
