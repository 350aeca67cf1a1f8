//===- HuggingFace.cpp - rarun import hf / export hf -----------------------===//
//
//   rarun import hf HF_DIR --artifact ART -o CKPT.safetensors [--seed S]
//   rarun export hf CKPT --artifact ART -o HF_DIR
//
// HF_DIR is what transformers' GPT2LMHeadModel.save_pretrained writes:
// config.json and model.safetensors. Import checks the config against the
// artifact's, then fills every trainable parameter of the artifact as the
// research did: copied from its GPT-2 tensor (HfGpt2Names.h), copied in part
// where the shapes differ (the first 3,072 of golden ratio's 3,840 MLP units,
// the first ctx positions), or new (racc's initializer, drawn from --seed),
// and says which per tensor. The result is a weights-only checkpoint that
// eval, sample and train --init-from take. Export writes the reverse for
// any artifact whose every parameter is a whole GPT-2 tensor.
//
//===----------------------------------------------------------------------===//
#include "Common.h"

#include "HfGpt2Names.h"
#include "MlaSvdInit.h"
#include "runtime/AtomicFile.h"
#include "runtime/Safetensors.h"

#include <chrono>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/stat.h>

namespace rarun {

namespace {

constexpr const char *kWhatWeights = "Hugging Face weights";

/// The sizes of racc's GPT-2 blocks, from the artifact's config.
struct Gpt2Sizes {
  int64_t dModel = 0, nHead = 0, nLayer = 0, vocab = 0, ctx = 0, dMlp = 0;
};

bool artifactSizes(const ra::rt::Model &model, Gpt2Sizes &s) {
  for (auto [key, field] : {std::pair{"d_model", &s.dModel}, std::pair{"n_head", &s.nHead},
                            std::pair{"n_layer", &s.nLayer}, std::pair{"vocab", &s.vocab},
                            std::pair{"ctx", &s.ctx}, std::pair{"d_mlp", &s.dMlp}}) {
    auto v = model.config(key);
    if (!v) {
      fail(fmt::format("the artifact has no config '{}': not a model of GPT-2's blocks", key));
      return false;
    }
    *field = *v;
  }
  return true;
}

/// Reads HF_DIR/config.json and checks what racc's GPT-2 computes the same
/// way: tanh GELU, LayerNorm eps 1e-5, attention scaled by 1/sqrt(hd) only,
/// the LM head tied to wte.
bool readHfConfig(const std::string &dir, Gpt2Sizes &s) {
  std::string path = dir + "/config.json";
  std::string bytes, error;
  if (!ra::rt::readFile(path, bytes, error)) {
    fail(error);
    return false;
  }
  nlohmann::json c = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string &why) {
    fail(fmt::format("'{}': {}", path, why));
    return false;
  };
  if (c.is_discarded() || !c.is_object())
    return bad("not a JSON object");
  // Optional fields of the wrong type are errors too, never exceptions.
  std::string wrongType;
  auto text = [&](const char *key, const std::string &fallback) {
    if (!c.contains(key))
      return fallback;
    if (!c[key].is_string()) {
      wrongType = key;
      return fallback;
    }
    return c[key].get<std::string>();
  };
  auto flag = [&](const char *key, bool fallback) {
    if (!c.contains(key))
      return fallback;
    if (!c[key].is_boolean()) {
      wrongType = key;
      return fallback;
    }
    return c[key].get<bool>();
  };
  std::string modelType = text("model_type", "");
  std::string act = text("activation_function", "gelu_new");
  bool scaled = flag("scale_attn_weights", true);
  bool byLayer = flag("scale_attn_by_inverse_layer_idx", false);
  bool tied = flag("tie_word_embeddings", true);
  if (!wrongType.empty())
    return bad(fmt::format("'{}' is of the wrong type", wrongType));
  if (modelType != "gpt2")
    return bad(fmt::format("model_type is '{}', not gpt2", modelType));
  for (auto [key, field] : {std::pair{"n_embd", &s.dModel}, std::pair{"n_head", &s.nHead},
                            std::pair{"n_layer", &s.nLayer}, std::pair{"vocab_size", &s.vocab},
                            std::pair{"n_positions", &s.ctx}}) {
    if (!c.contains(key) || !c[key].is_number_integer() || c[key].get<int64_t>() <= 0)
      return bad(fmt::format("'{}' is missing or not a positive integer", key));
    *field = c[key].get<int64_t>();
  }
  s.dMlp = 4 * s.dModel;
  if (c.contains("n_inner") && !c["n_inner"].is_null()) {
    if (!c["n_inner"].is_number_integer() || c["n_inner"].get<int64_t>() <= 0)
      return bad("'n_inner' is not a positive integer or null");
    s.dMlp = c["n_inner"].get<int64_t>();
  }
  if (act != "gelu_new" && act != "gelu_pytorch_tanh")
    return bad(fmt::format("activation_function '{}': racc's GPT-2 uses the tanh GELU "
                           "(gelu_new)",
                           act));
  if (c.contains("layer_norm_epsilon") &&
      (!c["layer_norm_epsilon"].is_number() || c["layer_norm_epsilon"].get<double>() != 1e-5))
    return bad("layer_norm_epsilon is not 1e-5, racc's LayerNorm's");
  if (!scaled || byLayer)
    return bad("the attention is scaled otherwise than by 1/sqrt(head dim)");
  if (!tied)
    return bad("tie_word_embeddings is false: racc's LM head is wte");
  return true;
}

std::string shapeText(const std::vector<int64_t> &s) { return nlohmann::json(s).dump(); }

/// Copies the overlap of `src` (shape `from`) into `dst` (shape `to`), both
/// row-major of one rank (1 or 2), from the leading corner.
void copyOverlap(const float *src, const std::vector<int64_t> &from, float *dst,
                 const std::vector<int64_t> &to) {
  int64_t rows = from.size() == 2 ? std::min(from[0], to[0]) : 1;
  int64_t cols = std::min(from.back(), to.back());
  int64_t srcStride = from.back(), dstStride = to.back();
  for (int64_t r = 0; r < rows; ++r)
    std::copy_n(src + r * srcStride, cols, dst + r * dstStride);
}

/// "the first 256 of 1024 rows": how a partial copy covers the parameter.
std::string partDescription(const std::vector<int64_t> &from, const std::vector<int64_t> &to) {
  std::vector<std::string> parts;
  const char *axes[2][2] = {{"units", "units"}, {"rows", "columns"}};
  for (size_t a = 0; a < to.size(); ++a) {
    const char *axis = axes[to.size() - 1][a];
    if (from[a] < to[a])
      parts.push_back(fmt::format("the first {} of {} {} (the rest new)", from[a], to[a], axis));
    else if (from[a] > to[a])
      parts.push_back(fmt::format("the first {} of the pretrained {} {}", to[a], from[a], axis));
  }
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i)
    s += (i ? "; " : "") + parts[i];
  return s;
}

} // namespace

int importCommand(int argc, char **argv) {
  cxxopts::Options options("rarun import", "Hugging Face GPT-2 weights into a racc checkpoint");
  options.positional_help("hf HF_DIR");
  options.add_options()("h,help", "Show this help")("kind", "hf", cxxopts::value<std::string>())(
      "dir", "HF_DIR: config.json and model.safetensors", cxxopts::value<std::string>())(
      "artifact", "The compiled model to fill", cxxopts::value<std::string>())(
      "o,out", "The checkpoint to write (weights only)", cxxopts::value<std::string>())(
      "mla-init",
      "MLA's latent projections: random (racc's initializer) or svd (the truncated SVD of "
      "GPT-2's key and value projections)",
      cxxopts::value<std::string>()->default_value("random"));
  ra::tools::NumericOptions numbers(options);
  numbers.seed("seed", "Seed of racc's initializer for the parameters GPT-2 does not have");
  options.parse_positional({"kind", "dir"});
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    fmt::print("{}\n", options.help());
    return 0;
  }
  numbers.enforce(args);
  if (!args.count("kind") || args["kind"].as<std::string>() != "hf")
    return fail("rarun import reads Hugging Face checkpoints: rarun import hf HF_DIR --artifact "
                "ART -o CKPT");
  if (!args.count("dir") || !args.count("artifact") || !args.count("out"))
    return fail("rarun import hf needs HF_DIR, --artifact ART and -o CKPT");
  auto start = std::chrono::steady_clock::now();
  std::string dir = args["dir"].as<std::string>(), artifact = args["artifact"].as<std::string>();
  std::string mlaInit = args["mla-init"].as<std::string>();
  if (mlaInit != "random" && mlaInit != "svd")
    return fail(fmt::format("--mla-init {}: random or svd", mlaInit));

  Gpt2Sizes hf, racc;
  if (!readHfConfig(dir, hf))
    return 1;
  auto model = loadModel(artifact);
  if (!model || !artifactSizes(*model, racc))
    return 1;
  if (hf.dModel != racc.dModel || hf.nHead != racc.nHead)
    return fail(fmt::format("'{}/config.json' has n_embd {} and n_head {}; the artifact has "
                            "d_model {} and n_head {}: the weights cannot map",
                            dir, hf.dModel, hf.nHead, racc.dModel, racc.nHead));

  ra::rt::SafetensorsFile weights;
  if (std::string err = weights.open(dir + "/model.safetensors", kWhatWeights); !err.empty())
    return fail(err);
  // save_pretrained names a GPT2LMHeadModel's tensors "transformer.X", a
  // GPT2Model's "X"; either is read.
  auto findTensor = [&](const std::string &name) {
    const ra::rt::SafetensorsEntry *e = weights.find("transformer." + name);
    return e ? e : weights.find(name);
  };
  if (const auto *head = weights.find("lm_head.weight")) {
    // Tied: the head must be wte itself.
    const auto *wte = findTensor("wte.weight");
    std::vector<float> a(head->elements()), b(wte ? wte->elements() : 0);
    if (!wte || head->shape != wte->shape || !weights.read(*head, a.data()).empty() ||
        !weights.read(*wte, b.data()).empty() || a != b)
      return fail(fmt::format("{} holds an lm_head.weight that is not wte.weight: racc's LM "
                              "head is tied to wte",
                              weights.named()));
  }

  // Only what is not copied whole needs racc's initializer (at 124M, drawing
  // every parameter would be most of the import's time).
  uint64_t seed = args["seed"].as<uint64_t>();
  float *params = model->mutableParameters();
  std::set<std::string> used;
  struct Row {
    std::string name, shape, what;
  };
  std::vector<Row> report;
  int copied = 0, partial = 0, fresh = 0;
  int64_t copiedElements = 0, total = 0;
  for (const ra::rt::ParamInfo &p : model->params()) {
    if (!p.trainable)
      continue;
    total += p.elements();
    auto place = hfPlaceOf(p.name);
    const ra::rt::SafetensorsEntry *e = place ? findTensor(place->tensor) : nullptr;
    std::string initializer =
        fmt::format("new ({})", p.init == "normal" || p.init == "const"
                                    ? fmt::format("{}({:g})", p.init, p.initValue)
                                    : p.init);
    if (!e || e->shape != p.shape || !place->whole())
      model->initialize(p, seed);
    if (!e) {
      report.push_back(
          {p.name, shapeText(p.shape),
           place ? fmt::format("{}: the pretrained model has no {}", initializer, place->tensor)
                 : initializer});
      ++fresh;
      continue;
    }
    used.insert(e->name);
    std::vector<float> src(e->elements());
    if (std::string err = weights.read(*e, src.data()); !err.empty())
      return fail(err);
    // The block of the tensor's last axis that is this parameter.
    std::vector<int64_t> from = e->shape;
    if (from.empty() || from.size() > 2 || from.size() != p.shape.size()) {
      report.push_back({p.name, shapeText(p.shape),
                        fmt::format("{}: {} has shape {}, of another rank", initializer, e->name,
                                    shapeText(e->shape))});
      ++fresh;
      continue;
    }
    int64_t last = from.back(), begin = 0;
    if (!place->whole()) {
      begin = place->begin * racc.dModel;
      int64_t end = place->end * racc.dModel;
      if (end > last)
        return fail(fmt::format("{}: tensor '{}' has {} columns, fewer than GPT-2's",
                                weights.named(), e->name, last));
      std::vector<float> block;
      int64_t rows = from.size() == 2 ? from[0] : 1;
      for (int64_t r = 0; r < rows; ++r)
        block.insert(block.end(), src.begin() + r * last + begin, src.begin() + r * last + end);
      src = std::move(block);
      from.back() = end - begin;
    }
    copyOverlap(src.data(), from, params + p.offset, p.shape);
    std::string source = place->whole()
                             ? e->name
                             : fmt::format("{} columns {}:{}", e->name, begin, begin + from.back());
    int64_t overlap =
        std::min(from[0], p.shape[0]) * (from.size() == 2 ? std::min(from[1], p.shape[1]) : 1);
    copiedElements += overlap;
    if (from == p.shape) {
      report.push_back({p.name, shapeText(p.shape), "copied from " + source});
      ++copied;
    } else {
      report.push_back(
          {p.name, shapeText(p.shape),
           fmt::format("copied in part from {}: {}", source, partDescription(from, p.shape))});
      ++partial;
    }
  }

  int derived = 0;
  if (mlaInit == "svd") {
    std::map<std::string, size_t> rowOf;
    for (size_t i = 0; i < report.size(); ++i)
      rowOf[report[i].name] = i;
    bool any = false;
    for (int64_t l = 0; l < racc.nLayer; ++l) {
      std::string at = fmt::format("h.{}.attn.", l);
      const ra::rt::ParamInfo *kd = model->param(at + "w_kd"), *ql = model->param(at + "w_ql"),
                              *vd = model->param(at + "w_vd"), *vu = model->param(at + "w_vu"),
                              *bo = model->param(at + "b_o");
      if (!kd)
        continue;
      any = true;
      const auto *cAttn = findTensor(at + "c_attn.weight");
      if (!cAttn) // a layer beyond the pretrained model's: its latents stay new
        continue;
      int64_t d = racc.dModel, r = kd->shape.back();
      if (!ql || !vd || !vu || kd->shape != std::vector<int64_t>{d, r} || vd->shape != kd->shape ||
          vu->shape != std::vector<int64_t>{r, d} ||
          ql->shape != std::vector<int64_t>{racc.nHead, d / racc.nHead, r} ||
          cAttn->shape != std::vector<int64_t>{d, 3 * d})
        return fail(fmt::format("--mla-init svd: layer {} is not MLA as models.md defines it "
                                "(w_kd [D, R], w_ql [H, hd, R], w_vd [D, R], w_vu [R, D])",
                                l));
      std::vector<float> qkv(cAttn->elements()), wK(d * d), wV(d * d);
      if (std::string err = weights.read(*cAttn, qkv.data()); !err.empty())
        return fail(err);
      for (int64_t i = 0; i < d; ++i) {
        std::copy_n(qkv.data() + i * 3 * d + d, d, wK.data() + i * d);
        std::copy_n(qkv.data() + i * 3 * d + 2 * d, d, wV.data() + i * d);
      }
      MlaLatents latents;
      if (std::string err = mlaLatentsFromSvd(wK, wV, d, racc.nHead, r, latents); !err.empty())
        return fail(err);
      for (auto [p, values] : {std::pair{kd, &latents.wKd}, std::pair{ql, &latents.wQl},
                               std::pair{vd, &latents.wVd}, std::pair{vu, &latents.wVu}}) {
        std::copy(values->begin(), values->end(), params + p->offset);
        bool key = p == kd || p == ql;
        report[rowOf[p->name]].what =
            fmt::format("from the rank-{} SVD of {} columns {}:{} ({:.1f}% of its squared norm)", r,
                        cAttn->name, key ? d : 2 * d, key ? 2 * d : 3 * d,
                        100 * (key ? latents.keyEnergy : latents.valueEnergy));
        --fresh;
        ++derived;
        copiedElements += p->elements();
      }
      // The value bias reaches the output as b_v W_o (softmax weights sum to
      // one), so it folds into b_o exactly; the key bias adds the same to
      // every score of a query, which softmax ignores.
      const auto *cBias = findTensor(at + "c_attn.bias"), *cProj = findTensor(at + "c_proj.weight");
      if (bo && cBias && cProj && cBias->elements() == uint64_t(3 * d) &&
          cProj->shape == std::vector<int64_t>{d, d}) {
        std::vector<float> bias(3 * d), wO(d * d);
        if (std::string err = weights.read(*cBias, bias.data()); !err.empty())
          return fail(err);
        if (std::string err = weights.read(*cProj, wO.data()); !err.empty())
          return fail(err);
        for (int64_t j = 0; j < d; ++j) {
          double sum = 0;
          for (int64_t i = 0; i < d; ++i)
            sum += double(bias[2 * d + i]) * wO[i * d + j];
          params[bo->offset + j] += float(sum);
        }
        report[rowOf[bo->name]].what += " + the value bias through c_proj";
      }
    }
    if (!any)
      return fail("--mla-init svd: the artifact has no MLA latents (h.N.attn.w_kd)");
  }

  ra::rt::CheckpointMeta meta;
  meta.extra["source"] = model->manifest().value("source", "");
  meta.extra["import.from"] = dir;
  meta.extra["import.mla_init"] = mlaInit;
  meta.extra["run.artifact"] = artifact;
  if (racc.vocab >= 50257)
    meta.extra["run.tokenizer"] = "gpt2"; // GPT-2's ids: sample prints GPT-2 text
  std::string out = args["out"].as<std::string>();
  if (std::string err = writeCheckpoint(out, *model, meta, ra::rt::CheckpointContents::Weights);
      !err.empty())
    return fail(err);

  size_t nameWidth = 24;
  for (const Row &r : report)
    nameWidth = std::max(nameWidth, r.name.size());
  for (const Row &r : report)
    fmt::print("{:<{}} {:<14} {}\n", r.name, nameWidth, r.shape, r.what);
  std::vector<std::string> unused;
  for (const ra::rt::SafetensorsEntry &e : weights.entries())
    if (!used.count(e.name) && e.name != "lm_head.weight" &&
        e.name.find(".attn.bias") == std::string::npos &&
        e.name.find(".attn.masked_bias") == std::string::npos) // causal masks, not weights
      unused.push_back(e.name);
  if (!unused.empty())
    fmt::print("not used: {} pretrained tensors ({}{})\n", unused.size(), unused[0],
               unused.size() > 1 ? ", ..." : "");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("rarun: {} parameters: {} copied, {} copied in part, {}{} new ({:.1f}% of {} values "
             "from {}); wrote {} in {:.1f} s\n",
             copied + partial + fresh + derived, copied, partial,
             derived ? fmt::format("{} from the SVD, ", derived) : "", fresh,
             100.0 * double(copiedElements) / double(std::max<int64_t>(total, 1)), total, dir, out,
             seconds);
  return 0;
}

int exportCommand(int argc, char **argv) {
  cxxopts::Options options("rarun export", "A racc checkpoint as a Hugging Face GPT-2");
  options.positional_help("hf CKPT");
  options.add_options()("h,help", "Show this help")("kind", "hf", cxxopts::value<std::string>())(
      "ckpt", "The checkpoint (weights-only or full)", cxxopts::value<std::string>())(
      "artifact", "The compiled model the checkpoint belongs to", cxxopts::value<std::string>())(
      "o,out", "HF_DIR for config.json and model.safetensors", cxxopts::value<std::string>());
  options.parse_positional({"kind", "ckpt"});
  auto args = options.parse(argc, argv);
  if (args.count("help")) {
    fmt::print("{}\n", options.help());
    return 0;
  }
  if (!args.count("kind") || args["kind"].as<std::string>() != "hf")
    return fail("rarun export writes Hugging Face checkpoints: rarun export hf CKPT --artifact "
                "ART -o HF_DIR");
  if (!args.count("ckpt") || !args.count("artifact") || !args.count("out"))
    return fail("rarun export hf needs CKPT, --artifact ART and -o HF_DIR");
  BatchShape shape;
  ra::rt::CheckpointMeta meta;
  auto model = loadCheckpointed(args["artifact"].as<std::string>(), Device{},
                                args["ckpt"].as<std::string>(), shape, meta);
  Gpt2Sizes s;
  if (!model || !artifactSizes(*model, s))
    return 1;

  // Every trainable parameter must be a whole GPT-2 tensor, and together
  // they must be all of GPT-2's.
  const float *params = model->parameters();
  std::vector<ra::rt::SafetensorsTensor> tensors;
  std::vector<std::string> homeless;
  std::set<std::string> names;
  for (const ra::rt::ParamInfo &p : model->params()) {
    if (!p.trainable)
      continue;
    auto place = hfPlaceOf(p.name);
    if (!place || !place->whole()) {
      homeless.push_back(p.name);
      continue;
    }
    tensors.push_back({"transformer." + place->tensor, p.shape, params + p.offset});
    names.insert(place->tensor);
  }
  if (!homeless.empty())
    return fail(fmt::format("{} of the artifact's parameters have no place in GPT2LMHeadModel "
                            "('{}' first): only GPT-2's own weights export",
                            homeless.size(), homeless[0]));
  for (const std::string &needed : {std::string("wte.weight"), std::string("wpe.weight"),
                                    std::string("ln_f.weight"), std::string("ln_f.bias")})
    if (!names.count(needed))
      return fail(fmt::format("the artifact has no parameter for GPT-2's {}", needed));
  for (int64_t l = 0; l < s.nLayer; ++l)
    for (const char *t :
         {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
          "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight",
          "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"})
      if (!names.count(fmt::format("h.{}.{}", l, t)))
        return fail(fmt::format("the artifact has no parameter for GPT-2's h.{}.{}", l, t));

  std::string dir = args["out"].as<std::string>();
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return fail(fmt::format("cannot create '{}': {}", dir, std::strerror(errno)));
  if (std::string err = ra::rt::writeSafetensors(dir + "/model.safetensors", kWhatWeights, tensors,
                                                 {{"format", "pt"}});
      !err.empty())
    return fail(err);
  // GPT2Config's fields; no dropout, as racc trains.
  nlohmann::ordered_json config = {
      {"architectures", {"GPT2LMHeadModel"}},
      {"model_type", "gpt2"},
      {"vocab_size", s.vocab},
      {"n_positions", s.ctx},
      {"n_embd", s.dModel},
      {"n_layer", s.nLayer},
      {"n_head", s.nHead},
      {"n_inner",
       s.dMlp == 4 * s.dModel ? nlohmann::ordered_json() : nlohmann::ordered_json(s.dMlp)},
      {"activation_function", "gelu_new"},
      {"layer_norm_epsilon", 1e-5},
      {"resid_pdrop", 0.0},
      {"embd_pdrop", 0.0},
      {"attn_pdrop", 0.0},
      {"scale_attn_weights", true},
      {"tie_word_embeddings", true},
      {"bos_token_id", 50256},
      {"eos_token_id", 50256},
      {"torch_dtype", "float32"},
  };
  std::string text = config.dump(2) + "\n";
  if (std::string err = ra::rt::writeFileAtomically(
          dir + "/config.json", "config",
          [&](const ra::rt::WriteBytes &write) { return write(text.data(), text.size()); });
      !err.empty())
    return fail(err);
  fmt::print("rarun: wrote {} ({} tensors, GPT2LMHeadModel: {} layers, d_model {}, vocab {})\n",
             dir, tensors.size(), s.nLayer, s.dModel, s.vocab);
  return 0;
}

} // namespace rarun
