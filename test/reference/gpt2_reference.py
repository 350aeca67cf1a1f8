"""GPT-2 in PyTorch (float64), written from shared/design/models.md, compared
with racc's loss and gradients on identical weights and batch.

usage: gpt2_reference.py DUMP_DIR [--tolerance T]
DUMP_DIR comes from `racc interpret models/gpt2.graph ... --entry grad --dump DIR`.
"""
import argparse
import math

import torch
import torch.nn.functional as F

from reference_util import compare, load_dump


def gpt2_loss(P, tokens, targets, cfg):
    D, H, L = cfg["d_model"], cfg["n_head"], cfg["n_layer"]
    B, T = tokens.shape
    hd = D // H

    def ln(x, prefix):
        return F.layer_norm(x, (D,), P[prefix + ".w"], P[prefix + ".b"], eps=1e-5)

    x = P["wte"][tokens] + P["wpe"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=tokens.device))
    for i in range(L):
        h = ln(x, f"h.{i}.ln_1")
        qkv = h @ P[f"h.{i}.attn.w_qkv"] + P[f"h.{i}.attn.b_qkv"]
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in qkv.split(D, dim=2))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = x + y @ P[f"h.{i}.attn.w_o"] + P[f"h.{i}.attn.b_o"]
        h = ln(x, f"h.{i}.ln_2")
        a = F.gelu(h @ P[f"h.{i}.mlp.w_fc"] + P[f"h.{i}.mlp.b_fc"], approximate="tanh")
        x = x + a @ P[f"h.{i}.mlp.w_proj"] + P[f"h.{i}.mlp.b_proj"]
    logits = ln(x, "ln_f") @ P["wte"].T
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dump")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args()
    cfg, params, inputs, outputs = load_dump(args.dump)
    for p in params.values():
        p.requires_grad_(True)
    loss = gpt2_loss(params, inputs["tokens"], inputs["targets"], cfg)
    compare(outputs, params, loss, "gpt2", args.tolerance)


if __name__ == "__main__":
    main()
