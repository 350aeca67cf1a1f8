//===- Init.h - parameter initializers and their random numbers --*- C++ -*-===//
//
// How a parameter's initial values are drawn from a seed: splitmix64 and
// Box-Muller (the same draws on every platform; the standard library's
// distributions are not), one stream per parameter name. The compiler's
// interpreter and rarun both initialize through `initialize`, so a model
// starts from the same weights in either, and the initializer names a
// `.graph` file may use are this header's `parseInit`.
//
//===----------------------------------------------------------------------===//
#ifndef RA_ABI_INIT_H
#define RA_ABI_INIT_H

#include <cmath>
#include <cstdint>
#include <optional>
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

/// A parameter's initializer: normal(std), zeros, ones or const(value).
enum class Init { Normal, Zeros, Ones, Const };

/// The initializer called `name` in a model (`param w: [D, D] = normal(0.02)`).
inline std::optional<Init> parseInit(std::string_view name) {
  if (name == "normal")
    return Init::Normal;
  if (name == "zeros")
    return Init::Zeros;
  if (name == "ones")
    return Init::Ones;
  if (name == "const")
    return Init::Const;
  return std::nullopt;
}

/// Whether the initializer takes a value: normal's std, const's value.
inline bool initTakesValue(Init init) { return init == Init::Normal || init == Init::Const; }

/// Fills the n values of parameter `name` as `init` with `value` draws them
/// for `seed`: each parameter's draws depend on the seed and its name only.
template <typename T>
void initialize(T *values, int64_t n, Init init, double value, std::string_view name,
                uint64_t seed) {
  Rng rng(hashName(name, seed));
  for (int64_t i = 0; i < n; ++i)
    values[i] = T(init == Init::Normal  ? value * rng.normal()
                  : init == Init::Ones  ? 1.0
                  : init == Init::Const ? value
                                        : 0.0);
}

} // namespace ra

#endif // RA_ABI_INIT_H
