//===- NumericOptions.cpp - numeric command-line options with their ranges ===//
#include "tools/common/NumericOptions.h"

#include <fmt/format.h>

#include <cmath>

namespace ra::tools {

NumericOptions &NumericOptions::integer(const std::string &name, const std::string &help,
                                        std::optional<int64_t> fallback, int64_t min, int64_t max) {
  auto value = cxxopts::value<int64_t>();
  if (fallback)
    value->default_value(std::to_string(*fallback));
  options.add_options()(name, help, value);
  rules.push_back({name, true, double(min), double(max), false});
  return *this;
}

NumericOptions &NumericOptions::real(const std::string &name, const std::string &help,
                                     std::optional<double> fallback, double min, bool minExclusive,
                                     double max) {
  auto value = cxxopts::value<double>();
  if (fallback)
    value->default_value(fmt::format("{}", *fallback));
  options.add_options()(name, help, value);
  rules.push_back({name, false, min, max, minExclusive});
  return *this;
}

NumericOptions &NumericOptions::seed(const std::string &name, const std::string &help) {
  options.add_options()(name, help, cxxopts::value<uint64_t>()->default_value("0"));
  return *this;
}

/// `>= 1`, `> 0`, `in [0, 1]`, ...
static std::string rangeText(double min, double max, bool minExclusive, bool isInteger) {
  auto number = [](double v) { return fmt::format("{}", v); };
  bool bounded = max < (isInteger ? 9.2e18 : std::numeric_limits<double>::max());
  std::string kind = isInteger ? "an integer" : "a finite number";
  if (!bounded)
    return fmt::format("{} {} {}", kind, minExclusive ? ">" : ">=", number(min));
  return fmt::format("{} in {}{}, {}]", kind, minExclusive ? "(" : "[", number(min), number(max));
}

std::string NumericOptions::check(const cxxopts::ParseResult &args) const {
  for (const Rule &r : rules) {
    if (!args.count(r.name))
      continue;
    double v = r.isInteger ? double(args[r.name].as<int64_t>()) : args[r.name].as<double>();
    bool ok = std::isfinite(v) && (r.minExclusive ? v > r.min : v >= r.min) && v <= r.max;
    if (!ok)
      return fmt::format("--{} {}: must be {}", r.name,
                         r.isInteger ? std::to_string(args[r.name].as<int64_t>())
                                     : fmt::format("{}", v),
                         rangeText(r.min, r.max, r.minExclusive, r.isInteger));
  }
  return "";
}

void NumericOptions::enforce(const cxxopts::ParseResult &args) const {
  if (std::string error = check(args); !error.empty())
    throw cxxopts::exceptions::exception(error);
}

} // namespace ra::tools
