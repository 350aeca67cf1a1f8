//===- Commands.h - the racc subcommands --------------------------*- C++ -*-===//
#ifndef RACC_COMMANDS_H
#define RACC_COMMANDS_H

namespace racc {

/// Each takes the arguments after the subcommand name (argv[0] is the
/// command's name) and returns the exit status.
int compileCommand(int argc, char **argv);
int statsCommand(int argc, char **argv);
int checkCommand(int argc, char **argv);
int interpretCommand(int argc, char **argv);

} // namespace racc

#endif // RACC_COMMANDS_H
