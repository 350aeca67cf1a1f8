#!/usr/bin/env python3
"""Checks that two safetensors files hold the same tensors bit for bit (their
metadata may differ).
    same_tensors.py A B"""
import sys

from safetensors_file import read

a, b = read(sys.argv[1])[1], read(sys.argv[2])[1]
differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
print(f"{len(a)} tensors, {len(differ)} differ" + (f" ('{differ[0]}' first)" if differ else ""))
sys.exit(1 if differ else 0)
