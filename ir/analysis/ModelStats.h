//===- ModelStats.h - what `racc stats` reports about a model ----*- C++ -*-===//
//
// Parameters (total, per top-level group, per mechanism, unused), FLOPs per
// token from the ops' cost interface, and the inference cache per token and
// per sequence (ir/analysis/InferenceCache.h).
//
//===----------------------------------------------------------------------===//
#ifndef RA_ANALYSIS_MODELSTATS_H
#define RA_ANALYSIS_MODELSTATS_H

#include "ir/RaDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <map>
#include <string>
#include <vector>

namespace ra {

struct ParamInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t count = 0;
  std::string init;
  double initValue = 0;
  bool decay = false;
  std::string mechanism;
};

/// One tensor an autoregressive decoder keeps (ir/analysis/InferenceCache.h).
struct CacheEntry {
  std::string value;    // what is cached, e.g. `ra.matmul` at models/lib/...:12:7
  std::string role;     // keys, values, queries, running sum
  std::string kind;     // per token, query ring, running sum
  int64_t elements = 0; // per token (per token), per slot (query ring), in all (running sum)
  int64_t entries = 1;  // the ring's slots
};

struct ModelStats {
  std::string source;
  std::vector<std::pair<std::string, double>> config; // in declaration order
  std::vector<ParamInfo> params;
  int64_t totalParams = 0;
  int64_t decayParams = 0;
  std::map<std::string, int64_t> groups;     // by first name segment: wte, wpe, h, ln_f
  std::map<std::string, int64_t> mechanisms; // by the declaring function's mechanism
  std::vector<std::string> unused;           // parameters that cannot affect the loss
  int64_t tokens = 0;                        // batch * seq of the forward function
  int64_t forwardFlops = 0;
  int64_t gradFlops = 0; // forward + backward (@grad), 0 without a loss
  std::map<std::string, int64_t> forwardFlopsByOp;
  std::vector<CacheEntry> cache;         // growing with the sequence
  std::vector<CacheEntry> sequenceState; // of fixed size per sequence
  int64_t cacheElementsPerToken = 0;
  int64_t cacheElementsPerSequence = 0;
  std::vector<std::string> decodingObstacles; // empty: decoding needs only the cache
  int attentionOps = 0;
};

/// The model's entry function, `@forward`, or null.
mlir::func::FuncOp getForward(mlir::ModuleOp module);

/// Parameters no output named `loss` (or, without one, no output) depends on.
std::vector<ParamOp> findUnusedParams(mlir::ModuleOp module);

/// Everything above. Fails, with a diagnostic, when the module has no
/// `@forward` or lacks the `batch` and `seq` configs.
mlir::FailureOr<ModelStats> computeStats(mlir::ModuleOp module);

} // namespace ra

#endif // RA_ANALYSIS_MODELSTATS_H
