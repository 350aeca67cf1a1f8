#!/usr/bin/env python3
"""Holds racc's GPT-2 tokens of the fortunes corpus against tiktoken's.

Inputs/fortunes.json has, per file, the SHA-256 of tiktoken's ids (with the
leading <|endoftext|>); this reruns `rarun tokenize --print ids` per file and
compares, needing neither tiktoken nor the network. Usage:
    check_fortunes.py RARUN FIXTURE [FORTUNES_DIR]
"""
import hashlib
import json
import os
import struct
import subprocess
import sys

rarun, fixture = sys.argv[1], sys.argv[2]
corpus = sys.argv[3] if len(sys.argv) > 3 else "/usr/share/games/fortunes"
files = json.load(open(fixture))["files"]
failed = 0
tokens = 0
for name, want in sorted(files.items()):
    path = os.path.join(corpus, name)
    raw = open(path, "rb").read()
    if hashlib.sha256(raw).hexdigest() != want["sha256"]:
        print(f"{path}: not the file the fixture was made from (regenerate with make_fixtures.py)")
        failed += 1
        continue
    out = subprocess.run([rarun, "tokenize", "--print", "ids", path], capture_output=True, text=True, check=True)
    ids = [int(x) for x in out.stdout.split()]
    digest = hashlib.sha256(struct.pack(f"<{len(ids)}H", *ids)).hexdigest()
    if len(ids) != want["tokens"] or digest != want["ids_sha256"]:
        print(f"{path}: {len(ids)} tokens differ from tiktoken's {want['tokens']}")
        failed += 1
    tokens += len(ids)
print(f"fortunes: {len(files) - failed}/{len(files)} files, {tokens} tokens identical to tiktoken's")
sys.exit(1 if failed else 0)
