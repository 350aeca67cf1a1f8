#!/usr/bin/env python3
"""Checks that a run learned: its first training loss is above FIRST_MIN and
its last validation loss below LAST_MAX.
    loss_fell.py METRICS.jsonl FIRST_MIN LAST_MAX"""
import json
import sys

records = [json.loads(line) for line in open(sys.argv[1])]
first = next(r["loss"] for r in records if "loss" in r)
last = [r["val_loss"] for r in records if "val_loss" in r][-1]
ok = first > float(sys.argv[2]) and last < float(sys.argv[3])
print(f"loss {first:.4f} -> validation {last:.4f}: {'fell' if ok else 'DID NOT FALL ENOUGH'}")
sys.exit(0 if ok else 1)
