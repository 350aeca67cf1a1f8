#!/usr/bin/env bash
# Fuzzes the .graph front end with libFuzzer + ASan for SECONDS (default 300).
# Builds an instrumented tree in build-fuzz/. New crashers land in
# test/fuzz/crash-*: minimize them, fix the bug, and move the input to
# test/fuzz/regressions/ so every test run replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-300}
BUILD_DIR=build-fuzz scripts/build.sh -DRACC_FUZZ=ON -DBUILD_TESTING=ON >/dev/null
cmake --build build-fuzz --target racc-fuzz
mkdir -p test/fuzz/work
cp -n test/fuzz/corpus/* test/fuzz/work/ 2>/dev/null || true
build-fuzz/bin/racc-fuzz test/fuzz/work -dict=test/fuzz/graph.dict \
  -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=4096 \
  -artifact_prefix=test/fuzz/ -print_final_stats=1
