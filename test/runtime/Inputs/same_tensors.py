#!/usr/bin/env python3
"""Checks that two safetensors files hold the same tensors bit for bit (their
metadata may differ).
    same_tensors.py A B"""
import json
import struct
import sys


def tensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return {k: (v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}


a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
print(f"{len(a)} tensors, {len(differ)} differ" + (f" ('{differ[0]}' first)" if differ else ""))
sys.exit(1 if differ else 0)
