//===- Rng.h - the portable random numbers of racc and rarun ------*- C++ -*-===//
//
// splitmix64 and Box-Muller: the same draws on every platform (the standard
// library's distributions are not), shared by the interpreter and the
// runtime so that both initialize a model identically from a seed.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_RNG_H
#define RA_RUNTIME_RNG_H

#include <cmath>
#include <cstdint>
#include <string_view>

namespace ra {

class Rng {
public:
  explicit Rng(uint64_t seed) : state(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (next() >> 11) * 0x1.0p-53; } // [0, 1)
  double normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300)
      u1 = 1e-300;
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
  }
  uint64_t state;
};

/// FNV-1a of a name mixed with a seed: per-parameter streams.
inline uint64_t hashName(std::string_view name, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (char c : name) {
    h ^= (unsigned char)c;
    h *= 0x100000001b3ull;
  }
  return h;
}

} // namespace ra

#endif // RA_RUNTIME_RNG_H
