// rarun generate's pieces without a model: the token sampler's temperature,
// top-k and top-p against their definitions, and prompt checking.
#include "generate/Prompts.h"
#include "generate/TokenSampler.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

using namespace rarun;
using Catch::Matchers::WithinAbs;

namespace {
// Probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 at temperature 1.
const std::vector<float> kLogits = {std::log(0.0625f), std::log(0.5f), std::log(0.125f),
                                    std::log(0.25f), std::log(0.0625f)};

std::map<int32_t, double> frequencies(SamplingOptions o, int draws) {
  TokenSampler sampler(o, 42);
  std::map<int32_t, double> f;
  for (int i = 0; i < draws; ++i)
    f[sampler.draw(kLogits.data(), 5)] += 1.0 / draws;
  return f;
}
} // namespace

TEST_CASE("greedy takes the most likely token, the lowest id on a tie", "[generate]") {
  TokenSampler sampler({0, 0, 1}, 1);
  CHECK(sampler.draw(kLogits.data(), 5) == 1);
  std::vector<float> tie = {1, 3, 3, 2};
  CHECK(sampler.draw(tie.data(), 4) == 1);
}

TEST_CASE("temperature 1 draws with the softmax's probabilities", "[generate]") {
  auto c = TokenSampler({1, 0, 1}, 1).candidates(kLogits.data(), 5);
  REQUIRE(c.size() == 5);
  CHECK(c[0].first == 1);
  CHECK_THAT(c[0].second, WithinAbs(0.5, 1e-6));
  CHECK_THAT(c[1].second, WithinAbs(0.25, 1e-6));
  auto f = frequencies({1, 0, 1}, 40000);
  CHECK_THAT(f[1], WithinAbs(0.5, 0.02));
  CHECK_THAT(f[3], WithinAbs(0.25, 0.02));
  CHECK_THAT(f[0] + f[4], WithinAbs(0.125, 0.02));
}

TEST_CASE("temperature sharpens and flattens", "[generate]") {
  // At T = 0.5 the weights square: 0.25 : 0.0625 for the top two.
  auto c = TokenSampler({0.5, 0, 1}, 1).candidates(kLogits.data(), 5);
  CHECK_THAT(c[0].second / c[1].second, WithinAbs(4.0, 1e-5));
  auto flat = TokenSampler({100, 0, 1}, 1).candidates(kLogits.data(), 5);
  CHECK_THAT(flat[0].second, WithinAbs(0.2, 0.01));
}

TEST_CASE("top-k keeps the k most likely, renormalized", "[generate]") {
  auto c = TokenSampler({1, 2, 1}, 1).candidates(kLogits.data(), 5);
  REQUIRE(c.size() == 2);
  CHECK(c[0].first == 1);
  CHECK(c[1].first == 3);
  CHECK_THAT(c[0].second, WithinAbs(2.0 / 3, 1e-6));
  auto f = frequencies({1, 2, 1}, 20000);
  CHECK(f.size() == 2);
}

TEST_CASE("top-p keeps the smallest set whose mass reaches p", "[generate]") {
  // 0.5 + 0.25 = 0.75 reaches 0.7; 0.5 alone does not.
  auto c = TokenSampler({1, 0, 0.7}, 1).candidates(kLogits.data(), 5);
  REQUIRE(c.size() == 2);
  CHECK_THAT(c[0].second + c[1].second, WithinAbs(1.0, 1e-9));
  // p = 0.75 is reached by exactly two; a hair more needs the third.
  CHECK(TokenSampler({1, 0, 0.75}, 1).candidates(kLogits.data(), 5).size() == 2);
  CHECK(TokenSampler({1, 0, 0.76}, 1).candidates(kLogits.data(), 5).size() == 3);
  // The most likely token survives any p; top-k applies first.
  CHECK(TokenSampler({1, 0, 0.01}, 1).candidates(kLogits.data(), 5).size() == 1);
  CHECK(TokenSampler({1, 3, 0.99}, 1).candidates(kLogits.data(), 5).size() == 3);
}

TEST_CASE("one seed, one stream of draws", "[generate]") {
  TokenSampler a({1, 0, 1}, 9), b({1, 0, 1}, 9), c({1, 0, 1}, 10);
  std::vector<int32_t> da, db, dc;
  for (int i = 0; i < 50; ++i) {
    da.push_back(a.draw(kLogits.data(), 5));
    db.push_back(b.draw(kLogits.data(), 5));
    dc.push_back(c.draw(kLogits.data(), 5));
  }
  CHECK(da == db);
  CHECK(da != dc);
}

TEST_CASE("prompts are checked before the model runs", "[generate]") {
  Prompt p{"p.txt:2", "", {}};
  CHECK(checkPrompt(p, 10, 8, "token") == "p.txt:2: the prompt is empty");
  p.ids = {1, 2, 12};
  CHECK(checkPrompt(p, 10, 8, "byte") ==
        "p.txt:2: byte 12 at position 2 is outside the vocabulary of 10");
  p.ids = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(checkPrompt(p, 10, 8, "token") ==
        "p.txt:2: the prompt is 8 tokens, and the context holds 8: at most 7 leave room for one "
        "more");
  p.ids.pop_back();
  CHECK(checkPrompt(p, 10, 8, "token").empty());

  Prompt ids{"--prompt-ids", "3,4,x", {}};
  std::string error;
  CHECK_FALSE(parsePromptIds(ids, 10, error));
  CHECK(error == "--prompt-ids: 'x' is not a token id below the vocabulary of 10");
}

TEST_CASE("a prompts file is one prompt per line", "[generate]") {
  std::string path =
      (std::filesystem::temp_directory_path() / ("racc-prompts-" + std::to_string(getpid())))
          .string();
  std::ofstream(path, std::ios::binary) << "one\r\n\ntwo words\n";
  std::vector<Prompt> prompts;
  std::string error;
  REQUIRE(readPromptLines(path, prompts, error));
  REQUIRE(prompts.size() == 3);
  CHECK(prompts[0].text == "one");
  CHECK(prompts[1].text.empty());
  CHECK(prompts[1].origin == path + ":2");
  CHECK(prompts[2].text == "two words");
  std::ofstream(path, std::ios::binary) << "";
  prompts.clear();
  CHECK_FALSE(readPromptLines(path, prompts, error));
  CHECK(error.find("holds no prompt") != std::string::npos);
  std::remove(path.c_str());
  CHECK_FALSE(readPromptLines(path, prompts, error));
  CHECK(error.find("cannot read") != std::string::npos);
}
