//===- main.cpp - rarun, the runtime driver -------------------------------===//
//
//   rarun train ART --data PATH --steps N --out RUNDIR [options]
//   rarun eval ART --ckpt CKPT --data PATH
//   rarun inspect CKPT
//   rarun bench ART [--vs ART2] [--json]
//   rarun generate ART --ckpt CKPT [--prompt TEXT | --prompts FILE] [--tokens N] [--no-cache]
//   rarun sample ART --ckpt CKPT [--prompt TEXT] [--tokens N]
//   rarun tokenize --tokenizer gpt2|bytes INPUT... -o DIR
//   rarun forward ART --ckpt CKPT --tokens TOKENS.npy --out LOGITS.npy
//   rarun import hf HF_DIR --artifact ART -o CKPT
//   rarun export hf CKPT --artifact ART -o HF_DIR
//   rarun study STUDY.toml --out DIR [--jobs N]
//
//===----------------------------------------------------------------------===//
#include "Common.h"
#include "Communicator.h"

#include <cstring>
#include <iostream>

static const char *kUsage = R"(usage: rarun COMMAND [options]

commands:
  train ART    train a compiled model (rarun train --help)
  eval ART     validation loss of a checkpoint (rarun eval --help)
  inspect CKPT parameter table and learned scalars of a checkpoint
  bench ART    ms/step, tokens/s, MFU; --vs ART2 compares two (rarun bench --help)
  generate ART generate text from a checkpoint (rarun generate --help)
  sample ART   generate --no-cache, sliding past the window (rarun sample --help)
  tokenize IN  text files to llm.c token files (rarun tokenize --help)
  forward ART  logits of given tokens on a checkpoint, as .npy
  decode-check ART  cached decoding against the uncached forward, position by position
  import hf D  a Hugging Face GPT-2 into a checkpoint of an artifact
  export hf C  a checkpoint as a Hugging Face GPT-2 (GPT2LMHeadModel)
  study FILE   train a study's variants over seeds; report with verdicts
)";

static int dispatch(const std::string &command, int argc, char **argv) {
  try {
    if (command == "train")
      return rarun::trainCommand(argc - 1, argv + 1);
    if (command == "eval")
      return rarun::evalCommand(argc - 1, argv + 1);
    if (command == "inspect")
      return rarun::inspectCommand(argc - 1, argv + 1);
    if (command == "bench")
      return rarun::benchCommand(argc - 1, argv + 1);
    if (command == "generate" || command == "sample")
      return rarun::generateCommand(argc - 1, argv + 1, command == "sample");
    if (command == "tokenize")
      return rarun::tokenizeCommand(argc - 1, argv + 1);
    if (command == "forward")
      return rarun::forwardCommand(argc - 1, argv + 1);
    if (command == "decode-check")
      return rarun::decodeCheckCommand(argc - 1, argv + 1);
    if (command == "import")
      return rarun::importCommand(argc - 1, argv + 1);
    if (command == "export")
      return rarun::exportCommand(argc - 1, argv + 1);
    if (command == "study")
      return rarun::studyCommand(argc - 1, argv + 1);
  } catch (const cxxopts::exceptions::exception &e) {
    return rarun::fail(std::string(e.what()) + " (see rarun " + command + " --help)");
  } catch (const std::exception &e) { // device copies of the parameters
    return rarun::fail(e.what());
  }
  return rarun::fail("unknown command '" + command + "'\n" + kUsage);
}

int main(int argc, char **argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::cout << kUsage;
    return argc < 2 ? 1 : 0;
  }
  std::string command = argv[1];
  if (std::string err = rarun::Communicator::init(&argc, &argv); !err.empty())
    return rarun::fail(err);
  rarun::Communicator &world = rarun::Communicator::world();
  if (world.size() > 1 && command != "train") {
    rarun::fail("only rarun train runs on several ranks (mpirun -np 1 for the others)");
    world.finish(1);
    return 1;
  }
  int status = dispatch(command, argc, argv);
  world.finish(status); // aborts every rank when this one failed
  return status;
}
