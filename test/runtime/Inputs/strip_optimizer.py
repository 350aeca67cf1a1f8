#!/usr/bin/env python3
"""Writes a weights-only copy of a rarun checkpoint: every adam.* tensor
dropped, and without rarun's metadata when --no-metadata is given (as a
safetensors file from elsewhere would be).
    strip_optimizer.py IN OUT [--no-metadata]"""
import json
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n))
    data = f.read()
out, blobs, offset = {}, [], 0
for name, entry in header.items():
    if name == "__metadata__":
        if "--no-metadata" not in sys.argv:
            out[name] = entry
        continue
    if name.startswith("adam."):
        continue
    begin, end = entry["data_offsets"]
    blobs.append(data[begin:end])
    out[name] = dict(entry, data_offsets=[offset, offset + end - begin])
    offset += end - begin
text = json.dumps(out).encode()
text += b" " * (-len(text) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
