//===- StatsCommand.cpp - racc stats --------------------------------------===//
#include "Commands.h"
#include "Driver.h"
#include "StatsReport.h"

#include <iostream>

namespace racc {

int statsCommand(int argc, char **argv) {
  cxxopts::Options options("racc stats",
                           "Parameters, FLOPs per token and inference cache of a model");
  addModelOptions(options);
  options.add_options()("json", "Print one JSON object");
  auto args = options.parse(argc, argv);
  Session session;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  if (auto status = loadModel(args, options, session, module))
    return *status;
  if (!session.runPipeline(*module, {}, {}, /*withStats=*/true))
    return 1;
  const ra::ModelStats *stats = &session.modelStats();
  if (args.count("json"))
    std::cout << statsToJson(*stats).dump(2) << "\n";
  else
    std::cout << statsToText(*stats);
  return 0;
}

} // namespace racc
