#!/usr/bin/env bash
# Puts GPT-2's BPE ranks (r50k_base, 50,256 merges-by-rank entries) at
# data/gpt2.tiktoken, once. They come from PyPI's openai-whisper source
# distribution (MIT licence), which ships them as whisper/assets/gpt2.tiktoken;
# the file is checked against its known SHA-256 before it is kept. rarun
# never downloads anything: without this file, --tokenizer gpt2 says how to
# get it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/data/gpt2.tiktoken"
SHA256=306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930
VERSION=20250625

have() { [ -f "$DEST" ] && echo "$SHA256  $DEST" | sha256sum --check --status; }
if have; then
  echo "fetch_gpt2_ranks: $DEST present"
  exit 0
fi

# pip downloads the sdist without installing anything (no build, no deps).
PIP=()
for py in python3 /usr/bin/python3; do
  if "$py" -m pip --version >/dev/null 2>&1; then PIP=("$py" -m pip); break; fi
done
if [ ${#PIP[@]} -eq 0 ]; then
  echo "fetch_gpt2_ranks: error: no pip (Debian: apt-get install python3-pip)" >&2
  exit 1
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"${PIP[@]}" download --quiet --no-deps --no-binary :all: --dest "$TMP" "openai-whisper==$VERSION"
tar -xzf "$TMP"/openai_whisper-$VERSION.tar.gz -C "$TMP" "openai_whisper-$VERSION/whisper/assets/gpt2.tiktoken"
SRC="$TMP/openai_whisper-$VERSION/whisper/assets/gpt2.tiktoken"
if ! echo "$SHA256  $SRC" | sha256sum --check --status; then
  echo "fetch_gpt2_ranks: error: the downloaded gpt2.tiktoken's SHA-256 is $(sha256sum "$SRC" | cut -d' ' -f1), expected $SHA256" >&2
  exit 1
fi
mkdir -p "$ROOT/data"
cp "$SRC" "$DEST.tmp.$$" && mv "$DEST.tmp.$$" "$DEST"
echo "fetch_gpt2_ranks: $DEST from openai-whisper==$VERSION (sha256 $SHA256)"
