//===- StudyReport.cpp - verdicts and report.json, report.md --------------===//
#include "StudyReport.h"

#include "StudyStatistics.h"

#include "runtime/Data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace ra::study {

using json = nlohmann::ordered_json;

std::string readRunMetrics(const std::string &path, const std::map<std::string, ParamFacts> &params,
                           RunResult &run) {
  std::string text, err;
  if (!ra::rt::readFile(path, text, err))
    return err;
  int64_t total = 0;
  for (const auto &[name, p] : params)
    total += p.count;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  bool sawValidation = false;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty())
      continue;
    json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object())
      return fmt::format("{}:{}: not a JSON record", path, number);
    if (record.contains("val_loss") && record["val_loss"].is_number()) {
      run.valLoss = record["val_loss"].get<double>();
      sawValidation = true;
      run.reports.clear();
      if (record.contains("reports") && record["reports"].is_object())
        for (auto &[k, v] : record["reports"].items())
          if (v.is_number())
            run.reports[k] = v.get<double>();
    }
    if (record.contains("step") && record["step"].is_number_integer())
      run.steps = std::max(run.steps, record["step"].get<int64_t>());
    if (record.contains("scalars") && record["scalars"].is_object())
      for (auto &[k, v] : record["scalars"].items())
        if (v.is_number())
          run.scalars[k] = v.get<double>();
    if (record.contains("grad_norms") && record["grad_norms"].is_object() && total > 0 &&
        record.contains("grad_norm") && record["grad_norm"].is_number()) {
      double all = record["grad_norm"].get<double>() / std::sqrt(double(total));
      if (!(all > 0))
        continue;
      ++run.gradientSamples;
      for (auto &[k, v] : record["grad_norms"].items()) {
        auto p = params.find(k);
        if (p == params.end() || !v.is_number() || p->second.count <= 0)
          continue;
        double ratio = v.get<double>() / std::sqrt(double(p->second.count)) / all;
        double &best = run.gradientRatio.try_emplace(k, 0.0).first->second;
        best = std::max(best, ratio);
      }
    }
  }
  if (!sawValidation)
    return fmt::format("{}: no validation record (the run did not finish)", path);
  return "";
}

namespace {

std::vector<double> finalLosses(const VariantResult &v) {
  std::vector<double> xs;
  for (const auto &r : v.runs)
    if (r.status == "done")
      xs.push_back(r.valLoss);
  return xs;
}

/// "+0.0123 [-0.0040, +0.0286]"; small differences keep 3 significant
/// digits rather than print as 0.
std::string formatInterval(const Difference &d) {
  double largest = std::max({std::fabs(d.estimate), std::fabs(d.low), std::fabs(d.high)});
  if (largest >= 1e-3 || largest == 0)
    return fmt::format("{:+.4f} [{:+.4f}, {:+.4f}]", d.estimate, d.low, d.high);
  return fmt::format("{:+.2e} [{:+.2e}, {:+.2e}]", d.estimate, d.low, d.high);
}

/// v against w over the seeds both finished, paired by seed.
std::optional<Difference> compare(const VariantResult &v, const VariantResult &w) {
  std::vector<double> a, b;
  for (const auto &r : v.runs)
    if (r.status == "done")
      for (const auto &q : w.runs)
        if (q.status == "done" && q.seed == r.seed) {
          a.push_back(r.valLoss);
          b.push_back(q.valLoss);
        }
  return pairedDifference(a, b);
}

json intervalJson(const std::optional<Difference> &d) {
  if (!d)
    return nullptr;
  return json{{"estimate", d->estimate}, {"low", d->low}, {"high", d->high}, {"df", d->df}};
}

const VariantResult *findVariant(const std::vector<VariantResult> &all, const std::string &name) {
  for (const auto &v : all)
    if (v.variant.name == name)
      return &v;
  return nullptr;
}

/// The scaling reference of `v`: its `against` variant widened to about
/// v's parameter count (the variant with the nearest count among those
/// generated for it; the `against` itself when the difference is below one
/// unit of width).
const VariantResult *scalingReference(const std::vector<VariantResult> &all,
                                      const VariantResult &v) {
  const VariantResult *against = findVariant(all, v.variant.against);
  if (!against)
    return nullptr;
  const VariantResult *best = against;
  for (const auto &c : all)
    if (c.variant.kind == VariantKind::Scaling && c.variant.against == against->variant.name &&
        std::llabs(c.parameters - v.parameters) < std::llabs(best->parameters - v.parameters))
      best = &c;
  return best;
}

std::string kindName(VariantKind k) {
  switch (k) {
  case VariantKind::Declared:
    return "variant";
  case VariantKind::Scaling:
    return "scaling reference";
  case VariantKind::Sweep:
    return "sweep";
  }
  return "";
}

/// Mixing scalars of v that `against` does not have: name -> (init, mean
/// |final| over seeds).
std::map<std::string, std::pair<double, double>> mechanismScalars(const VariantResult &v,
                                                                  const VariantResult *against) {
  std::map<std::string, std::pair<double, double>> out;
  for (const auto &[name, p] : v.params) {
    if (!p.scalar || (against && against->params.count(name)))
      continue;
    double sum = 0;
    int n = 0;
    for (const auto &r : v.runs)
      if (r.status == "done" && r.scalars.count(name)) {
        sum += std::fabs(r.scalars.at(name));
        ++n;
      }
    if (n)
      out[name] = {p.init, sum / n};
  }
  return out;
}

/// "2 diverged, 1 failed": the runs that did not finish.
std::string statusCounts(const VariantResult &v) {
  std::map<std::string, int> counts;
  for (const auto &r : v.runs)
    if (r.status != "done")
      ++counts[r.status];
  std::vector<std::string> parts;
  for (const auto &[status, n] : counts)
    parts.push_back(fmt::format("{} {}", n, status));
  return fmt::format("{}", fmt::join(parts, ", "));
}

json verdict(const std::vector<VariantResult> &all, const VariantResult &v) {
  const VariantResult *against = findVariant(all, v.variant.against);
  std::vector<std::string> reasons;
  std::vector<double> losses = finalLosses(v);
  int failed = int(v.runs.size() - losses.size());
  if (!v.compileError.empty())
    return {{"decision", "INVESTIGATE"}, {"reasons", {"it did not compile: " + v.compileError}}};
  if (losses.size() < 2 || !against || finalLosses(*against).size() < 2)
    return {{"decision", "INVESTIGATE"},
            {"reasons",
             {fmt::format("too few finished runs to tell noise from an effect ({} of {} "
                          "finished{}{})",
                          losses.size(), v.runs.size(), failed ? ", " + statusCounts(v) : "",
                          against ? fmt::format(", '{}': {}", against->variant.name,
                                                finalLosses(*against).size())
                                  : "")}}};
  auto diff = compare(v, *against);
  if (!diff)
    return {{"decision", "INVESTIGATE"},
            {"reasons",
             {fmt::format("fewer than 2 seeds finished for both '{}' and '{}'", v.variant.name,
                          against->variant.name)}}};
  std::string interval = formatInterval(*diff);
  if (failed)
    reasons.push_back(fmt::format("{} of {} runs failed", failed, v.runs.size()));

  // REMOVE: the model switched the mechanism off, or a baseline of the same
  // size does better beyond noise.
  bool remove = false;
  auto scalars = mechanismScalars(v, against);
  double ratioSum = 0;
  int ratioCount = 0;
  std::string worst;
  for (const auto &[name, s] : scalars) {
    if (name.find("alpha") == std::string::npos || s.first == 0)
      continue;
    ratioSum += s.second / std::fabs(s.first);
    ++ratioCount;
    worst = name;
  }
  if (ratioCount && ratioSum / ratioCount < kSwitchedOff) {
    remove = true;
    reasons.push_back(fmt::format("its alphas went to about 0: mean |final| / |init| = {:.3f} "
                                  "over {} alphas (below {})",
                                  ratioSum / ratioCount, ratioCount, kSwitchedOff));
  }
  if (const VariantResult *ref = scalingReference(all, v); ref && ref != against) {
    if (auto d = compare(v, *ref); d && d->low > 0) {
      remove = true;
      reasons.push_back(fmt::format("'{}' ({} parameters) reaches a lower loss: {}; its "
                                    "efficiency is below the scaling reference",
                                    ref->variant.name, ref->parameters, formatInterval(*d)));
    }
  }
  if (diff->low > 0) {
    remove = true;
    reasons.push_back(
        fmt::format("worse than '{}' beyond noise: {}", against->variant.name, interval));
  }
  if (remove)
    return {{"decision", "REMOVE"}, {"reasons", reasons}};

  std::vector<std::string> vanishing;
  for (const auto &[name, p] : v.params) {
    if (against && against->params.count(name))
      continue;
    for (const auto &r : v.runs)
      if (r.status == "done" && r.gradientSamples > 0 && r.gradientRatio.count(name) &&
          r.gradientRatio.at(name) < kVanishingGradient) {
        vanishing.push_back(name);
        break;
      }
  }
  if (diff->high < 0 && vanishing.empty()) {
    reasons.insert(reasons.begin(), fmt::format("better than '{}' beyond noise: {}",
                                                against->variant.name, interval));
    return {{"decision", "KEEP"}, {"reasons", reasons}};
  }
  if (diff->high < 0)
    reasons.push_back(fmt::format("better than '{}' ({}), but the gradient of {} stays near zero",
                                  against->variant.name, interval, fmt::join(vanishing, ", ")));
  else
    reasons.push_back(fmt::format("the difference from '{}' is inside the noise: {} includes 0",
                                  against->variant.name, interval));
  return {{"decision", "INVESTIGATE"}, {"reasons", reasons}};
}

} // namespace

json buildReport(const Study &study, const std::vector<VariantResult> &all, int64_t steps,
                 int64_t tokensPerStep) {
  json report;
  report["study"] = study.name;
  report["file"] = study.path;
  report["baseline"] = study.baseline;
  report["seeds"] = study.seeds;
  report["steps"] = steps;
  report["tokens_per_step"] = tokensPerStep;
  report["data"] = study.data;
  report["lr"] = study.lr;
  report["thresholds"] = {{"vanishing_gradient_rms_ratio", kVanishingGradient},
                          {"alpha_switched_off_ratio", kSwitchedOff},
                          {"confidence", 0.95}};
  json variants = json::array();
  for (const auto &v : all) {
    json j;
    j["name"] = v.variant.name;
    j["kind"] = kindName(v.variant.kind);
    j["model"] = v.variant.model;
    json defines = json::object();
    for (const auto &[k, val] : v.variant.defines)
      defines[k] = val;
    j["defines"] = defines;
    j["mechanism"] = v.variant.mechanism;
    j["against"] = v.variant.against;
    j["parameters"] = v.parameters;
    j["artifact"] = v.artifact;
    if (!v.sameAs.empty())
      j["same_artifact_as"] = v.sameAs;
    if (!v.compileError.empty())
      j["compile_error"] = v.compileError;
    json runs = json::array();
    for (const auto &r : v.runs) {
      json rj = {{"seed", r.seed}, {"status", r.status}, {"dir", r.dir}};
      if (r.status == "done")
        rj["val_loss"] = r.valLoss;
      if (!r.error.empty())
        rj["error"] = r.error;
      if (!r.scalars.empty())
        rj["scalars"] = r.scalars;
      if (!r.reports.empty())
        rj["reports"] = r.reports;
      runs.push_back(rj);
    }
    j["runs"] = runs;
    std::vector<double> losses = finalLosses(v);
    Summary s = summarize(losses);
    j["val_loss"] =
        losses.empty() ? json(nullptr) : json{{"mean", s.mean}, {"std", s.std}, {"n", s.n}};
    const VariantResult *baseline = findVariant(all, study.baseline);
    const VariantResult *against = findVariant(all, v.variant.against);
    if (baseline && &v != baseline)
      j["vs_baseline"] = intervalJson(compare(v, *baseline));
    if (against) {
      j["vs_against"] = intervalJson(compare(v, *against));
      int64_t added = v.parameters - against->parameters;
      j["added_parameters"] = added;
      auto againstLosses = finalLosses(*against);
      // Per million parameters is noise over a handful of them (RA adds one
      // scalar per layer): shown from kMinimumAddedFraction of the model on.
      if (added > 0 && added >= kMinimumAddedFraction * double(against->parameters) &&
          !losses.empty() && !againstLosses.empty())
        j["efficiency_per_million"] =
            (summarize(againstLosses).mean - s.mean) / (double(added) / 1e6);
      if (v.variant.kind == VariantKind::Declared) {
        const VariantResult *ref = scalingReference(all, v);
        if (ref && ref != against) {
          auto refLosses = finalLosses(*ref);
          json rj = {{"name", ref->variant.name}, {"parameters", ref->parameters}};
          if (ref->parameters > against->parameters && !refLosses.empty() && !againstLosses.empty())
            rj["efficiency_per_million"] =
                (summarize(againstLosses).mean - summarize(refLosses).mean) /
                (double(ref->parameters - against->parameters) / 1e6);
          rj["vs_variant"] = intervalJson(compare(v, *ref));
          j["scaling_reference"] = rj;
        }
      }
    }
    // Learned scalars: init -> final over seeds.
    json scalars = json::object();
    for (const auto &[name, p] : v.params) {
      if (!p.scalar)
        continue;
      std::vector<double> finals;
      for (const auto &r : v.runs)
        if (r.status == "done" && r.scalars.count(name))
          finals.push_back(r.scalars.at(name));
      if (finals.empty())
        continue;
      Summary f = summarize(finals);
      scalars[name] = {{"init", p.init}, {"final_mean", f.mean}, {"final_std", f.std}};
    }
    j["scalars"] = scalars;
    // Reports (gate means, learned widths) at the last validation, over seeds.
    std::map<std::string, std::vector<double>> reports;
    for (const auto &r : v.runs)
      if (r.status == "done")
        for (const auto &[k, x] : r.reports)
          reports[k].push_back(x);
    json rj = json::object();
    for (const auto &[k, xs] : reports) {
      Summary f = summarize(xs);
      rj[k] = {{"mean", f.mean}, {"std", f.std}};
    }
    j["reports"] = rj;
    // Gradient flow: the smallest ratio over seeds per parameter, and the
    // parameters that stayed near zero.
    std::map<std::string, double> weakest;
    for (const auto &r : v.runs)
      if (r.status == "done")
        for (const auto &[k, x] : r.gradientRatio) {
          auto [it, fresh] = weakest.try_emplace(k, x);
          if (!fresh)
            it->second = std::min(it->second, x);
        }
    json vanishing = json::array();
    for (const auto &[k, x] : weakest)
      if (x < kVanishingGradient)
        vanishing.push_back({{"parameter", k}, {"max_rms_ratio", x}});
    j["vanishing_gradients"] = vanishing;
    std::vector<std::pair<double, std::string>> order;
    for (const auto &[k, x] : weakest)
      order.emplace_back(x, k);
    std::sort(order.begin(), order.end());
    json lowest = json::array();
    for (size_t i = 0; i < order.size() && i < 5; ++i)
      lowest.push_back({{"parameter", order[i].second}, {"max_rms_ratio", order[i].first}});
    j["weakest_gradients"] = lowest;
    if (v.variant.kind == VariantKind::Declared && v.variant.name != study.baseline)
      j["verdict"] = verdict(all, v);
    variants.push_back(j);
  }
  report["variants"] = variants;

  // The ablation matrix: rows and columns in the order the file names them.
  std::vector<std::string> rows, columns;
  for (const auto &v : all) {
    if (v.variant.row.empty())
      continue;
    if (std::find(rows.begin(), rows.end(), v.variant.row) == rows.end())
      rows.push_back(v.variant.row);
    if (std::find(columns.begin(), columns.end(), v.variant.column) == columns.end())
      columns.push_back(v.variant.column);
  }
  if (!rows.empty()) {
    json cells = json::array();
    for (const auto &row : rows) {
      json line = json::array();
      for (const auto &column : columns) {
        json cell = nullptr;
        for (const auto &v : all)
          if (v.variant.row == row && v.variant.column == column)
            cell = v.variant.name;
        line.push_back(cell);
      }
      cells.push_back(line);
    }
    report["ablation"] = {{"rows", rows}, {"columns", columns}, {"cells", cells}};
  }

  // The sweep: loss per fixed ratio, the best one, and the learned ratios.
  if (study.sweep) {
    json points = json::array();
    double bestLoss = INFINITY, bestRatio = 0;
    // A point may also be a scaling reference (one name, one set of runs).
    std::set<std::string> pointNames;
    if (const VariantResult *base = findVariant(all, study.sweep->variant))
      if (base->config.count(study.sweep->of))
        for (double ratio : study.sweep->ratios)
          pointNames.insert(fmt::format("{}@{}={}", base->variant.name, study.sweep->define,
                                        std::llround(ratio * base->config.at(study.sweep->of))));
    for (const auto &v : all) {
      if (v.variant.kind != VariantKind::Sweep && !pointNames.count(v.variant.name))
        continue;
      double of = v.config.count(study.sweep->of) ? v.config.at(study.sweep->of) : 0;
      double value = v.config.count(study.sweep->define) ? v.config.at(study.sweep->define) : 0;
      double ratio = of > 0 ? value / of : 0;
      auto losses = finalLosses(v);
      Summary s = summarize(losses);
      points.push_back({{"variant", v.variant.name},
                        {"ratio", ratio},
                        {study.sweep->define, value},
                        {"parameters", v.parameters},
                        {"val_loss", losses.empty() ? json(nullptr) : json(s.mean)},
                        {"std", s.std}});
      if (!losses.empty() && s.mean < bestLoss) {
        bestLoss = s.mean;
        bestRatio = ratio;
      }
    }
    std::sort(points.begin(), points.end(),
              [](const json &a, const json &b) { return a["ratio"] < b["ratio"]; });
    json learned = json::array();
    for (const auto &v : all) {
      std::vector<double> ratios;
      json layers = json::object();
      std::map<std::string, std::vector<double>> perLayer;
      for (const auto &r : v.runs)
        if (r.status == "done")
          for (const auto &[k, x] : r.reports)
            if (k.size() >= 15 && k.compare(k.size() - 15, 15, "effective_ratio") == 0)
              perLayer[k].push_back(x);
      if (perLayer.empty())
        continue;
      double sum = 0;
      for (const auto &[k, xs] : perLayer) {
        double m = summarize(xs).mean;
        layers[k] = m;
        sum += m;
      }
      learned.push_back({{"variant", v.variant.name},
                         {"mean_ratio", sum / double(perLayer.size())},
                         {"per_layer", layers},
                         {"val_loss", summarize(finalLosses(v)).mean}});
    }
    report["sweep"] = {{"variant", study.sweep->variant},
                       {"define", study.sweep->define},
                       {"of", study.sweep->of},
                       {"points", points},
                       {"best_ratio", std::isfinite(bestLoss) ? json(bestRatio) : json(nullptr)},
                       {"best_val_loss", std::isfinite(bestLoss) ? json(bestLoss) : json(nullptr)},
                       {"learned", learned}};
  }
  return report;
}

namespace {

std::string lossCell(const json &v) {
  if (v["val_loss"].is_null())
    return "-";
  const json &l = v["val_loss"];
  return fmt::format("{:.4f} ± {:.4f} ({})", l["mean"].get<double>(), l["std"].get<double>(),
                     l["n"].get<int>());
}

std::string intervalCell(const json &d) {
  if (d.is_null())
    return "-";
  return formatInterval(
      {d["estimate"].get<double>(), d["low"].get<double>(), d["high"].get<double>(), 0});
}

std::string number(const json &x, const char *spec = "{:.4f}") {
  return x.is_number() ? fmt::format(fmt::runtime(spec), x.get<double>()) : "-";
}

} // namespace

std::string renderMarkdown(const json &report) {
  std::string md;
  auto out = [&](const std::string &s) { md += s + "\n"; };
  out(fmt::format("# Study `{}`", report["study"].get<std::string>()));
  out("");
  out(fmt::format("From `{}`: {} steps of {} tokens per variant and seed, seeds {}, data `{}`, "
                  "lr {}. The baseline is `{}`. Differences are of the final validation loss, "
                  "with the 95% t interval over seeds (paired by seed: runs at one seed share "
                  "their data order and the initialization of their common parameters).",
                  report["file"].get<std::string>(), report["steps"].get<int64_t>(),
                  report["tokens_per_step"].get<int64_t>(), report["seeds"].dump(),
                  report["data"].get<std::string>(), report["lr"].get<double>(),
                  report["baseline"].get<std::string>()));
  out("");
  out("## Validation loss");
  out("");
  out("| variant | kind | parameters | added | val loss (mean ± std, n) | vs baseline | vs "
      "reference | Δloss per M added | scaling reference | its Δloss per M |");
  out("| --- | --- | ---: | ---: | --- | --- | --- | ---: | --- | ---: |");
  for (const json &v : report["variants"]) {
    std::string ref = "-", refEff = "-";
    if (v.contains("scaling_reference")) {
      ref = "`" + v["scaling_reference"]["name"].get<std::string>() + "`";
      refEff = number(v["scaling_reference"].value("efficiency_per_million", json(nullptr)));
    }
    out(fmt::format(
        "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} |", v["name"].get<std::string>(),
        v["kind"].get<std::string>(), v["parameters"].get<int64_t>(),
        v.contains("added_parameters") ? fmt::format("{:+d}", v["added_parameters"].get<int64_t>())
                                       : "-",
        lossCell(v), intervalCell(v.value("vs_baseline", json(nullptr))),
        v["against"].get<std::string>().empty()
            ? "-"
            : fmt::format("{} (`{}`)", intervalCell(v.value("vs_against", json(nullptr))),
                          v["against"].get<std::string>()),
        number(v.value("efficiency_per_million", json(nullptr))), ref, refEff));
  }
  out("");
  out("## Decisions");
  out("");
  out(fmt::format("KEEP: better than its reference beyond noise, with healthy gradients. REMOVE: "
                  "its alphas went to about 0 (mean |final|/|init| < {}), or a baseline widened "
                  "to its size does better, or it is worse beyond noise. INVESTIGATE: anything "
                  "else; no verdict is drawn from a difference inside the noise.",
                  report["thresholds"]["alpha_switched_off_ratio"].get<double>()));
  out("");
  out("| mechanism | variant | decision | because |");
  out("| --- | --- | --- | --- |");
  for (const json &v : report["variants"])
    if (v.contains("verdict")) {
      std::vector<std::string> reasons = v["verdict"]["reasons"];
      out(fmt::format("| {} | `{}` | **{}** | {} |", v["mechanism"].get<std::string>(),
                      v["name"].get<std::string>(), v["verdict"]["decision"].get<std::string>(),
                      fmt::join(reasons, "; ")));
    }
  if (report.contains("ablation")) {
    const json &a = report["ablation"];
    out("");
    out("## Ablation matrix");
    out("");
    out("Validation loss (mean ± std over seeds) and the decision.");
    out("");
    std::string head = "| |", rule = "| --- |";
    for (const json &c : a["columns"]) {
      head += " " + c.get<std::string>() + " |";
      rule += " --- |";
    }
    out(head);
    out(rule);
    for (size_t r = 0; r < a["rows"].size(); ++r) {
      std::string line = "| " + a["rows"][r].get<std::string>() + " |";
      for (const json &cell : a["cells"][r]) {
        if (cell.is_null()) {
          line += " n/a |";
          continue;
        }
        for (const json &v : report["variants"])
          if (v["name"] == cell) {
            std::string decision =
                v.contains("verdict") ? v["verdict"]["decision"].get<std::string>() : "baseline";
            line += fmt::format(" `{}` {} {} |", cell.get<std::string>(), lossCell(v), decision);
          }
      }
      out(line);
    }
  }
  out("");
  out("## Learned scalars");
  out("");
  out("| variant | scalar | init | final (mean ± std over seeds) |");
  out("| --- | --- | ---: | ---: |");
  for (const json &v : report["variants"])
    for (auto &[name, s] : v["scalars"].items())
      out(fmt::format("| `{}` | `{}` | {:.4f} | {:.4f} ± {:.4f} |", v["name"].get<std::string>(),
                      name, s["init"].get<double>(), s["final_mean"].get<double>(),
                      s["final_std"].get<double>()));
  out("");
  out("## Gradient flow");
  out("");
  out(fmt::format("Per parameter, the largest RMS of its gradient over the sampled steps, as a "
                  "fraction of the whole model's gradient RMS (the smallest over seeds). Below "
                  "{} it is called vanishing.",
                  report["thresholds"]["vanishing_gradient_rms_ratio"].get<double>()));
  out("");
  out("| variant | vanishing | weakest three |");
  out("| --- | --- | --- |");
  for (const json &v : report["variants"]) {
    std::vector<std::string> vanishing, weakest;
    for (const json &p : v["vanishing_gradients"])
      vanishing.push_back("`" + p["parameter"].get<std::string>() + "`");
    for (size_t i = 0; i < v["weakest_gradients"].size() && i < 3; ++i)
      weakest.push_back(fmt::format("`{}` {:.2e}",
                                    v["weakest_gradients"][i]["parameter"].get<std::string>(),
                                    v["weakest_gradients"][i]["max_rms_ratio"].get<double>()));
    out(fmt::format("| `{}` | {} | {} |", v["name"].get<std::string>(),
                    vanishing.empty() ? "none" : fmt::format("{}", fmt::join(vanishing, ", ")),
                    fmt::join(weakest, ", ")));
  }
  if (report.contains("sweep")) {
    const json &s = report["sweep"];
    out("");
    out("## Learned width against fixed ratios");
    out("");
    out(fmt::format("`{}` with `{}` = ratio x `{}`:", s["variant"].get<std::string>(),
                    s["define"].get<std::string>(), s["of"].get<std::string>()));
    out("");
    out("| ratio | variant | parameters | val loss |");
    out("| ---: | --- | ---: | ---: |");
    for (const json &p : s["points"])
      out(fmt::format("| {:.3f} | `{}` | {} | {} |", p["ratio"].get<double>(),
                      p["variant"].get<std::string>(), p["parameters"].get<int64_t>(),
                      number(p["val_loss"])));
    out("");
    out(fmt::format("Best fixed ratio: {} (val loss {}).", number(s["best_ratio"], "{:.3f}"),
                    number(s["best_val_loss"])));
    for (const json &l : s["learned"]) {
      std::vector<std::string> layers;
      for (auto &[k, x] : l["per_layer"].items())
        layers.push_back(fmt::format("`{}` {:.3f}", k, x.get<double>()));
      out(fmt::format("- `{}` learned a mean ratio of {:.3f} (val loss {}): {}",
                      l["variant"].get<std::string>(), l["mean_ratio"].get<double>(),
                      number(l["val_loss"]), fmt::join(layers, ", ")));
    }
  }
  std::vector<std::string> failures;
  for (const json &v : report["variants"]) {
    if (v.contains("compile_error"))
      failures.push_back(fmt::format("- `{}` did not compile: {}", v["name"].get<std::string>(),
                                     v["compile_error"].get<std::string>()));
    for (const json &r : v["runs"])
      if (r["status"] != "done")
        failures.push_back(
            fmt::format("- `{}` seed {}: {}{}", v["name"].get<std::string>(),
                        r["seed"].get<uint64_t>(), r["status"].get<std::string>(),
                        r.contains("error") ? ": " + r["error"].get<std::string>() : ""));
  }
  if (!failures.empty()) {
    out("");
    out("## Runs that did not finish");
    out("");
    for (const auto &f : failures)
      out(f);
  }
  out("");
  out("## Plots");
  out("");
  out("![validation loss](loss.png)\n\n![loss curves](curves.png)\n\n![learned "
      "scalars](scalars.png)");
  if (report.contains("sweep"))
    out("\n![learned width against fixed ratios](width.png)");
  return md;
}

} // namespace ra::study
