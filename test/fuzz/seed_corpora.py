"""Writes the hand-made seeds of the reader fuzz targets' corpora (run once;
the outputs are committed). The manifest seed from a real artifact is copied
separately: racc compile ... --target none -o x.rac; cp x.rac/manifest.json
test/fuzz/manifest/corpus/tiny.json."""
import json
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    with open(os.path.join(here, target, "corpus", name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata):
    header, blobs, offset = {}, b"", 0
    for name, shape, values in tensors:
        blob = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs += blob
        offset += len(blob)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + blobs


meta = {"step": "3", "data_state": "12345", "run.lr": "0.0006"}
put("safetensors", "two-tensors.safetensors",
    safetensors([("wte", [4, 2], [0.1 * i for i in range(8)]), ("b", [2], [1.0, -1.0])], meta))
put("safetensors", "scalar-and-empty.safetensors",
    safetensors([("alpha", [], [0.5]), ("none", [0, 3], [])], meta))
put("safetensors", "metadata-only.safetensors", safetensors([], meta))
put("safetensors", "no-metadata.safetensors", safetensors([("x", [1], [2.0])], None))

llmc = lambda tokens, version=1: struct.pack("<256i", 20240520, version, len(tokens), *([0] * 253)) \
    + struct.pack(f"<{len(tokens)}H", *tokens)
put("tokens", "llmc.bin", llmc(list(range(20))))
put("tokens", "llmc-v2.bin", llmc(list(range(20)), version=2))
put("tokens", "llmc-beyond-vocab.bin", llmc([5] * 10 + [999, 1000] + [5] * 8))
put("tokens", "raw-uint16.bin", struct.pack("<30H", *range(30)))

put("text", "ascii.txt", b"The quick brown fox jumps over the lazy dog.\n")
put("text", "utf8.txt", "Grüße, 世界! Ünïcödé\n".encode())
put("text", "binary.txt", bytes(range(256)))
put("text", "short.txt", b"abc")
