//===- main.cpp - racc, the compiler driver -------------------------------===//
//
//   racc compile FILE [-o OUT.rac] [-D k=v]... [--emit=mlir|mlir-raw]
//                [--print-ir-after-all] [--print-ir-after=PASS]
//                [--print-ir-before=PASS] [--dump-ir-dir DIR]
//   racc stats FILE [-D k=v]... [--json]
//   racc check FILE [-D k=v]... [--grad] [--passes] [--causal] [--json]
//   racc interpret FILE [-D k=v]... [--entry E] [--seed S] --dump DIR
//
//===----------------------------------------------------------------------===//
#include "Commands.h"
#include "Driver.h"

#include <cstring>
#include <cxxopts.hpp>
#include <iostream>

static const char *kUsage = R"(usage: racc COMMAND [options]

commands:
  compile FILE   compile a .graph model (see racc compile --help)
  stats FILE     parameters, FLOPs per token, inference cache (racc stats --help)
  check FILE     gradient, pass-equivalence and causality checks (racc check --help)
  interpret FILE run an entry point in the reference interpreter, dump .npy files
)";

int main(int argc, char **argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::cout << kUsage;
    return argc < 2 ? 1 : 0;
  }
  std::string command = argv[1];
  try {
    if (command == "compile")
      return racc::compileCommand(argc - 1, argv + 1);
    if (command == "stats")
      return racc::statsCommand(argc - 1, argv + 1);
    if (command == "check")
      return racc::checkCommand(argc - 1, argv + 1);
    if (command == "interpret")
      return racc::interpretCommand(argc - 1, argv + 1);
  } catch (const cxxopts::exceptions::exception &e) {
    return racc::fail(std::string(e.what()) + " (see racc " + command + " --help)");
  }
  return racc::fail("unknown command '" + command + "'\n" + kUsage);
}
