#!/usr/bin/env bash
# Data-parallel scaling on this machine: tokens/s of one process (1 and 2
# threads) against two MPI ranks of one thread each, the same global batch
# (2 micro-batches of 8 x 128 per step), and the all-reduce time per step.
# Usage: bench/distributed_scaling.sh [WORKDIR] (STEPS=30 by default)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W="${1:-$(mktemp -d)}"
STEPS="${STEPS:-30}"
RACC="$ROOT/build/bin/racc" RARUN="$ROOT/build/bin/rarun"
mkdir -p "$W"
"$RACC" compile "$ROOT/models/gpt2.graph" -D n_layer=4 -D d_model=128 -D n_head=4 -D vocab=256 \
  -D ctx=128 -D batch=8 -D seq=128 -o "$W/m.rac" > /dev/null
rate() { # mean tokens/s and all-reduce ms/step over steps 6.. of a run
  python3 - "$1" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l][5:]
tps = sum(x["tokens_per_s"] for x in r) / len(r)
ar = sum(x.get("allreduce_s", 0) for x in r) / len(r) * 1e3
print(f"{tps:,.0f} | {ar:.2f}")
PY
}
echo "| layout | tokens/s | all-reduce ms/step |"
echo "| --- | ---: | ---: |"
OMP_NUM_THREADS=1 "$RARUN" train "$W/m.rac" --steps "$STEPS" --grad-accum 2 --out "$W/t1" > /dev/null
echo "| 1 process, 1 thread, --grad-accum 2 | $(rate "$W/t1/metrics.jsonl") |"
OMP_NUM_THREADS=2 "$RARUN" train "$W/m.rac" --steps "$STEPS" --grad-accum 2 --out "$W/t2" > /dev/null
echo "| 1 process, 2 threads, --grad-accum 2 | $(rate "$W/t2/metrics.jsonl") |"
mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS=1 \
  "$RARUN" train "$W/m.rac" --steps "$STEPS" --out "$W/r2" > /dev/null 2>&1
echo "| 2 ranks x 1 thread (mpirun -np 2) | $(rate "$W/r2/metrics.jsonl") |"
