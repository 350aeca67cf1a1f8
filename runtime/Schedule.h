//===- Schedule.h - the learning-rate schedule --------------------*- C++ -*-===//
#ifndef RA_RUNTIME_SCHEDULE_H
#define RA_RUNTIME_SCHEDULE_H

#include <cmath>
#include <cstdint>

namespace ra::rt {

/// Linear warmup to `peak` over `warmup` steps, then cosine decay to
/// `peak * minRatio` at `total` (nanoGPT's schedule). Steps count from 1.
inline double learningRate(int64_t step, int64_t total, int64_t warmup, double peak,
                           double minRatio = 0.1) {
  if (step <= warmup)
    return peak * double(step) / double(warmup);
  if (total <= warmup)
    return peak;
  double progress = double(step - warmup) / double(total - warmup);
  double floor = peak * minRatio;
  return floor + 0.5 * (1 + std::cos(M_PI * std::min(progress, 1.0))) * (peak - floor);
}

} // namespace ra::rt

#endif // RA_RUNTIME_SCHEDULE_H
