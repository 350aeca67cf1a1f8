"""Reading and writing safetensors files with the standard library only, for
the tests' scripts (CI has no `safetensors` package under every Python)."""
import json
import struct


def read(path):
    """(metadata, {name: (dtype, shape, raw bytes)}) in the file's order."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    return meta, {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
                  for k, v in header.items()}


def write(path, meta, tensors):
    """Writes {name: (dtype, shape, raw bytes)} and metadata (omitted if None)."""
    header, offset = {}, 0
    if meta is not None:
        header["__metadata__"] = meta
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(raw for _, _, raw in tensors.values()))
