#!/usr/bin/env bash
# Fused vs unfused on the CPU, the fusion issue's configuration: d_model 256,
# 4 layers, 4 heads, latent 64, seq 256, batch 4, byte vocabulary (256).
# For the baseline, MLA+RA and the all-mechanisms model: rarun bench --vs
# (interleaved steps; speedup, arena ratio, largest output difference). Then,
# for the all-mechanisms model, each fusion pass left out in turn: what each
# one buys.
# Then the forward entry point with and without weight absorption.
# usage: bench/fusion_table.sh [STEPS]   (about 7 minutes on 2 cores)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
racc="$root/build/bin/racc" rarun="$root/build/bin/rarun"
steps="${1:-10}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
config=(-D n_layer=4 -D d_model=256 -D n_head=4 -D seq=256 -D ctx=256 -D batch=4 -D vocab=256)
defines() { # the latent where the model has one
  if grep -q "^config latent " "$root/models/$1.graph"; then echo -D latent=64; fi
}
row() { # NAME JSON
  python3 - "$1" "$2" << 'PY'
import json, sys
b = json.load(open(sys.argv[2]))
f, u = b["artifact"], b["vs"]
print(f"| {sys.argv[1]} | {u['ms_per_step']:.1f} | {f['ms_per_step']:.1f} | {b['speedup']:.2f}x "
      f"| {u['peak_arena_bytes'] / 2**20:.1f} | {f['peak_arena_bytes'] / 2**20:.1f} "
      f"| {b['peak_bytes_ratio']:.2f} | {b['max_rel_diff']:.1e} |")
PY
}
echo "| model | unfused ms/step | fused ms/step | speedup | unfused arena MiB | fused arena MiB | memory ratio | max rel diff |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for m in gpt2 gpt2_mla_ra gpt2_mla_ra_all; do
  "$racc" compile "$root/models/$m.graph" "${config[@]}" $(defines $m) -o "$work/$m.rac" > /dev/null
  "$racc" compile "$root/models/$m.graph" "${config[@]}" $(defines $m) --no-fuse \
    -o "$work/${m}_unfused.rac" > /dev/null
  "$rarun" bench "$work/$m.rac" --vs "$work/${m}_unfused.rac" --steps "$steps" --json > "$work/$m.json"
  row "$m" "$work/$m.json"
done
echo
echo "gpt2_mla_ra_all with one pass left out (vs all passes on, interleaved):"
echo
echo "| left out | ms/step without it | ms/step with all | arena MiB without it | arena MiB with all |"
echo "| --- | ---: | ---: | ---: | ---: |"
for pass in fuse-latent-projections fuse-attention fuse-gated-attention fuse-head-mean-attention \
  fuse-cross-entropy fuse-weight-gradients recompute-activations fuse-elementwise; do
  "$racc" compile "$root/models/gpt2_mla_ra_all.graph" "${config[@]}" -D latent=64 \
    --disable-pass="$pass" -o "$work/without.rac" > /dev/null
  "$rarun" bench "$work/gpt2_mla_ra_all.rac" --vs "$work/without.rac" --steps "$steps" --json \
    > "$work/without.json"
  python3 - "$pass" "$work/without.json" << 'PY'
import json, sys
b = json.load(open(sys.argv[2]))
f, w = b["artifact"], b["vs"]
print(f"| {sys.argv[1]} | {w['ms_per_step']:.1f} | {f['ms_per_step']:.1f} "
      f"| {w['peak_arena_bytes'] / 2**20:.1f} | {f['peak_arena_bytes'] / 2**20:.1f} |")
PY
done

# Inference: MLA weight absorption in the forward entry point, on and off,
# and the decision the pass wrote (ra.absorb) here and at GPT-2 124M's shape.
echo
echo "gpt2_mla_ra forward (inference), absorb-latent-weights on vs off:"
echo
"$racc" compile "$root/models/gpt2_mla_ra.graph" "${config[@]}" -D latent=64 \
  --disable-pass=absorb-latent-weights -o "$work/noabsorb.rac" > /dev/null
"$rarun" bench "$work/gpt2_mla_ra.rac" --vs "$work/noabsorb.rac" --entry forward \
  --steps "$((steps * 3))" | tail -3
decisions() { grep -o 'ra.absorb = {[^}]*}' | sort | uniq -c; }
echo
echo "decisions at this configuration (per layer):"
decisions < "$work/gpt2_mla_ra.rac/ir/model.mlir"
echo "decisions at GPT-2 124M (d_model 768, 12 heads, latent 128, batch 8 x 1024):"
"$racc" compile "$root/models/gpt2_mla_ra.graph" -D batch=8 --emit=mlir 2> /dev/null | decisions
