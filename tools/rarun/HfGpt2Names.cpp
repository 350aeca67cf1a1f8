//===- HfGpt2Names.cpp - racc's GPT-2 parameters in Hugging Face's names ---===//
#include "HfGpt2Names.h"

#include <map>

namespace rarun {

std::optional<HfPlace> hfPlaceOf(const std::string &name) {
  static const std::map<std::string, HfPlace> top = {
      {"wte", {"wte.weight"}},
      {"wpe", {"wpe.weight"}},
      {"ln_f.w", {"ln_f.weight"}},
      {"ln_f.b", {"ln_f.bias"}},
  };
  // Within block N: racc's name after "h.N." -> Hugging Face's after "h.N.".
  static const std::map<std::string, HfPlace> block = {
      {"ln_1.w", {"ln_1.weight"}},
      {"ln_1.b", {"ln_1.bias"}},
      {"ln_2.w", {"ln_2.weight"}},
      {"ln_2.b", {"ln_2.bias"}},
      {"attn.w_qkv", {"attn.c_attn.weight"}},
      {"attn.b_qkv", {"attn.c_attn.bias"}},
      {"attn.w_q", {"attn.c_attn.weight", 0, 1}}, // MLA's queries: c_attn's q columns
      {"attn.b_q", {"attn.c_attn.bias", 0, 1}},
      {"attn.w_o", {"attn.c_proj.weight"}},
      {"attn.b_o", {"attn.c_proj.bias"}},
      {"mlp.w_fc", {"mlp.c_fc.weight"}},
      {"mlp.b_fc", {"mlp.c_fc.bias"}},
      {"mlp.w_proj", {"mlp.c_proj.weight"}},
      {"mlp.b_proj", {"mlp.c_proj.bias"}},
  };
  if (auto it = top.find(name); it != top.end())
    return it->second;
  if (name.rfind("h.", 0) != 0)
    return std::nullopt;
  size_t dot = name.find('.', 2);
  if (dot == std::string::npos || dot == 2 || name.find_first_not_of("0123456789", 2) != dot)
    return std::nullopt;
  auto it = block.find(name.substr(dot + 1));
  if (it == block.end())
    return std::nullopt;
  HfPlace place = it->second;
  place.tensor = name.substr(0, dot + 1) + place.tensor;
  return place;
}

} // namespace rarun
