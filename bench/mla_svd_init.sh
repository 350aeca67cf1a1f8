#!/usr/bin/env bash
# MLA initialized from a pretrained GPT-2: random latents against the SVD of
# the pretrained key and value projections (rarun import hf --mla-init svd).
# Trains a small GPT-2 on fortunes (bytes), exports it as a Hugging Face
# model, imports it into gpt2_mla both ways and reports the validation loss
# at step 0 and after a short fine-tune. Usage: bench/mla_svd_init.sh [WORKDIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W="${1:-$(mktemp -d)}"
RACC="$ROOT/build/bin/racc" RARUN="$ROOT/build/bin/rarun"
PRE="${PRETRAIN_STEPS:-600}" FT="${FINETUNE_STEPS:-100}" LATENT="${LATENT:-32}"
CFG=(-D n_layer=4 -D d_model=128 -D n_head=4 -D vocab=256 -D ctx=128 -D batch=8 -D seq=128)
mkdir -p "$W"
"$RACC" compile "$ROOT/models/gpt2.graph" "${CFG[@]}" -o "$W/gpt2.rac" > /dev/null
"$RACC" compile "$ROOT/models/gpt2_mla.graph" "${CFG[@]}" -D latent="$LATENT" -o "$W/mla.rac" > /dev/null
"$RARUN" train "$W/gpt2.rac" --steps "$PRE" --lr 3e-3 --out "$W/pre" > /dev/null
"$RARUN" export hf "$W/pre/ckpt/step_$PRE.safetensors" --artifact "$W/gpt2.rac" -o "$W/hf" > /dev/null
loss() { "$RARUN" eval "$1" --ckpt "$2" --batches 16 | awk '{print $3}'; }
echo "| model | validation loss at step 0 | after $FT steps |"
echo "| --- | ---: | ---: |"
echo "| gpt2 (pretrained $PRE steps) | $(loss "$W/gpt2.rac" "$W/pre/ckpt/step_$PRE.safetensors") | |"
for init in random svd; do
  "$RARUN" import hf "$W/hf" --artifact "$W/mla.rac" --mla-init "$init" -o "$W/mla-$init.safetensors" > "$W/import-$init.txt"
  "$RARUN" train "$W/mla.rac" --init-from "$W/mla-$init.safetensors" --steps "$FT" --lr 1e-3 --out "$W/ft-$init" > /dev/null
  echo "| gpt2_mla latent $LATENT, --mla-init $init | $(loss "$W/mla.rac" "$W/mla-$init.safetensors") | $(loss "$W/mla.rac" "$W/ft-$init/ckpt/step_$FT.safetensors") |"
done
grep -m1 "w_kd" "$W/import-svd.txt" | sed 's/^/svd: /'
