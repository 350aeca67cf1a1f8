// fuseElementwiseSequences: consecutive fused elementwise kernels of one
// length become one kernel running their bodies in turn per element, where
// that is exact. Checked by running both forms over one memory: random
// chains over buffers that coincide, overlap or broadcast, and AdamW's
// shape, merged and left alone.
#include "codegen/KernelForm.h"

#include <catch2/catch.hpp>

#include <random>

namespace {

using namespace ra::codegen;

constexpr int64_t kN = 8;

BufferRef arena(int64_t floatOffset, int64_t elements) {
  BufferRef r;
  r.offset = floatOffset * 4;
  r.elements = elements;
  return r;
}

/// A kernel of one output: result = op over its inputs (each at i, at 0,
/// or at i % modulo), folded left: ((x0 op x1) op x2) ...
KernelCall fused(std::vector<std::pair<BufferRef, int64_t>> inputs, BufferRef result,
                 const char *op = "Add", int64_t n = kN) {
  FusedParams p{n, {}};
  KernelCall c{Family::FusedElementwise, {}, {}, {result}, "f"};
  for (auto &[buffer, modulo] : inputs) {
    FusedStep s;
    s.input = int(c.operands.size());
    s.modulo = modulo;
    c.operands.push_back(buffer);
    p.body.push_back(s);
  }
  int last = 0;
  for (size_t k = 1; k < inputs.size(); ++k) {
    FusedStep s;
    s.kind = FusedStep::Binary;
    s.fn = op;
    s.a = last;
    s.b = int(k);
    last = int(p.body.size());
    p.body.push_back(s);
  }
  FusedStep store;
  store.kind = FusedStep::Unary;
  store.a = last;
  p.body.push_back(store);
  c.params = p;
  return c;
}

/// Runs fused kernels over `memory` (floats; arena offsets are bytes), one
/// whole loop after another, as both backends do.
void run(const std::vector<KernelCall> &calls, std::vector<float> &memory) {
  for (const KernelCall &c : calls) {
    const auto &p = c.get<FusedParams>();
    for (int64_t i = 0; i < p.n; ++i) {
      std::vector<float> v(p.body.size());
      for (size_t k = 0; k < p.body.size(); ++k) {
        const FusedStep &s = p.body[k];
        switch (s.kind) {
        case FusedStep::Input: {
          int64_t at = s.modulo == 0 ? i : s.modulo == 1 ? 0 : i % s.modulo;
          v[k] = memory[c.operands[s.input].offset / 4 + at];
          break;
        }
        case FusedStep::Constant:
          v[k] = float(s.value);
          break;
        case FusedStep::Binary:
          v[k] = s.fn == "Mul"   ? v[s.a] * v[s.b]
                 : s.fn == "Sub" ? v[s.a] - v[s.b]
                                 : v[s.a] + v[s.b];
          break;
        case FusedStep::Unary: // only stores here
          REQUIRE(s.isStore());
          v[k] = v[s.a];
          memory[c.results[s.result()].offset / 4 + i] = v[k];
          break;
        }
      }
    }
  }
}

EntryPoint entryOf(std::vector<KernelCall> calls) {
  EntryPoint e;
  e.calls = std::move(calls);
  return e;
}

} // namespace

TEST_CASE("codegen: AdamW's kernels over one parameter are one kernel, the gradient read once",
          "[codegen][sequence]") {
  // g *= s (in place); m = m * c + g; v = v * c + g * g; p -= m * v.
  const BufferRef g = arena(0, kN), s = arena(8, 1), c = arena(9, 1), m = arena(16, kN),
                  v = arena(24, kN), p = arena(32, kN);
  std::vector<KernelCall> calls = {
      fused({{g, 0}, {s, 1}}, g, "Mul"), fused({{m, 0}, {c, 1}, {g, 0}}, m),
      fused({{v, 0}, {c, 1}, {g, 0}}, v), fused({{p, 0}, {m, 0}, {v, 0}}, p, "Sub")};
  EntryPoint e = entryOf(calls);
  fuseElementwiseSequences(e);
  REQUIRE(e.calls.size() == 1);
  const KernelCall &merged = e.calls[0];
  CHECK(merged.results.size() == 4);
  CHECK(merged.operands.size() == 6); // g, s, m, c, v, p: each once
  int gReads = 0;
  for (const FusedStep &st : merged.get<FusedParams>().body)
    gReads += st.kind == FusedStep::Input && merged.operands[st.input].offset == 0;
  CHECK(gReads == 1); // the later kernels take the clipped g from the first
  std::vector<float> sequential(40), one;
  for (size_t i = 0; i < sequential.size(); ++i)
    sequential[i] = 0.25f * float(i % 7) - 0.5f;
  one = sequential;
  run(calls, sequential);
  run(e.calls, one);
  CHECK(one == sequential);
}

TEST_CASE("codegen: kernels whose accesses cross at another element stay apart",
          "[codegen][sequence]") {
  const BufferRef a = arena(0, kN), b = arena(8, kN), c = arena(16, kN);
  auto merges = [](std::vector<KernelCall> calls) {
    EntryPoint e = entryOf(std::move(calls));
    fuseElementwiseSequences(e);
    return e.calls.size() == 1;
  };
  CHECK(merges({fused({{a, 0}}, b), fused({{b, 0}, {c, 0}}, c)}));
  // The earlier result read by broadcast, or in part.
  CHECK_FALSE(merges({fused({{a, 0}}, b), fused({{b, 1}, {c, 0}}, c)}));
  CHECK_FALSE(merges({fused({{a, 0}}, b), fused({{arena(9, kN), 0}}, c)}));
  // A buffer the earlier kernel reads by broadcast, or in part, written.
  CHECK_FALSE(merges({fused({{a, 4}}, b), fused({{c, 0}}, a)}));
  CHECK_FALSE(merges({fused({{arena(1, kN), 0}}, b), fused({{c, 0}}, a)}));
  // Results that overlap in part; another length.
  CHECK_FALSE(merges({fused({{a, 0}}, b), fused({{c, 0}}, arena(9, kN))}));
  CHECK_FALSE(merges({fused({{a, 0}}, b), fused({{c, 0}}, c, "Add", kN - 1)}));
}

TEST_CASE("codegen: merged elementwise kernels compute what the kernels computed one after another",
          "[codegen][sequence]") {
  // Random chains over buffers that coincide, overlap in part, or are read
  // by broadcast: whatever merges must leave memory as the sequence did.
  std::mt19937 rng(7);
  const std::vector<BufferRef> pool = {arena(0, kN),  arena(8, kN),  arena(16, kN),
                                       arena(20, kN), arena(32, kN), arena(40, kN)};
  int mergedChains = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<KernelCall> calls;
    int length = 2 + int(rng() % 3);
    for (int k = 0; k < length; ++k) {
      std::vector<std::pair<BufferRef, int64_t>> inputs;
      int count = 1 + int(rng() % 3);
      for (int j = 0; j < count; ++j) {
        const int64_t modulos[] = {0, 0, 0, 1, 4};
        inputs.push_back({pool[rng() % pool.size()], modulos[rng() % 5]});
      }
      const char *ops[] = {"Add", "Mul", "Sub"};
      calls.push_back(fused(inputs, pool[rng() % pool.size()], ops[rng() % 3]));
    }
    std::vector<float> sequential(48);
    for (size_t i = 0; i < sequential.size(); ++i)
      sequential[i] = float(int(rng() % 9) - 4) * 0.5f;
    std::vector<float> merged = sequential;
    EntryPoint e = entryOf(calls);
    fuseElementwiseSequences(e);
    mergedChains += e.calls.size() < calls.size();
    run(calls, sequential);
    run(e.calls, merged);
    INFO("trial " << trial);
    REQUIRE(merged == sequential);
  }
  WARN("chains with a merge: " << mergedChains << " of 400");
  CHECK(mergedChains > 100); // the check is not vacuous
}
