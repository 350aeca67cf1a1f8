//===- Artifact.h - writing an artifact directory all or nothing --*- C++ -*-===//
//
// `racc compile -o OUT` builds into a staging directory beside OUT and puts
// it in place when everything is written, so a compile that is killed or
// fails leaves the old artifact whole (or none), never an old manifest
// beside a new library. The host compiler and nvcc it runs write into the
// staging directory too, and are stopped when racc is interrupted.
//
//===----------------------------------------------------------------------===//
#ifndef RACC_ARTIFACT_H
#define RACC_ARTIFACT_H

#include <cstdint>
#include <string>
#include <vector>

namespace racc {

class ArtifactStaging {
public:
  /// Prepares OUT.staging-PID beside `out`, removing stale staging
  /// directories a killed compile left. Check `ok()`.
  explicit ArtifactStaging(std::string out);
  ~ArtifactStaging();

  bool ok() const { return ready; }
  /// Where files are written: the staging directory.
  const std::string &dir() const { return staging; }
  /// Replaces OUT with the staging directory (atomically where the file
  /// system exchanges directories). False after reporting why not.
  bool commit();
  /// Leaves the staging directory for its logs after a failure (the next
  /// compile of OUT removes it).
  void keep() { kept = true; }

private:
  std::string out, staging;
  bool ready = false, committed = false, kept = false;
};

/// Writes `contents` to `path` (through a temporary and a rename).
bool writeFileAtomically(const std::string &path, const std::string &contents);

/// Runs a compiler with its output in `log`; false (reported) when it fails.
/// While it runs, SIGINT/SIGTERM/SIGHUP stop it before racc exits.
bool runCompiler(const std::string &name, const std::vector<std::string> &args,
                 const std::string &log, const std::string &what, double &seconds);

} // namespace racc

#endif // RACC_ARTIFACT_H
