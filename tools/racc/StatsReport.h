//===- StatsReport.h - ModelStats as JSON and as text --------------*- C++ -*-===//
#ifndef RACC_STATSREPORT_H
#define RACC_STATSREPORT_H

#include "ir/analysis/ModelStats.h"

#include <nlohmann/json.hpp>
#include <string>

namespace racc {

/// The `racc stats --json` object; `parameters.total` is the total count.
nlohmann::ordered_json statsToJson(const ra::ModelStats &stats);

/// The human-readable report.
std::string statsToText(const ra::ModelStats &stats);

} // namespace racc

#endif // RACC_STATSREPORT_H
