"""Shared by the PyTorch references: load a `racc interpret --dump` directory
and compare racc's outputs with PyTorch's, llm.c style: one line per tensor
with its maximum relative difference, then one verdict."""
import json
import os
import sys

import numpy as np
import torch

torch.set_num_threads(2)


def load_dump(path):
    with open(os.path.join(path, "index.json")) as f:
        index = json.load(f)

    def tensors(kind):
        out = {}
        for entry in index.get(kind, []):
            out[entry["name"]] = torch.from_numpy(np.load(os.path.join(path, entry["file"])))
        return out

    return index["config"], tensors("param"), tensors("input"), tensors("output")


def rel_diff(ours, theirs):
    """max |a - b| / max |b|: the error relative to the tensor's scale."""
    scale = theirs.abs().max().item()
    return (ours - theirs).abs().max().item() / max(scale, 1e-300)


def compare(outputs, params, loss, name, tolerance):
    """Gradients of `loss` w.r.t. `params` (requires_grad tensors) against
    racc's `grad.NAME` outputs; prints the table; exits 1 beyond `tolerance`."""
    names = list(params)
    grads = torch.autograd.grad(loss, [params[n] for n in names], allow_unused=True)
    rows = [("loss", rel_diff(outputs["loss"], loss.detach()))]
    for n, g in zip(names, grads):
        if g is None:
            g = torch.zeros_like(params[n])
        rows.append(("grad." + n, rel_diff(outputs["grad." + n], g)))
    worst = max(r for _, r in rows)
    for label, r in rows:
        print(f"{label:40s} max rel diff {r:.3e}")
    grad_worst = max(r for label, r in rows if label != "loss")
    print(f"{name}: loss rel diff {rows[0][1]:.3e}, worst gradient rel diff {grad_worst:.3e} "
          f"over {len(rows) - 1} parameters: {'OK' if worst <= tolerance else 'FAILED'}")
    sys.exit(0 if worst <= tolerance else 1)
