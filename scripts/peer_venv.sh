#!/usr/bin/env bash
# The peers racc is measured and checked against, from PyPI, in a virtual
# environment outside the repo (never in CI: PyTorch 2.x is gigabytes):
#   scripts/peer_venv.sh DIR [tokenizer|all]
# tokenizer: tiktoken (small); all: also transformers and PyTorch 2.x.
# Then `export RACC_PEER_PYTHON=DIR/bin/python` and the tests that need a
# peer (lit feature tiktoken / transformers) run too.
set -euo pipefail
DIR="${1:?usage: peer_venv.sh DIR [tokenizer|all]}"
WHAT="${2:-tokenizer}"
PY=python3
"$PY" -m venv --help >/dev/null 2>&1 || PY=/usr/bin/python3
[ -x "$DIR/bin/python" ] || "$PY" -m venv "$DIR"
"$DIR/bin/pip" install --quiet tiktoken
if [ "$WHAT" = all ]; then
  "$DIR/bin/pip" install --quiet torch transformers safetensors numpy
fi
echo "peer_venv: export RACC_PEER_PYTHON=$DIR/bin/python"
