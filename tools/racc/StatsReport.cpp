//===- StatsReport.cpp - ModelStats as JSON and as text -------------------===//
#include "StatsReport.h"

#include <fmt/format.h>

namespace racc {

using json = nlohmann::ordered_json;

/// FLOPs of a training step per token: forward and backward as derived by
/// autodiff (@grad), or, for a model without a loss, the usual 3x forward.
static double trainFlopsPerToken(const ra::ModelStats &s) {
  return double(s.gradFlops ? s.gradFlops : 3 * s.forwardFlops) / s.tokens;
}

json statsToJson(const ra::ModelStats &s) {
  json config = json::object();
  for (auto &[name, v] : s.config) {
    if (v == (double)(int64_t)v)
      config[name] = (int64_t)v;
    else
      config[name] = v;
  }
  json tensors = json::array();
  for (const auto &p : s.params)
    tensors.push_back({{"name", p.name},
                       {"shape", p.shape},
                       {"count", p.count},
                       {"init", p.init},
                       {"init_value", p.initValue},
                       {"decay", p.decay},
                       {"mechanism", p.mechanism}});
  json cached = json::array(), perSequence = json::array();
  for (const auto &c : s.cache)
    cached.push_back({{"value", c.value}, {"role", c.role}, {"elements_per_token", c.elements}});
  for (const auto &c : s.sequenceState)
    perSequence.push_back({{"value", c.value},
                           {"role", c.role},
                           {"kind", c.kind},
                           {"elements", c.elements * c.entries},
                           {"entries", c.entries}});
  return json{
      {"source", s.source},
      {"config", config},
      {"parameters",
       {{"total", s.totalParams},
        {"decay", s.decayParams},
        {"no_decay", s.totalParams - s.decayParams},
        {"groups", s.groups},
        {"mechanisms", s.mechanisms},
        {"unused", s.unused},
        {"tensors", tensors}}},
      {"flops_per_token",
       {{"forward", s.forwardFlops / s.tokens},
        {"train_step", (int64_t)trainFlopsPerToken(s)},
        {"train_step_method", s.gradFlops ? "forward + backward of @grad" : "3x forward"},
        {"tokens_per_forward", s.tokens},
        {"forward_by_op",
         [&] {
           json by = json::object();
           for (auto &[op, f] : s.forwardFlopsByOp)
             by[op] = f / s.tokens;
           return by;
         }()}}},
      {"inference_cache",
       {{"elements_per_token", s.cacheElementsPerToken},
        {"bytes_per_token_fp16", 2 * s.cacheElementsPerToken},
        {"bytes_per_token_fp32", 4 * s.cacheElementsPerToken},
        {"attention_ops", s.attentionOps},
        {"cached", cached},
        {"elements_per_sequence", s.cacheElementsPerSequence},
        {"bytes_per_sequence_fp16", 2 * s.cacheElementsPerSequence},
        {"bytes_per_sequence_fp32", 4 * s.cacheElementsPerSequence},
        {"per_sequence", perSequence},
        {"decoding",
         {{"cacheable", s.decodingObstacles.empty()}, {"obstacles", s.decodingObstacles}}}}},
  };
}

/// 124439808 -> "124,439,808"
static std::string grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

static std::string scaled(double v) {
  if (v >= 1e9)
    return fmt::format("{:.2f} G", v / 1e9);
  if (v >= 1e6)
    return fmt::format("{:.2f} M", v / 1e6);
  if (v >= 1e3)
    return fmt::format("{:.2f} K", v / 1e3);
  return fmt::format("{:.0f}", v);
}

std::string statsToText(const ra::ModelStats &s) {
  std::string out = fmt::format("model        {}\n", s.source);
  std::string cfg;
  for (auto &[name, v] : s.config)
    cfg += fmt::format("{}{}={}", cfg.empty() ? "" : " ", name, v);
  out += fmt::format("config       {}\n", cfg);
  out +=
      fmt::format("parameters   {} ({} tensors; {} decay, {} no decay)\n", grouped(s.totalParams),
                  s.params.size(), grouped(s.decayParams), grouped(s.totalParams - s.decayParams));
  for (auto &[g, n] : s.groups)
    out += fmt::format("  group      {:<14} {:>14}\n", g, grouped(n));
  for (auto &[m, n] : s.mechanisms)
    out += fmt::format("  mechanism  {:<14} {:>14}\n", m, grouped(n));
  out += fmt::format("  unused     {}\n", s.unused.empty() ? "none" : "");
  for (auto &u : s.unused)
    out += fmt::format("             {}\n", u);
  double fwd = double(s.forwardFlops) / s.tokens;
  out += fmt::format("FLOPs/token  forward {}, training step {} ({})\n", scaled(fwd),
                     scaled(trainFlopsPerToken(s)),
                     s.gradFlops ? "forward + backward" : "3x forward, no loss to differentiate");
  out += fmt::format("cache/token  {} bytes at fp16 ({} values over {} attention ops)\n",
                     grouped(2 * s.cacheElementsPerToken), grouped(s.cacheElementsPerToken),
                     s.attentionOps);
  if (s.cacheElementsPerSequence)
    out +=
        fmt::format("cache/seq    {} bytes at fp16, fixed ({} values: RA's query rings, "
                    "running sums)\n",
                    grouped(2 * s.cacheElementsPerSequence), grouped(s.cacheElementsPerSequence));
  if (s.decodingObstacles.empty())
    out += "decoding     cacheable: a position needs only the cache above\n";
  else
    for (const std::string &o : s.decodingObstacles)
      out += fmt::format("decoding     NOT cacheable: {}\n", o);
  return out;
}

} // namespace racc
