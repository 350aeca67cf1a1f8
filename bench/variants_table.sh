#!/usr/bin/env bash
# Every variant at one small config, trained on the same data with the same
# seed: parameters and inference cache at the default 124M config (racc
# stats), parameters at the small config, and the validation loss after
# STEPS steps (default 300). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-300}
OUT=${OUT:-build/variants}
SMALL="-D n_layer=4 -D d_model=64 -D n_head=4 -D vocab=256 -D ctx=64 -D batch=8 -D seq=64"
mkdir -p "$OUT"
echo "| model | params (124M config) | cache bytes/token fp16 (124M) | params (small) | val loss after $STEPS steps |"
echo "| --- | ---: | ---: | ---: | ---: |"
for m in gpt2 gpt2_golden gpt2_mla gpt2_ra gpt2_mla_ra gpt2_mla_ra_gate gpt2_mla_ra_cross \
         gpt2_mla_ra_recip gpt2_mla_ra_all gpt2_ratio_mix gpt2_ratio_soft; do
  extra=""
  case $m in *mla*) extra="$extra -D latent=16" ;; esac
  case $m in *_ra|*_ra_*) extra="$extra -D band=16" ;; esac
  big=$(build/bin/racc stats "models/$m.graph" --json 2>/dev/null |
        python3 -c "import json,sys; d=json.load(sys.stdin); print(d['parameters']['total'], d['inference_cache']['bytes_per_token_fp16'])")
  build/bin/racc compile "models/$m.graph" $SMALL $extra -o "$OUT/$m.rac" > /dev/null
  small=$(python3 -c "import json; m=json.load(open('$OUT/$m.rac/manifest.json')); print(m['stats']['parameters'])")
  build/bin/rarun train "$OUT/$m.rac" --steps "$STEPS" --lr 3e-3 --seed 0 --out "$OUT/$m" > /dev/null
  val=$(python3 -c "import json; print([json.loads(l) for l in open('$OUT/$m/metrics.jsonl') if 'val_loss' in l][-1]['val_loss'])")
  read -r p c <<< "$big"
  printf "| %s | %'d | %'d | %'d | %.4f |\n" "$m" "$p" "$c" "$small" "$val"
done
