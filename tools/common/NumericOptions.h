//===- NumericOptions.h - numeric command-line options with their ranges -*- C++ -*-===//
//
// Every numeric option of racc and rarun is declared here with the range it
// accepts, and checked after parsing in one place: `--steps -5` or
// `--lr -1` is an error naming the option and the range, never a run.
//
//===----------------------------------------------------------------------===//
#ifndef RA_TOOLS_NUMERICOPTIONS_H
#define RA_TOOLS_NUMERICOPTIONS_H

#include <cxxopts.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace ra::tools {

/// The numeric options of one command.
class NumericOptions {
public:
  explicit NumericOptions(cxxopts::Options &options) : options(options) {}

  /// An integer option in [min, max]; `fallback` as its default, if any.
  NumericOptions &integer(const std::string &name, const std::string &help,
                          std::optional<int64_t> fallback, int64_t min,
                          int64_t max = std::numeric_limits<int64_t>::max());
  /// A finite number in [min, max], or (min, max] with `minExclusive`.
  NumericOptions &real(const std::string &name, const std::string &help,
                       std::optional<double> fallback, double min, bool minExclusive,
                       double max = std::numeric_limits<double>::max());
  /// A seed: any 64-bit unsigned integer.
  NumericOptions &seed(const std::string &name, const std::string &help);

  /// The first option outside its range, as an error message ("" when all
  /// are in range).
  std::string check(const cxxopts::ParseResult &args) const;
  /// check(), thrown as a cxxopts error (the drivers report those with the
  /// command's --help).
  void enforce(const cxxopts::ParseResult &args) const;

private:
  struct Rule {
    std::string name;
    bool isInteger;
    double min, max;
    bool minExclusive;
  };
  cxxopts::Options &options;
  std::vector<Rule> rules;
};

} // namespace ra::tools

#endif // RA_TOOLS_NUMERICOPTIONS_H
