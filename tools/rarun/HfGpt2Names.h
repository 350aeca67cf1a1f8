//===- HfGpt2Names.h - racc's GPT-2 parameters in Hugging Face's names -*- C++ -*-===//
//
// transformers' GPT2LMHeadModel keeps GPT-2's own layout: Conv1D weights are
// [in, out] (y = x W + b, as racc's), c_attn's columns are q | k | v with each
// head's hd columns together (as racc's w_qkv), and the LM head is tied to
// wte. So a racc parameter of the GPT-2 blocks is a Hugging Face tensor, or a
// block of its columns (MLA's w_q is c_attn's first d_model columns). The
// one table of that correspondence, for import and export.
//
//===----------------------------------------------------------------------===//
#ifndef RARUN_HFGPT2NAMES_H
#define RARUN_HFGPT2NAMES_H

#include <cstdint>
#include <optional>
#include <string>

namespace rarun {

/// Where a racc parameter lives in a GPT-2 checkpoint: a tensor (named
/// without the "transformer." prefix) and a block [begin, end) of its last
/// axis, in units of d_model (end -1: the whole axis).
struct HfPlace {
  std::string tensor;
  int64_t begin = 0, end = -1;
  bool whole() const { return begin == 0 && end == -1; }
};

/// The place of racc parameter `name` ("h.3.attn.w_qkv"), if it has one.
std::optional<HfPlace> hfPlaceOf(const std::string &name);

} // namespace rarun

#endif // RARUN_HFGPT2NAMES_H
