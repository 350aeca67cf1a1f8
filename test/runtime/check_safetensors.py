"""A rarun checkpoint is a valid safetensors file: the header parses, the
offsets tile the data exactly, every tensor loads as float32. With
--metadata, prints the header's metadata as `key = value` lines.
usage: check_safetensors.py CKPT [--metadata]"""
import json
import struct
import sys

import numpy as np

data = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n])
meta = header.pop("__metadata__")
body = data[8 + n:]
end = 0
for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    b, e = t["data_offsets"]
    assert t["dtype"] == "F32" and b == end, name
    arr = np.frombuffer(body[b:e], dtype="<f4").reshape(t["shape"])
    assert np.isfinite(arr).all(), name
    end = e
assert end == len(body), "data past the last tensor"
try:  # PyTorch's safetensors, where installed (not a Debian package)
    from safetensors.numpy import load_file
    load_file(sys.argv[1])
    print("safetensors package: loads")
except ImportError:
    pass
print(f"safetensors OK: {len(header)} tensors, step {meta['step']}")
if "--metadata" in sys.argv[2:]:
    for key, value in sorted(meta.items()):
        print(f"{key} = {value}")
