#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, then ctest runs the lit
# suite (front end, dialect, passes, tools), the Catch2 units and the fuzz
# corpus replay.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
