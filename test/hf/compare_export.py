#!/usr/bin/env python3
"""Checks an exported Hugging Face directory against the fixture it was
imported from: the same tensor names, shapes and values (exactly), the same
model config fields, and the metadata transformers needs ({"format": "pt"}).
Needs only the standard library.
    compare_export.py EXPORTED_DIR FIXTURE_DIR"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime", "Inputs"))
from safetensors_file import read as tensors  # noqa: E402

out, fixture = sys.argv[1], sys.argv[2]
meta, ours = tensors(out + "/model.safetensors")
_, ref = tensors(fixture + "/model.safetensors")
assert meta.get("format") == "pt", meta
assert sorted(ours) == sorted(ref), (sorted(set(ours) ^ set(ref)))
for name in ref:
    assert ours[name] == ref[name], f"tensor {name} differs"
a, b = json.load(open(out + "/config.json")), json.load(open(fixture + "/config.json"))
for key in ["model_type", "n_embd", "n_head", "n_layer", "n_positions", "vocab_size", "n_inner",
            "activation_function", "layer_norm_epsilon", "tie_word_embeddings"]:
    assert a.get(key) == b.get(key), (key, a.get(key), b.get(key))
print(f"export: {len(ours)} tensors identical to the fixture's, config agrees")
