#!/usr/bin/env bash
# racc's cached decoding against PyTorch eager with a KV cache (Hugging
# Face's GPT2LMHeadModel, past_key_values) on the same GPT-2 weights, one
# sequence, the same threads (issue 15):
#   PEER=~/peers/bin/python bench/decode_vs_torch.sh [WORKDIR]
# GPT-2 at 4 layers, d_model 256, 4 heads, vocab 256, window 4,096, trained
# one step (any weights do: decoding's cost does not depend on them),
# exported with rarun export hf; then decode tokens/s at contexts 1,024 and
# 4,096 from `rarun bench --entry decode` and bench/torch_decode.py,
# interleaved per context. PEER: a Python with PyTorch 2.x and transformers
# (scripts/peer_venv.sh DIR all). THREADS (default 2).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W="${1:-$(mktemp -d)}"
mkdir -p "$W"
PEER="${PEER:?set PEER to a Python with torch and transformers (scripts/peer_venv.sh)}"
THREADS="${THREADS:-2}"
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS=1
RACC="$ROOT/build/bin/racc"
RARUN="$ROOT/build/bin/rarun"
CFG=(-D n_layer=4 -D d_model=256 -D n_head=4 -D vocab=256 -D ctx=4096 -D seq=4096 -D batch=1)
"$RACC" compile "$ROOT/models/gpt2.graph" "${CFG[@]}" -o "$W/gpt2.rac" > /dev/null
cat /usr/share/games/fortunes/* > "$W/text.txt"
"$RARUN" train "$W/gpt2.rac" --data "$W/text.txt" --steps 1 --out "$W/run" > /dev/null
"$RARUN" export hf "$W/run/ckpt/step_1.safetensors" --artifact "$W/gpt2.rac" -o "$W/hf" > /dev/null
echo "| context | racc decode tokens/s | torch eager + KV cache tokens/s | racc / torch |"
echo "| ---: | ---: | ---: | ---: |"
for c in 1024 4096; do
  "$RARUN" bench "$W/gpt2.rac" --entry decode --context $c --sequences 1 --steps 20 --warmup 3 \
    --json > "$W/racc-$c.json"
  "$PEER" "$ROOT/bench/torch_decode.py" "$W/hf" --context $c --steps 20 --warmup 3 \
    --threads "$THREADS" > "$W/torch-$c.json"
  python3 - "$W/racc-$c.json" "$W/torch-$c.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
t = json.load(open(sys.argv[2]))["runs"][0]
print(f"| {r['context']:,} | {r['decode_tokens_per_s']:.0f} | {t['decode_tokens_per_s']:.0f} | "
      f"{r['decode_tokens_per_s'] / t['decode_tokens_per_s']:.2f}x |")
PY
done
