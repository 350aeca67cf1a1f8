//===- StudyFile.cpp - reading and checking a study file ------------------===//
#include "StudyFile.h"

#include "runtime/Data.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace ra::study {

namespace {

/// Thrown with a located message; caught once, in parseStudy.
struct StudyError {
  std::string message;
};

class Reader {
public:
  explicit Reader(std::string path) : path(std::move(path)) {}

  [[noreturn]] void fail(const toml::source_region &at, const std::string &message) const {
    throw StudyError{fmt::format("{}:{}:{}: {}", path, at.begin.line, at.begin.column, message)};
  }

  /// Every key of `table` must be one of `known`.
  void onlyKeys(const toml::table &table, const std::string &where,
                std::initializer_list<const char *> known) const {
    for (auto &&[key, value] : table) {
      bool ok =
          std::any_of(known.begin(), known.end(), [&](const char *k) { return key.str() == k; });
      if (!ok) {
        std::string list;
        for (const char *k : known)
          list += std::string(list.empty() ? "" : ", ") + k;
        fail(key.source(), fmt::format("unknown key '{}'{} (known: {})", key.str(), where, list));
      }
    }
  }

  std::string string(const toml::node &n, const std::string &key) const {
    if (auto v = n.value<std::string>(); v && n.is_string()) {
      if (v->empty())
        fail(n.source(), fmt::format("'{}' is empty", key));
      return *v;
    }
    fail(n.source(), fmt::format("'{}' takes a string, got {}", key, typeName(n)));
  }

  int64_t integer(const toml::node &n, const std::string &key, int64_t min) const {
    if (!n.is_integer())
      fail(n.source(), fmt::format("'{}' takes an integer, got {}", key, typeName(n)));
    int64_t v = *n.value<int64_t>();
    if (v < min)
      fail(n.source(), fmt::format("'{}' = {}: it must be at least {}", key, v, min));
    return v;
  }

  double number(const toml::node &n, const std::string &key) const {
    if (!n.is_number())
      fail(n.source(), fmt::format("'{}' takes a number, got {}", key, typeName(n)));
    double v = *n.value<double>();
    if (!std::isfinite(v))
      fail(n.source(), fmt::format("'{}' must be finite", key));
    return v;
  }

  bool boolean(const toml::node &n, const std::string &key) const {
    if (!n.is_boolean())
      fail(n.source(), fmt::format("'{}' takes true or false, got {}", key, typeName(n)));
    return *n.value<bool>();
  }

  const toml::array &array(const toml::node &n, const std::string &key) const {
    if (!n.is_array() || n.as_array()->empty())
      fail(n.source(), fmt::format("'{}' takes a non-empty array", key));
    return *n.as_array();
  }

  /// `{ name = value, ... }`: integers, numbers or booleans.
  Defines defines(const toml::node &n) const {
    if (!n.is_table())
      fail(n.source(), "'defines' takes a table of config values ({ d_model = 64, ... })");
    Defines out;
    for (auto &&[key, value] : *n.as_table()) {
      std::string name(key.str());
      bool ident = !name.empty() && !std::isdigit((unsigned char)name[0]) &&
                   std::all_of(name.begin(), name.end(),
                               [](char c) { return std::isalnum((unsigned char)c) || c == '_'; });
      if (!ident)
        fail(key.source(), fmt::format("'{}' is not a config name", name));
      if (value.is_boolean())
        out.emplace_back(name, *value.value<bool>() ? "1" : "0");
      else
        out.emplace_back(name, defineValue(number(value, "defines." + name)));
    }
    return out;
  }

  static std::string typeName(const toml::node &n) {
    switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
    }
  }

private:
  std::string path;
};

/// `base` with `over` on top, sorted by name.
Defines merged(const Defines &base, const Defines &over) {
  std::map<std::string, std::string> all(base.begin(), base.end());
  for (const auto &[k, v] : over)
    all[k] = v;
  return Defines(all.begin(), all.end());
}

std::string resolve(const std::string &dir, const std::string &path) {
  return path.empty() || path[0] == '/' || dir.empty() ? path : dir + "/" + path;
}

void readVariant(const Reader &r, const toml::node &node, const Defines &common,
                 const std::string &dir, Study &study) {
  if (!node.is_table())
    r.fail(node.source(), "each [[variant]] is a table");
  const toml::table &t = *node.as_table();
  r.onlyKeys(t, " in [[variant]]",
             {"name", "model", "defines", "mechanism", "against", "ablation", "lr"});
  Variant v;
  v.line = int(t.source().begin.line);
  if (!t.contains("name"))
    r.fail(t.source(), "a [[variant]] needs a 'name'");
  if (!t.contains("model"))
    r.fail(t.source(), "a [[variant]] needs a 'model' (a .graph file)");
  v.name = r.string(*t.get("name"), "name");
  if (v.name.find_first_of("/\\ \t\n") != std::string::npos)
    r.fail(
        t.get("name")->source(),
        fmt::format("variant name '{}': names the run directories, so no '/' or spaces", v.name));
  if (study.variant(v.name))
    r.fail(t.get("name")->source(), fmt::format("a second variant named '{}'", v.name));
  v.model = resolve(dir, r.string(*t.get("model"), "model"));
  v.defines = merged(common, t.contains("defines") ? r.defines(*t.get("defines")) : Defines{});
  v.mechanism = t.contains("mechanism") ? r.string(*t.get("mechanism"), "mechanism") : v.name;
  if (t.contains("against"))
    v.against = r.string(*t.get("against"), "against");
  if (t.contains("lr")) {
    v.lr = r.number(*t.get("lr"), "lr");
    if (*v.lr <= 0)
      r.fail(t.get("lr")->source(), fmt::format("'lr' = {}: it must be positive", *v.lr));
  }
  if (t.contains("ablation")) {
    const toml::array &cell = r.array(*t.get("ablation"), "ablation");
    if (cell.size() != 2)
      r.fail(t.get("ablation")->source(),
             "'ablation' takes [row, column], e.g. [\"MLA\", \"mechanism 1\"]");
    v.row = r.string(*cell.get(0), "ablation");
    v.column = r.string(*cell.get(1), "ablation");
  }
  study.variants.push_back(std::move(v));
}

void readSweep(const Reader &r, const toml::node &node, Study &study) {
  if (!node.is_table())
    r.fail(node.source(), "'sweep' is a table ([sweep])");
  const toml::table &t = *node.as_table();
  r.onlyKeys(t, " in [sweep]", {"variant", "define", "of", "ratios"});
  for (const char *k : {"variant", "define", "ratios"})
    if (!t.contains(k))
      r.fail(t.source(), fmt::format("[sweep] needs '{}'", k));
  Sweep s;
  s.variant = r.string(*t.get("variant"), "sweep.variant");
  s.define = r.string(*t.get("define"), "sweep.define");
  s.of = t.contains("of") ? r.string(*t.get("of"), "sweep.of") : "d_model";
  for (const toml::node &x : r.array(*t.get("ratios"), "sweep.ratios")) {
    double ratio = r.number(x, "sweep.ratios");
    if (ratio <= 0)
      r.fail(x.source(), fmt::format("sweep ratio {}: it must be positive", ratio));
    s.ratios.push_back(ratio);
  }
  study.sweep = std::move(s);
}

void readStudyTable(const Reader &r, const toml::table &root, Study &study) {
  r.onlyKeys(root, "",
             {"name", "baseline", "seeds", "data", "steps", "tokens", "lr", "warmup", "eval_every",
              "eval_batches", "grad_norms_every", "ckpt_every", "scaling_reference", "defines",
              "variant", "sweep"});
  auto get = [&](const char *key) { return root.get(key); };
  if (!get("name"))
    r.fail(root.source(), "the study needs a 'name'");
  study.name = r.string(*get("name"), "name");
  if (!get("baseline"))
    r.fail(root.source(), "the study needs a 'baseline' (the name of a variant)");
  if (!get("seeds"))
    r.fail(root.source(), "the study needs 'seeds' (e.g. [0, 1, 2])");
  std::set<uint64_t> seen;
  for (const toml::node &s : r.array(*get("seeds"), "seeds")) {
    uint64_t seed = uint64_t(r.integer(s, "seeds", 0));
    if (!seen.insert(seed).second)
      r.fail(s.source(), fmt::format("seed {} is listed twice", seed));
    study.seeds.push_back(seed);
  }
  if (get("steps") && get("tokens"))
    r.fail(get("tokens")->source(), "give 'steps' or 'tokens' as the budget, not both");
  if (get("steps"))
    study.steps = r.integer(*get("steps"), "steps", 1);
  else if (get("tokens"))
    study.tokens = r.integer(*get("tokens"), "tokens", 1);
  else
    r.fail(root.source(), "the study needs a training budget: 'steps' or 'tokens'");
  study.data = get("data") ? resolve(study.dir, r.string(*get("data"), "data"))
                           : "/usr/share/games/fortunes";
  if (get("lr")) {
    study.lr = r.number(*get("lr"), "lr");
    if (study.lr <= 0)
      r.fail(get("lr")->source(), fmt::format("'lr' = {}: it must be positive", study.lr));
  }
  if (get("warmup"))
    study.warmup = r.integer(*get("warmup"), "warmup", 0);
  if (get("eval_every"))
    study.evalEvery = r.integer(*get("eval_every"), "eval_every", 1);
  if (get("eval_batches"))
    study.evalBatches = r.integer(*get("eval_batches"), "eval_batches", 1);
  if (get("grad_norms_every"))
    study.gradNormsEvery = r.integer(*get("grad_norms_every"), "grad_norms_every", 1);
  if (get("ckpt_every"))
    study.ckptEvery = r.integer(*get("ckpt_every"), "ckpt_every", 1);
  if (get("scaling_reference"))
    study.scalingReference = r.boolean(*get("scaling_reference"), "scaling_reference");
  Defines common = get("defines") ? r.defines(*get("defines")) : Defines{};
  if (!get("variant"))
    r.fail(root.source(), "the study declares no [[variant]]");
  const toml::node &variants = *get("variant");
  if (!variants.is_array_of_tables())
    r.fail(variants.source(), "'variant' is an array of tables ([[variant]])");
  for (const toml::node &v : *variants.as_array())
    readVariant(r, v, common, study.dir, study);
  if (get("sweep"))
    readSweep(r, *get("sweep"), study);

  // References between variants.
  if (!study.variant(study.baseline = r.string(*get("baseline"), "baseline")))
    r.fail(get("baseline")->source(),
           fmt::format("the baseline '{}' is not a variant's name", study.baseline));
  for (auto &v : study.variants) {
    if (!v.against.empty() && !study.variant(v.against))
      throw StudyError{fmt::format("{}:{}: variant '{}': 'against' names '{}', which is not a "
                                   "variant",
                                   study.path, v.line, v.name, v.against)};
    if (v.against.empty() && v.name != study.baseline)
      v.against = study.baseline;
  }
  std::map<std::pair<std::string, std::string>, std::string> cells;
  for (const auto &v : study.variants)
    if (!v.row.empty())
      if (auto [it, fresh] = cells.emplace(std::pair{v.row, v.column}, v.name); !fresh)
        throw StudyError{fmt::format("{}:{}: variant '{}': the ablation cell [{}, {}] is "
                                     "already '{}'",
                                     study.path, v.line, v.name, v.row, v.column, it->second)};
  if (study.sweep && !study.variant(study.sweep->variant))
    r.fail(get("sweep")->source(),
           fmt::format("[sweep] variant '{}' is not a variant's name", study.sweep->variant));
}

} // namespace

const Variant *Study::variant(const std::string &n) const {
  for (const auto &v : variants)
    if (v.name == n)
      return &v;
  return nullptr;
}

std::string defineValue(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return fmt::format("{}", int64_t(value));
  return fmt::format("{}", value);
}

std::string parseStudy(const std::string &text, const std::string &path, Study &out) {
  out = Study{};
  out.path = path;
  size_t slash = path.rfind('/');
  out.dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  Reader reader(path);
  try {
    toml::table root = toml::parse(text, path);
    readStudyTable(reader, root, out);
  } catch (const toml::parse_error &e) {
    return fmt::format("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column,
                       e.description());
  } catch (const StudyError &e) {
    return e.message;
  }
  return "";
}

std::string readStudy(const std::string &path, Study &out) {
  std::string text, err;
  if (!ra::rt::readFile(path, text, err))
    return err;
  return parseStudy(text, path, out);
}

} // namespace ra::study
