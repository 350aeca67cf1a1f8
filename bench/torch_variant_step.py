"""PyTorch's training step of any variant racc compiled, for peer timing:
the same parameters (names, shapes, initialization, which decay) read from
the artifact's manifest, the same config, and the loss of
test/reference/variants_reference.py (every variant of models.md, written
from the formulas, not from racc's IR), then backward, clip_grad_norm_(1.0)
and AdamW, float32 on the CPU.

usage: torch_variant_step.py ART [--compile] [--steps 10] [--warmup 2] [--threads 2]

--compile runs the loss and its backward through torch.compile (PyTorch 2.x
from PyPI, in a venv outside the repo: scripts/peer_venv.sh DIR all); the
optimizer step stays eager. Prints one JSON object (median ms/step).
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "reference"))
from variants_reference import forward_loss  # noqa: E402
from torch_step_timing import adamw, median_step_ms  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("artifact")
parser.add_argument("--compile", action="store_true")
parser.add_argument("--steps", type=int, default=10)
parser.add_argument("--warmup", type=int, default=2)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

manifest = json.load(open(os.path.join(args.artifact, "manifest.json")))
cfg = manifest["config"]


def initial(p):
    shape, init, value = p["shape"], p["init"], p.get("init_value", 0.0)
    if init == "normal":
        return torch.randn(*shape) * value
    if init == "ones":
        return torch.ones(*shape)
    if init == "zeros":
        return torch.zeros(*shape)
    return torch.full(shape, float(value))  # const


P, decays = {}, set()
for p in manifest["parameters"]:
    if not p["trainable"]:
        continue  # racc's optimizer state (AdamW's moments): torch keeps its own
    P[p["name"]] = initial(p).float().requires_grad_(True)
    if p["decay"]:
        decays.add(p["name"])
B, T, V = cfg["batch"], cfg["seq"], cfg["vocab"]
tokens = torch.randint(0, V, (B, T))
targets = torch.randint(0, V, (B, T))
opt = adamw(P, lambda n, t: n in decays)
loss_fn = torch.compile(forward_loss) if args.compile else forward_loss
ms = median_step_ms(P, lambda: loss_fn(P, tokens, targets, cfg), opt, args.warmup, args.steps)
print(json.dumps({"torch": torch.__version__, "compiled": args.compile, "threads": args.threads,
                  "model": os.path.basename(manifest.get("source", args.artifact)),
                  "ms_per_step": ms, "tokens_per_s": B * T / (ms / 1e3)}))
