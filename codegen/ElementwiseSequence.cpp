//===- ElementwiseSequence.cpp - consecutive elementwise kernels as one ---===//
//
// fuse-elementwise makes one kernel per value it stores. Where kernels over
// the same elements follow each other, each is a pass over memory and a
// launch: AdamW's update of a parameter is four (the clipped gradient, m, v,
// the parameter), each reading the gradient again. Consecutive fused
// kernels of one length become one loop that runs each body in turn per
// element: a value stored earlier is forwarded (not read back), a buffer
// two of them read is read once, and one launch serves all.
//
// Per element i the merged loop does what the kernels did, in their order,
// so it is exact when every access that crosses between them is at i
// itself: a later kernel may read an earlier one's result only at i (it is
// forwarded), and may write a buffer an earlier one read only where that
// was read at i (read before written, in one iteration). A partial overlap,
// or a broadcast read (at 0, or at i % m) of a buffer another kernel
// writes, keeps them apart. On the kernel form, after the GEMM epilogues,
// so both backends run the merged kernels and every entry-point test
// checks them against the interpreter.
//
//===----------------------------------------------------------------------===//
#include "codegen/KernelForm.h"

#include <map>

namespace ra::codegen {
namespace {

/// Index of the buffer in `refs` that is `r`, or -1.
int indexOf(const std::vector<BufferRef> &refs, const BufferRef &r) {
  for (size_t k = 0; k < refs.size(); ++k)
    if (sameBuffer(refs[k], r))
      return int(k);
  return -1;
}

/// Whether `next` may run after `group`'s body in the same iteration.
bool mayFollow(const KernelCall &group, const KernelCall &next) {
  const auto &g = group.get<FusedParams>();
  const auto &f = next.get<FusedParams>();
  if (f.n != g.n)
    return false;
  // What next reads of the group's results: the same buffer, at i.
  for (const FusedStep &s : f.body)
    if (s.kind == FusedStep::Input)
      for (const BufferRef &w : group.results)
        if (overlaps(next.operands[s.input], w) &&
            (!sameBuffer(next.operands[s.input], w) || s.modulo != 0))
          return false;
  for (const BufferRef &w : next.results) {
    // What next writes of the group's inputs: the same buffer, read at i.
    for (const FusedStep &s : g.body)
      if (s.kind == FusedStep::Input && overlaps(group.operands[s.input], w) &&
          (!sameBuffer(group.operands[s.input], w) || s.modulo != 0))
        return false;
    for (const BufferRef &earlier : group.results)
      if (overlaps(earlier, w) && !sameBuffer(earlier, w))
        return false;
  }
  return true;
}

/// `next`'s body appended to `group`'s (mayFollow holds).
void append(KernelCall &group, const KernelCall &next) {
  auto &body = std::get<FusedParams>(group.params).body;
  const auto &f = next.get<FusedParams>();
  // The step each of the group's results was last stored from.
  std::map<int, int> stored;
  for (const FusedStep &s : body)
    if (s.isStore())
      stored[s.result()] = s.a;
  std::vector<int> stepOf(f.body.size(), -1);
  for (size_t k = 0; k < f.body.size(); ++k) {
    FusedStep s = f.body[k];
    if (s.kind == FusedStep::Input) {
      const BufferRef &r = next.operands[s.input];
      if (int result = indexOf(group.results, r); result >= 0) { // forwarded
        stepOf[k] = stored.at(result);
        continue;
      }
      int operand = indexOf(group.operands, r);
      if (operand < 0) {
        operand = int(group.operands.size());
        group.operands.push_back(r);
      }
      s.input = operand;
      // Read once: no earlier body stores it (it is no result).
      for (size_t j = 0; j < body.size() && stepOf[k] < 0; ++j)
        if (body[j].kind == FusedStep::Input && body[j].input == operand &&
            body[j].modulo == s.modulo)
          stepOf[k] = int(j);
      if (stepOf[k] >= 0)
        continue;
    } else if (s.isStore()) {
      const BufferRef &w = next.results[s.result()];
      int result = indexOf(group.results, w);
      if (result < 0) {
        result = int(group.results.size());
        group.results.push_back(w);
      }
      s.a = stepOf[s.a];
      s.input = result;
      stored[result] = s.a;
    } else if (s.kind != FusedStep::Constant) {
      s.a = stepOf[s.a];
      if (s.kind == FusedStep::Binary)
        s.b = stepOf[s.b];
    }
    stepOf[k] = int(body.size());
    body.push_back(s);
  }
}

} // namespace

void fuseElementwiseSequences(EntryPoint &entry) {
  std::vector<KernelCall> merged;
  for (KernelCall &c : entry.calls) {
    if (c.family == Family::FusedElementwise && !merged.empty() &&
        merged.back().family == Family::FusedElementwise && mayFollow(merged.back(), c)) {
      append(merged.back(), c);
      continue;
    }
    merged.push_back(std::move(c));
  }
  entry.calls = std::move(merged);
}

} // namespace ra::codegen
