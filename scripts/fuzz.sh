#!/usr/bin/env bash
# Fuzzes one target (graph, safetensors, manifest, tokens, text; default
# graph) with libFuzzer + ASan + UBSan for SECONDS (default 300), or for RUNS
# executions when RUNS is set. Builds an instrumented tree in build-fuzz/.
# New crashers land in test/fuzz/crash-*: minimize them, fix the bug, and
# move the input to test/fuzz/TARGET/regressions/ so every test run replays
# it.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${1:-graph}
SECONDS_TO_RUN=${2:-300}
BUILD_DIR=build-fuzz scripts/build.sh -DRACC_FUZZ=ON -DBUILD_TESTING=ON >/dev/null
cmake --build build-fuzz --target "racc-fuzz-$TARGET"
WORK=test/fuzz/work/$TARGET
mkdir -p "$WORK"
cp -n test/fuzz/"$TARGET"/corpus/* "$WORK"/ 2>/dev/null || true
DICT=()
[ -f test/fuzz/"$TARGET"/"$TARGET".dict ] && DICT=(-dict=test/fuzz/"$TARGET"/"$TARGET".dict)
LIMIT=(-max_total_time="$SECONDS_TO_RUN")
[ -n "${RUNS:-}" ] && LIMIT=(-runs="$RUNS")
build-fuzz/bin/racc-fuzz-"$TARGET" "$WORK" "${DICT[@]}" "${LIMIT[@]}" -timeout=10 \
  -rss_limit_mb=4096 -malloc_limit_mb=2048 -artifact_prefix=test/fuzz/ -print_final_stats=1
