//===- AtomicFile.h - files that are whole or absent --------------*- C++ -*-===//
//
// Everything rarun saves (checkpoints, token files, imported and exported
// weights) is written to PATH.tmp.PID, fsynced, renamed over PATH and the
// directory fsynced: a crash leaves the old file or the new one, never half
// of one.
//
//===----------------------------------------------------------------------===//
#ifndef RA_RUNTIME_ATOMICFILE_H
#define RA_RUNTIME_ATOMICFILE_H

#include <cstddef>
#include <functional>
#include <string>

namespace ra::rt {

/// What a writer gets: append bytes, false once a write failed.
using WriteBytes = std::function<bool(const void *data, size_t size)>;

/// Writes PATH atomically from `body`, which returns false to abandon the
/// file (its `error` is kept). `what` names the file in errors ("checkpoint").
/// Returns "" or an error.
std::string writeFileAtomically(const std::string &path, const std::string &what,
                                const std::function<bool(const WriteBytes &)> &body);

} // namespace ra::rt

#endif // RA_RUNTIME_ATOMICFILE_H
