#!/usr/bin/env bash
# Where a CPU training step's milliseconds go (issue 13's "profile first"):
# racc fused and --no-fuse, per kernel family (rarun bench --profile), beside
# PyTorch 2.x eager and torch.compile on the same shapes and threads.
#   bench/cpu_profile.sh A|B [WORKDIR]    (PEER=python with torch 2.x)
# A: 4 layers, d_model 256, 4 heads, batch 4 x 256, vocab 256
# B: 2 layers, d_model 768, 12 heads, batch 4 x 256, vocab 50257
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONFIG="${1:-A}"
W="${2:-$(mktemp -d)}"
PEER="${PEER:-${RACC_PEER_PYTHON:-}}"
THREADS="${THREADS:-2}"
RACC="$ROOT/build/bin/racc" RARUN="$ROOT/build/bin/rarun"
case "$CONFIG" in
  A) L=4 D=256 H=4 V=256 ;;
  B) L=2 D=768 H=12 V=50257 ;;
  *) echo "usage: cpu_profile.sh A|B [WORKDIR]" >&2; exit 1 ;;
esac
CFG=(-D n_layer=$L -D d_model=$D -D n_head=$H -D vocab=$V -D ctx=256 -D batch=4 -D seq=256)
mkdir -p "$W"
export OMP_NUM_THREADS="$THREADS"
for m in gpt2 gpt2_mla_ra; do
  extra=()
  [ "$m" = gpt2_mla_ra ] && extra=(-D latent=64 -D band=64)
  "$RACC" compile "$ROOT/models/$m.graph" "${CFG[@]}" "${extra[@]}" -o "$W/$m.rac" > /dev/null
  "$RACC" compile "$ROOT/models/$m.graph" "${CFG[@]}" "${extra[@]}" --no-fuse -o "$W/$m-nofuse.rac" > /dev/null
  for a in "$m" "$m-nofuse"; do
    "$RARUN" bench "$W/$a.rac" --steps "${STEPS:-5}" --warmup 1 --profile --json > "$W/$a.json"
  done
done
if [ -n "$PEER" ]; then
  for c in "" --compile; do
    "$PEER" "$ROOT/bench/torch_train_step.py" --n_layer $L --d_model $D --n_head $H --vocab $V \
      --ctx 256 --batch 4 --seq 256 --threads "$THREADS" --steps "${STEPS:-5}" $c > "$W/torch$c.json"
  done
fi
python3 - "$W" "$CONFIG" <<'PY'
import json, os, sys
w, config = sys.argv[1], sys.argv[2]
rows = []
for name in ["gpt2", "gpt2-nofuse", "gpt2_mla_ra", "gpt2_mla_ra-nofuse"]:
    r = json.load(open(os.path.join(w, name + ".json")))["artifact"]
    fam = r["profile"]["families"]
    top = ", ".join(f"{k} {v:.0f}" for k, v in list(fam.items())[:6])
    rows.append(f"| racc {name} | {r['ms_per_step']:.0f} | {r['tokens_per_s']:,.0f} | {top} |")
for c in ["", "--compile"]:
    p = os.path.join(w, f"torch{c}.json")
    if os.path.exists(p):
        t = json.load(open(p))
        rows.append(f"| torch {t['torch']} {'compile' if c else 'eager'} (gpt2) | {t['ms_per_step']:.0f} | {t['tokens_per_s']:,.0f} | |")
print(f"config {config}\n\n| build | ms/step | tokens/s | profiled ms/step by kernel family (top 6) |\n| --- | ---: | ---: | --- |")
print("\n".join(rows))
PY
