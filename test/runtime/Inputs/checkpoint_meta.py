#!/usr/bin/env python3
"""Prints a safetensors checkpoint's __metadata__ entries, one `key value` per
line, sorted.
    checkpoint_meta.py CKPT"""
import sys

from safetensors_file import read

meta = read(sys.argv[1])[0]
for key in sorted(meta):
    print(key, meta[key])
