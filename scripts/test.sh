#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, then ctest runs the lit
# suite (front end, dialect, passes, tools, runtime), the Catch2 units and the
# fuzz corpus replays; then the ASan + UBSan job (scripts/sanitize.sh) builds
# an instrumented tree and runs the units, the replays and a tiny training
# run under both sanitizers. RACC_SKIP_SANITIZE=1 skips that job locally.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
if [ "${RACC_SKIP_SANITIZE:-0}" != 1 ]; then
  scripts/sanitize.sh
fi
