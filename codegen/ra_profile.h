//===- ra_profile.h - per-kernel time, for rarun bench --profile -*- C++ -*-===//
//
// Generated entry points wrap each kernel call in RA_PROFILED(id): when
// profiling is on, the call's wall time (after waiting for the device, where
// RA_PROFILE_SYNC is defined) is added to its kernel's total. Off, it costs a
// branch per call. Shared by the CPU and CUDA kernels; the generated source
// exports the totals with ra_profile_enable / ra_profile_read.
//
//===----------------------------------------------------------------------===//
#ifndef RA_PROFILE_H
#define RA_PROFILE_H

#include <chrono>
#include <cstdint>

#ifndef RA_PROFILE_SYNC
#define RA_PROFILE_SYNC() ((void)0) // the CUDA kernels define it before including this
#endif

namespace ra_profile {

constexpr int kMaxKernels = 4096;
inline bool on = false;
inline double seconds[kMaxKernels];
inline int64_t calls[kMaxKernels];

struct Scope {
  int id;
  std::chrono::steady_clock::time_point start;
  explicit Scope(int id) : id(id) {
    if (on) {
      RA_PROFILE_SYNC();
      start = std::chrono::steady_clock::now();
    }
  }
  ~Scope() {
    if (!on || id >= kMaxKernels)
      return;
    RA_PROFILE_SYNC();
    seconds[id] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++calls[id];
  }
};

inline void enable(bool enabled) {
  on = enabled;
  for (int i = 0; i < kMaxKernels; ++i) {
    seconds[i] = 0;
    calls[i] = 0;
  }
}

} // namespace ra_profile

#define RA_PROFILED(id) ::ra_profile::Scope raProfileScope_(id)

#endif // RA_PROFILE_H
