#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install, build, compile the
# GPT-2 baseline and report what it is.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh

echo
echo "== racc stats models/gpt2.graph (the 124M baseline)"
build/bin/racc stats models/gpt2.graph

echo
echo "== racc compile models/gpt2.graph at a small config -> build/gpt2_small.rac"
build/bin/racc compile models/gpt2.graph -D n_layer=4 -D d_model=256 -D n_head=4 \
  -D vocab=256 -D ctx=256 -D batch=8 -D seq=128 -o build/gpt2_small.rac \
  --dump-ir-dir build/gpt2_small.rac/ir/passes
ls build/gpt2_small.rac build/gpt2_small.rac/ir/passes
