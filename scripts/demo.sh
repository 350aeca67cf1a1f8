#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install, build, report the
# GPT-2 baseline, then compile a small GPT-2 for the CPU and train it on the
# default corpus (the fortunes package's text) for a few minutes, showing the
# loss falling and the validation loss, then sample from it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh

echo
echo "== racc stats models/gpt2.graph (the 124M baseline)"
build/bin/racc stats models/gpt2.graph

echo
echo "== racc compile: a 4-layer GPT-2 on bytes, for the CPU -> build/demo/gpt2_small.rac"
mkdir -p build/demo
build/bin/racc compile models/gpt2.graph -D n_layer=4 -D d_model=128 -D n_head=4 \
  -D vocab=256 -D ctx=128 -D batch=16 -D seq=128 -o build/demo/gpt2_small.rac \
  --dump-ir-dir build/demo/gpt2_small.rac/ir/passes

echo
echo "== rarun train: 500 steps on /usr/share/games/fortunes (about 3 minutes on 2 cores)"
build/bin/rarun train build/demo/gpt2_small.rac --data /usr/share/games/fortunes \
  --steps "${DEMO_STEPS:-500}" --lr 2e-3 --eval-every 100 --ckpt-every 250 --out build/demo/run

echo
echo "== rarun inspect the last checkpoint"
build/bin/rarun inspect "build/demo/run/ckpt/step_${DEMO_STEPS:-500}.safetensors" --artifact build/demo/gpt2_small.rac

echo
echo "== rarun sample: 200 bytes from the last checkpoint"
build/bin/rarun sample build/demo/gpt2_small.rac \
  --ckpt "build/demo/run/ckpt/step_${DEMO_STEPS:-500}.safetensors" --prompt "Q: " --tokens 200 --seed 1
