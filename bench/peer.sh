#!/usr/bin/env bash
# racc against PyTorch 2.x on the CPU, every variant (issue 13's peer table):
# racc fused and --no-fuse (timed interleaved step by step, rarun bench
# --vs), PyTorch eager and torch.compile of the same model
# (bench/torch_variant_step.py: the same parameters and config from the
# artifact's manifest, the loss of test/reference/variants_reference.py),
# all with the same threads; then ms/step, tokens/s and the ratios, and the
# sgemm rate rarun measured in the same run.
#
#   bench/peer.sh [A|B] [MODEL...]      (default: A, every model in models/)
#   PEER=/path/to/python (PyTorch 2.x: scripts/peer_venv.sh DIR all)
#   THREADS=2 STEPS=10 WORK=DIR
# A: 4 layers, d_model 256, 4 heads, batch 4 x 256, vocab 256
# B: 2 layers, d_model 768, 12 heads, batch 4 x 256, vocab 50257
# (MLA latent 64, RA band 64.) Never run in CI: the peer is gigabytes.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONFIG="${1:-A}"
[ $# -gt 0 ] && shift
MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then
  for f in "$ROOT"/models/*.graph; do MODELS+=("$(basename "$f" .graph)"); done
fi
PEER="${PEER:-${RACC_PEER_PYTHON:-}}"
if [ -z "$PEER" ]; then
  echo "peer.sh: set PEER to a Python with PyTorch 2.x (scripts/peer_venv.sh DIR all)" >&2
  exit 1
fi
THREADS="${THREADS:-2}" STEPS="${STEPS:-10}"
W="${WORK:-$(mktemp -d)}"
RACC="$ROOT/build/bin/racc" RARUN="$ROOT/build/bin/rarun"
case "$CONFIG" in
  A) CFG=(-D n_layer=4 -D d_model=256 -D n_head=4 -D vocab=256) ;;
  B) CFG=(-D n_layer=2 -D d_model=768 -D n_head=12 -D vocab=50257) ;;
  *) echo "usage: peer.sh [A|B] [MODEL...]" >&2; exit 1 ;;
esac
CFG+=(-D ctx=256 -D batch=4 -D seq=256 -D latent=64 -D band=64)
export OMP_NUM_THREADS="$THREADS"
mkdir -p "$W"
for m in "${MODELS[@]}"; do
  # -D of a config the model does not declare is an error: pass only its own.
  defs=()
  for ((i = 0; i < ${#CFG[@]}; i += 2)); do
    name="${CFG[i + 1]%%=*}"
    grep -q "^config $name " "$ROOT/models/$m.graph" "$ROOT"/models/lib/*.graph 2> /dev/null \
      && defs+=("${CFG[i]}" "${CFG[i + 1]}")
  done
  "$RACC" compile "$ROOT/models/$m.graph" "${defs[@]}" -o "$W/$m.rac" > /dev/null
  "$RACC" compile "$ROOT/models/$m.graph" "${defs[@]}" --no-fuse -o "$W/$m-nofuse.rac" > /dev/null
  "$RARUN" bench "$W/$m.rac" --vs "$W/$m-nofuse.rac" --steps "$STEPS" --warmup 2 --json \
    > "$W/$m.racc.json"
  "$PEER" "$ROOT/bench/torch_variant_step.py" "$W/$m.rac" --threads "$THREADS" \
    --steps "$STEPS" > "$W/$m.eager.json"
  "$PEER" "$ROOT/bench/torch_variant_step.py" "$W/$m.rac" --threads "$THREADS" \
    --steps "$STEPS" --compile 2> "$W/$m.compile.log" > "$W/$m.compile.json"
  echo "peer.sh: $m done" >&2
done
python3 - "$W" "$CONFIG" "${MODELS[@]}" << 'PY'
import json, os, sys
w, config, models = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"config {config}, {os.environ.get('OMP_NUM_THREADS')} threads; ms/step (tokens/s of racc fused)\n")
print("| model | racc fused | racc unfused | torch eager | torch.compile | fused vs unfused | fused vs eager | fused vs compile |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
gemm = None
for m in models:
    r = json.load(open(os.path.join(w, m + ".racc.json")))
    gemm = r.get("gemm_gflops", gemm)
    fused, unfused = r["artifact"]["ms_per_step"], r["vs"]["ms_per_step"]
    eager = json.load(open(os.path.join(w, m + ".eager.json")))["ms_per_step"]
    comp = json.load(open(os.path.join(w, m + ".compile.json")))["ms_per_step"]
    print(f"| {m} | {fused:.0f} ({r['artifact']['tokens_per_s']:,.0f}) | {unfused:.0f} | {eager:.0f} | "
          f"{comp:.0f} | {unfused / fused:.2f}x | {eager / fused:.2f}x | {comp / fused:.2f}x |")
if gemm:
    print(f"\nsgemm 1024^3 in the same run: {gemm:.1f} GFLOP/s")
PY
