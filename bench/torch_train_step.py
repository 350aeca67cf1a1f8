"""PyTorch eager (CPU, float32) timing of the same GPT-2 training step racc
compiles: forward, backward, clip_grad_norm_(1.0), AdamW. For `rarun bench`
comparisons; run with /usr/bin/python3 (Debian's python3-torch).

usage: torch_train_step.py --n_layer 4 --d_model 128 --n_head 4 --vocab 256 \
           --ctx 128 --batch 16 --seq 128 [--steps 10] [--threads 2] [--device cuda] [--compile]
           [--bf16]

--compile runs the loss and its backward through torch.compile (PyTorch 2.x,
from PyPI in a venv outside the repo: scripts/peer_venv.sh DIR all); the
optimizer step stays eager, as in most training scripts. --bf16 runs the
forward under torch.autocast(dtype=torch.bfloat16) (bf16 matmuls, float32
master weights and AdamW state: the peer of racc compile --precision bf16).

On --device cuda (tools/gpu-check.sh) the step is timed between
torch.cuda.synchronize() calls; float32 matmuls stay float32 (no TF32), as
in racc's CUDA build.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "reference"))
from gpt2_reference import gpt2_loss  # noqa: E402
from torch_step_timing import adamw, median_step_ms  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cpu")
parser.add_argument("--compile", action="store_true")
parser.add_argument("--bf16", action="store_true")
for name, default in [("n_layer", 4), ("d_model", 128), ("n_head", 4), ("vocab", 256), ("ctx", 128),
                      ("batch", 16), ("seq", 128), ("steps", 10), ("warmup", 2), ("threads", 2)]:
    parser.add_argument("--" + name, type=int, default=default)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
D, L, V, F = args.d_model, args.n_layer, args.vocab, 4 * args.d_model


def p(*shape, std=0.02, value=None):
    t = torch.full(shape, value) if value is not None else torch.randn(*shape) * std
    return t.float().to(args.device).requires_grad_(True)


P = {"wte": p(V, D), "wpe": p(args.ctx, D, std=0.01), "ln_f.w": p(D, value=1.0), "ln_f.b": p(D, value=0.0)}
for i in range(L):
    P.update({f"h.{i}.ln_1.w": p(D, value=1.0), f"h.{i}.ln_1.b": p(D, value=0.0),
              f"h.{i}.attn.w_qkv": p(D, 3 * D), f"h.{i}.attn.b_qkv": p(3 * D, value=0.0),
              f"h.{i}.attn.w_o": p(D, D, std=0.02 / math.sqrt(2 * L)), f"h.{i}.attn.b_o": p(D, value=0.0),
              f"h.{i}.ln_2.w": p(D, value=1.0), f"h.{i}.ln_2.b": p(D, value=0.0),
              f"h.{i}.mlp.w_fc": p(D, F), f"h.{i}.mlp.b_fc": p(F, value=0.0),
              f"h.{i}.mlp.w_proj": p(F, D, std=0.02 / math.sqrt(2 * L)), f"h.{i}.mlp.b_proj": p(D, value=0.0)})
cfg = {"d_model": D, "n_head": args.n_head, "n_layer": L}
tokens = torch.randint(0, V, (args.batch, args.seq)).to(args.device)
targets = torch.randint(0, V, (args.batch, args.seq)).to(args.device)
cuda = args.device.startswith("cuda")
if cuda:
    torch.backends.cuda.matmul.allow_tf32 = False
opt = adamw(P, lambda n, t: t.dim() >= 2)
loss_fn = torch.compile(gpt2_loss) if args.compile else gpt2_loss


def loss():
    if args.bf16:
        with torch.autocast(device_type="cuda" if cuda else "cpu", dtype=torch.bfloat16):
            return loss_fn(P, tokens, targets, cfg)
    return loss_fn(P, tokens, targets, cfg)


ms = median_step_ms(P, loss, opt, args.warmup, args.steps,
                    torch.cuda.synchronize if cuda else (lambda: None))
print(json.dumps({"torch": torch.__version__, "device": args.device, "threads": args.threads,
                  "compiled": args.compile, "bf16": args.bf16,
                  "ms_per_step": ms,
                  "tokens_per_s": args.batch * args.seq / (ms / 1e3)}))
