//===- StudyTest.cpp - study files, the statistics, the verdicts ----------===//
//
// The study file's checks (each error names the key and its line), Student's
// t against tabulated quantiles, the paired and Welch intervals by hand, and
// the decision rule on constructed results: KEEP, REMOVE (alphas switched
// off; worse beyond noise), INVESTIGATE (inside the noise).
//
//===----------------------------------------------------------------------===//
#include "study/StudyFile.h"
#include "study/StudyReport.h"
#include "study/StudyStatistics.h"

#include <catch2/catch.hpp>

using namespace ra::study;

namespace {

const char *kMinimal = R"(name = "s"
baseline = "a"
seeds = [0, 1]
steps = 10
defines = { d_model = 64, use_ra = true }

[[variant]]
name = "a"
model = "m.graph"

[[variant]]
name = "b"
model = "/abs/n.graph"
defines = { d_model = 32, band = 2.5 }
ablation = ["MLA", "mechanism 1"]
)";

std::string parseError(const std::string &text) {
  Study s;
  return parseStudy(text, "dir/s.toml", s);
}

} // namespace

TEST_CASE("a study file is read with its defaults and paths", "[study]") {
  Study s;
  REQUIRE(parseStudy(kMinimal, "dir/s.toml", s) == "");
  CHECK(s.name == "s");
  CHECK(s.seeds == std::vector<uint64_t>{0, 1});
  CHECK(s.steps == 10);
  CHECK(s.data == "/usr/share/games/fortunes");
  REQUIRE(s.variants.size() == 2);
  CHECK(s.variants[0].model == "dir/m.graph");
  CHECK(s.variants[1].model == "/abs/n.graph");
  CHECK(s.variants[0].defines == Defines{{"d_model", "64"}, {"use_ra", "1"}});
  CHECK(s.variants[1].defines == Defines{{"band", "2.5"}, {"d_model", "32"}, {"use_ra", "1"}});
  CHECK(s.variants[1].against == "a");
  CHECK(s.variants[0].against == "");
  CHECK(s.variants[1].row == "MLA");
  CHECK(s.variants[1].mechanism == "b");
}

TEST_CASE("a study file's errors name the key and its line", "[study]") {
  std::string base = kMinimal;
  // Top-level keys go first: after [[variant]] they would be the variant's.
  auto top = [&](const std::string &line) { return line + "\n" + base; };
  CHECK(parseError(top("stepz = 3")).find("dir/s.toml:1:1: unknown key 'stepz'") == 0);
  CHECK(parseError(base + "stepz = 3\n")
            .find("dir/s.toml:16:1: unknown key 'stepz' in "
                  "[[variant]]") == 0);
  CHECK(parseError(std::string(kMinimal).replace(base.find("[0, 1]"), 6, "[0, 0]"))
            .find("dir/s.toml:3:13: seed 0 is listed twice") == 0);
  CHECK(parseError("name = \"s\"\n").find("dir/s.toml:1:1: the study needs a 'baseline'") == 0);
  CHECK(parseError(std::string(kMinimal).replace(base.find("steps = 10"), 10, "steps = -1"))
            .find("dir/s.toml:4:9: 'steps' = -1: it must be at least 1") == 0);
  CHECK(parseError(std::string(kMinimal).replace(base.find("\"a\"\nseeds"), 3, "\"zz\""))
            .find("the baseline 'zz' is not a variant's name") != std::string::npos);
  CHECK(parseError(top("tokens = 100")).find("not both") != std::string::npos);
  CHECK(parseError(base + "[[variant]]\nname = \"a\"\nmodel = \"x\"\n")
            .find("dir/s.toml:17:8: a second variant named 'a'") == 0);
  CHECK(parseError(base + "[[variant]]\nname = \"c\"\nmodel = \"x\"\nablation = [\"MLA\", "
                          "\"mechanism 1\"]\n")
            .find("already 'b'") != std::string::npos);
  CHECK(parseError(top("lr = \"fast\"")).find("'lr' takes a number, got a string") !=
        std::string::npos);
  CHECK(parseError("name = [\n").find("dir/s.toml:1:10: Error while parsing array") ==
        0); // toml++'s own error
  CHECK(parseError(base + "[sweep]\nvariant = \"a\"\ndefine = \"d_mlp\"\nratios = [0]\n")
            .find("it must be positive") != std::string::npos);
}

TEST_CASE("Student's t matches the tables", "[study]") {
  CHECK(studentTQuantile(0.975, 1) == Approx(12.7062).epsilon(1e-5));
  CHECK(studentTQuantile(0.975, 2) == Approx(4.30265).epsilon(1e-5));
  CHECK(studentTQuantile(0.975, 10) == Approx(2.22814).epsilon(1e-5));
  CHECK(studentTQuantile(0.975, 1e6) == Approx(1.95996).epsilon(1e-4));
  CHECK(studentTQuantile(0.025, 5) == Approx(-2.57058).epsilon(1e-5));
  CHECK(studentTCdf(0, 3) == Approx(0.5));
}

TEST_CASE("paired and Welch intervals by hand", "[study]") {
  // Differences 0.19, 0.2, 0.21: mean 0.2, sd 0.01, t(0.975, 2) = 4.30265.
  auto d = pairedDifference({1.19, 1.2, 1.21}, {1.0, 1.0, 1.0});
  REQUIRE(d);
  CHECK(d->estimate == Approx(0.2));
  CHECK(d->high - d->estimate == Approx(4.30265 * 0.01 / std::sqrt(3.0)).epsilon(1e-5));
  CHECK(d->significant());
  CHECK_FALSE(pairedDifference({1.0}, {2.0}));
  // Welch: var 0.01 each over 3: se = sqrt(2 * 0.01 / 3), df = 4.
  auto w = welchDifference({1.1, 1.2, 1.3}, {1.0, 1.1, 1.2});
  REQUIRE(w);
  CHECK(w->df == Approx(4));
  CHECK(w->high - w->estimate == Approx(2.77645 * std::sqrt(0.02 / 3)).epsilon(1e-5));
  CHECK_FALSE(w->significant());
}

namespace {

VariantResult result(const std::string &name, const std::string &against,
                     std::vector<double> losses, int64_t parameters) {
  VariantResult v;
  v.variant.name = name;
  v.variant.mechanism = name;
  v.variant.against = against;
  v.parameters = parameters;
  v.params["w"] = {parameters, false, 0, ""};
  for (size_t i = 0; i < losses.size(); ++i) {
    RunResult r;
    r.seed = i;
    r.status = "done";
    r.valLoss = losses[i];
    v.runs.push_back(r);
  }
  return v;
}

std::string decision(const nlohmann::ordered_json &report, const std::string &name) {
  for (const auto &v : report["variants"])
    if (v["name"] == name)
      return v["verdict"]["decision"];
  return "";
}

} // namespace

TEST_CASE("the decision rule", "[study]") {
  Study study;
  study.name = "s";
  study.baseline = "base";
  study.seeds = {0, 1, 2};
  std::vector<VariantResult> all = {
      result("base", "", {3.00, 3.10, 3.05}, 1000),
      result("better", "base", {2.90, 3.01, 2.95}, 1001), // -0.097 +- small: KEEP
      result("noise", "base", {3.02, 3.07, 3.06}, 1001),  // mixed signs: INVESTIGATE
      result("worse", "base", {3.10, 3.21, 3.14}, 1001),  // REMOVE
      result("off", "base", {2.90, 3.01, 2.95}, 1001),    // better, but alpha -> 0: REMOVE
  };
  all[4].params["alpha"] = {1, true, 0.5, "m"};
  for (auto &r : all[4].runs)
    r.scalars["alpha"] = 0.01;
  // Vanishing gradient keeps "better" from KEEP: only when it is its own.
  auto report = buildReport(study, all, 10, 32);
  CHECK(decision(report, "better") == "KEEP");
  CHECK(decision(report, "noise") == "INVESTIGATE");
  CHECK(decision(report, "worse") == "REMOVE");
  CHECK(decision(report, "off") == "REMOVE");
  CHECK(renderMarkdown(report).find("| off | `off` | **REMOVE** | its alphas went to about 0") !=
        std::string::npos);

  all[1].params["gate"] = {4, false, 0, "m"};
  for (auto &r : all[1].runs) {
    r.gradientSamples = 3;
    r.gradientRatio["gate"] = 1e-7;
  }
  report = buildReport(study, all, 10, 32);
  CHECK(decision(report, "better") == "INVESTIGATE");
  CHECK(report["variants"][1]["vanishing_gradients"][0]["parameter"] == "gate");
}
