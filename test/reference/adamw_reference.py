"""racc's @train_step against torch.optim.AdamW with clip_grad_norm_, both
in float64, over several steps on one batch (models.md's defaults: betas
0.9/0.95, eps 1e-8, weight decay 0.1 on parameters marked decay, clipping at
global norm 1.0).

usage: adamw_reference.py DUMP_DIR [--tolerance T]
DUMP_DIR from `racc interpret models/gpt2.graph ... --entry train_step --steps N --dump DIR`.
"""
import argparse
import json
import os

import numpy as np
import torch

from gpt2_reference import gpt2_loss
from reference_util import load_dump, rel_diff


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dump")
    parser.add_argument("--tolerance", type=float, default=1e-10)
    args = parser.parse_args()
    cfg, params, inputs, outputs = load_dump(args.dump)
    with open(os.path.join(args.dump, "index.json")) as f:
        index = json.load(f)
    decay = {e["name"]: e["decay"] for e in index["param"]}
    updated = {e["name"]: torch.from_numpy(np.load(os.path.join(args.dump, e["file"])))
               for e in index["updated"]}

    for p in params.values():
        p.requires_grad_(True)
    groups = [
        {"params": [p for n, p in params.items() if decay[n]], "weight_decay": 0.1},
        {"params": [p for n, p in params.items() if not decay[n]], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=index["lr"], betas=(0.9, 0.95), eps=1e-8)
    for _ in range(index["steps"]):
        opt.zero_grad()
        loss = gpt2_loss(params, inputs["tokens"], inputs["targets"], cfg)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()

    rows = [("loss (last step)", rel_diff(outputs["loss"], loss.detach())),
            ("grad_norm (last step)", rel_diff(outputs["grad_norm"], norm.detach()))]
    rows += [("updated." + n, rel_diff(updated[n], p.detach())) for n, p in params.items()]
    for label, r in rows:
        print(f"{label:40s} max rel diff {r:.3e}")
    worst = max(r for _, r in rows)
    clipped = "clipped to 1.0" if norm.item() > 1.0 else "below the clipping threshold"
    print(f"adamw: {index['steps']} steps, last grad norm {norm.item():.4f} ({clipped}), "
          f"worst rel diff {worst:.3e} over {len(params)} parameters: "
          f"{'OK' if worst <= args.tolerance else 'FAILED'}")
    raise SystemExit(0 if worst <= args.tolerance else 1)


if __name__ == "__main__":
    main()
