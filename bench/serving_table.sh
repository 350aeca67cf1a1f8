#!/usr/bin/env bash
# The research's "scaling to long context" table, measured (issue 15):
#   bench/serving_table.sh [WORKDIR]
# 1. Cache bytes: gpt2, gpt2_mla, gpt2_mla_ra and gpt2_mla_ra_all compiled at
#    the 124M configuration with their caches in f16 (racc compile
#    --cache-dtype f16, the research's precision); the bytes per token and
#    per sequence are those the cached decoder's buffers hold (running sums
#    in f32), read by `rarun bench --entry decode`, next to racc stats' fp16
#    count. From them: MiB per 4,096-token sequence and how many such
#    sequences fit in 8 GiB of cache.
# 2. Decoding speed at a CPU-sized configuration (4 layers, d_model 256,
#    4 heads, vocab 256, latent 64, band 64): decode tokens/s at contexts
#    1,024 and 4,096 (window 4,096, sequences 1 and 8) and 16,384 (window
#    16,384, one sequence), beside the full-window decoder (--no-cache) of
#    the same artifact.
# Prints markdown. THREADS (default 2) sets OMP_NUM_THREADS; a second
# argument, cache or speed, prints that part alone.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W="${1:-$(mktemp -d)}"
PART="${2:-all}"
mkdir -p "$W"
RACC="$ROOT/build/bin/racc"
RARUN="$ROOT/build/bin/rarun"
export OMP_NUM_THREADS="${THREADS:-2}" OPENBLAS_NUM_THREADS=1
VARIANTS=(gpt2 gpt2_mla gpt2_mla_ra gpt2_mla_ra_all)

if [ "$PART" != speed ]; then
echo "## Cache at the 124M configuration (caches held in f16, measured from the decoder's buffers)"
echo
echo "| variant | bytes/token | fixed bytes/sequence | racc stats (token, sequence) | MiB per 4,096-token sequence | 4,096-token sequences in 8 GiB | per token vs gpt2 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
base=""
for m in "${VARIANTS[@]}"; do
  # A window of 256 keeps RA's band (64) a ring, as at ctx 1024; one sequence.
  "$RACC" compile "$ROOT/models/$m.graph" -D batch=1 -D seq=256 --cache-dtype f16 \
    -o "$W/$m-124m.rac" > /dev/null
  "$RARUN" bench "$W/$m-124m.rac" --entry decode --context 256 --sequences 1 --steps 2 \
    --warmup 1 --json > "$W/$m-124m.json"
  line=$(python3 - "$W/$m-124m.json" "$m" "${base:-0}" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
tok, seq = r["cache_bytes_per_token_held"], r["cache_bytes_per_sequence_held"]
per = 4096 * tok + seq
base = int(sys.argv[3]) or tok
print(f"| {sys.argv[2]} | {tok:,} | {seq:,} | {r['racc_stats_bytes_per_token_fp16']:,}, "
      f"{r['racc_stats_bytes_per_sequence_fp16']:,} | {per / 2**20:.1f} | {(8 << 30) // per} | "
      f"{tok / base:.3f} |")
print(tok)
EOF
)
  echo "$line" | head -1
  [ -n "$base" ] || base=$(echo "$line" | tail -1)
done

fi
[ "$PART" != cache ] || exit 0
echo
echo "## Decoding at a CPU-sized configuration ($OMP_NUM_THREADS threads)"
echo
echo "4 layers, d_model 256, 4 heads, vocab 256 (MLA: latent 64; RA: band 64); the full window is the"
echo "--no-cache decoder (one @forward of the whole window per token)."
echo
echo "| variant | context | sequences | decode ms/step | decode tokens/s | full-window tokens/s | speedup | cache MiB (fp16) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
SMALL=(-D n_layer=4 -D d_model=256 -D n_head=4 -D vocab=256)
for m in "${VARIANTS[@]}"; do
  for window in 4096 16384; do
    batch=8
    contexts=1024,4096
    sequences=1,8
    if [ "$window" = 16384 ]; then batch=1 contexts=16384 sequences=1; fi
    defines=("${SMALL[@]}")
    for c in latent band; do # MLA's and RA's, where the model has them: 64
      if grep -q "config $c " "$ROOT/models/$m.graph"; then defines+=(-D "$c=64"); fi
    done
    "$RACC" compile "$ROOT/models/$m.graph" "${defines[@]}" -D ctx=$window -D seq=$window \
      -D batch=$batch -o "$W/$m-$window.rac" > /dev/null
    "$RARUN" bench "$W/$m-$window.rac" --entry decode --context $contexts --sequences $sequences \
      --steps 20 --warmup 3 --json > "$W/$m-$window.json"
    python3 - "$W/$m-$window.json" "$m" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for x in r["runs"]:
    print(f"| {sys.argv[2]} | {x['context']:,} | {x['sequences']} | {x['ms_per_step']:.2f} | "
          f"{x['decode_tokens_per_s']:.0f} | {x['full_window_tokens_per_s']:.1f} | "
          f"{x['speedup_over_full_window']:.0f}x | {x['cache_mib_fp16']:.1f} |")
EOF
  done
done
