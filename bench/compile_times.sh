#!/usr/bin/env bash
# racc compile's wall time for every variant (issue 13: "report the compile
# time of every variant"), at the tests' tiny size and at the 124M defaults.
#   bench/compile_times.sh [WORKDIR]
# A fresh compile cache first receives the shared attention kernels
# (ra_cpu_library.o, compiled once per machine); every variant's own code is
# then compiled cold, as after an edit. Prints a markdown table.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W="${1:-$(mktemp -d)}"
RACC="$ROOT/build/bin/racc"
export RACC_CACHE_DIR="$W/cache"
rm -rf "$RACC_CACHE_DIR"
TINY=(-D n_layer=1 -D d_model=16 -D n_head=2 -D vocab=64 -D ctx=8 -D batch=2 -D seq=8)
seconds() { # racc compile ARGS... -> wall seconds
  local start end
  start=$(date +%s.%N)
  "$RACC" compile "$@" > /dev/null
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.1f}')"
}
first=$(seconds "$ROOT/models/gpt2.graph" "${TINY[@]}" -D d_mlp=17 -o "$W/warm.rac")
echo "shared kernels and a first tiny model: $first s"
echo
echo "| variant | tiny (1 layer, d_model 16) | 124M defaults |"
echo "| --- | ---: | ---: |"
for graph in "$ROOT"/models/*.graph; do
  m=$(basename "$graph" .graph)
  tiny=$(seconds "$graph" "${TINY[@]}" -o "$W/$m-tiny.rac")
  full=$(seconds "$graph" -o "$W/$m.rac")
  echo "| $m | $tiny s | $full s |"
done
