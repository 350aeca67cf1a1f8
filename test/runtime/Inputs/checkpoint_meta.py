#!/usr/bin/env python3
"""Prints a safetensors checkpoint's __metadata__ entries, one `key value` per
line, sorted.
    checkpoint_meta.py CKPT"""
import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    meta = json.loads(f.read(n)).get("__metadata__", {})
for key in sorted(meta):
    print(key, meta[key])
