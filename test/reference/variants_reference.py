"""Every variant of models.md in PyTorch (float64), written from the
formulas there, not from racc's IR: loss and gradients compared with racc's
on identical weights and batch. Which mechanisms are on is read from the
parameter names of the dump (h.N.attn.w_kd: MLA; ...ra.alpha_ra: RA;
...gate.*: mechanism 1; ...cross.*: mechanism 2; ...recip.*: mechanism 3;
...width.w / width.r: the learnable ratios).

usage: variants_reference.py DUMP_DIR [--tolerance T]
"""
import argparse
import math

import torch
import torch.nn.functional as F

from reference_util import compare, load_dump


def heads(x, H):
    B, T, D = x.shape
    return x.view(B, T, H, D // H).transpose(1, 2)


def merge(y):
    B, H, T, hd = y.shape
    return y.transpose(1, 2).reshape(B, T, H * hd)


def attention_probs(S, alpha, band):
    """softmax of the causal S + alpha S^T (RA) within the band."""
    T = S.shape[-1]
    i = torch.arange(T).view(T, 1)
    j = torch.arange(T).view(1, T)
    causal = j <= i
    if alpha is not None:
        ra = causal & ((i - j) <= band)
        S = S + alpha * S.transpose(-2, -1) * ra
    return S.masked_fill(~causal, float("-inf")).softmax(dim=-1)


def forward_loss(P, tokens, targets, cfg):
    D, H, L = cfg["d_model"], cfg["n_head"], cfg["n_layer"]
    band = cfg.get("band", 0)
    B, T = tokens.shape

    def ln(x, prefix):
        return F.layer_norm(x, (D,), P[prefix + ".w"], P[prefix + ".b"], eps=1e-5)

    x = P["wte"][tokens] + P["wpe"][:T]
    gate, context = None, None
    for n in range(L):
        p = f"h.{n}."
        alpha = P.get(p + "attn.ra.alpha_ra")
        h = ln(x, p + "ln_1")
        if p + "attn.w_kd" in P:  # MLA
            R = P[p + "attn.w_kd"].shape[1]
            q_l = heads(h @ P[p + "attn.w_q"] + P[p + "attn.b_q"], H) @ P[p + "attn.w_ql"]
            k_l = h @ P[p + "attn.w_kd"]
            if context is not None:
                k_l = k_l + P[p + "attn.recip.alpha_attn"] * context
            v = heads(h @ P[p + "attn.w_vd"] @ P[p + "attn.w_vu"], H)
            S = q_l @ k_l.unsqueeze(1).transpose(-2, -1) / math.sqrt(R)
        else:
            qkv = h @ P[p + "attn.w_qkv"] + P[p + "attn.b_qkv"]
            q, k, v = (heads(t, H) for t in qkv.split(D, dim=2))
            S = q @ k.transpose(-2, -1) / math.sqrt(D // H)
            q_l = k_l = None
        probs = attention_probs(S, alpha, band)
        y = probs @ v
        if gate is not None:
            a_g = P[p + "attn.gate.alpha_gate"]
            y = y * (1 - a_g + a_g * gate.transpose(1, 2).unsqueeze(-1))
        x = x + merge(y) @ P[p + "attn.w_o"] + P[p + "attn.b_o"]

        h = ln(x, p + "ln_2")
        a = F.gelu(h @ P[p + "mlp.w_fc"] + P[p + "mlp.b_fc"], approximate="tanh")
        Fw = a.shape[-1]
        if p + "mlp.width.w" in P:  # width mixture of 8/3, 4, 5 D
            g = P[p + "mlp.width.w"].softmax(0)
            j = torch.arange(Fw, dtype=a.dtype)
            widths = [8 * D // 3, 4 * D, 5 * D]
            a = a * sum(g[k] * (j < widths[k]).to(a.dtype) for k in range(3))
        if p + "mlp.width.r" in P:  # soft width
            j = torch.arange(Fw, dtype=a.dtype)
            a = a * torch.sigmoid((P[p + "mlp.width.r"] * D - j) / 32.0)
        if p + "mlp.cross.w_cp" in P:  # mechanism 2
            a = a + P[p + "mlp.cross.alpha_cross"] * ((probs.mean(1) @ a) @ P[p + "mlp.cross.w_cp"])
        context = None
        if p + "mlp.recip.w_r" in P:  # mechanism 3
            W_r = P[p + "mlp.recip.w_r"]
            a = a + P[p + "mlp.recip.alpha_mlp"] * (k_l @ W_r.T)
            context = a @ W_r
        gate = None
        if p + "mlp.gate.w_gp" in P:  # mechanism 1, causal mean over positions
            c = a @ P[p + "mlp.gate.w_gp"]
            c_bar = c.cumsum(1) / torch.arange(1, T + 1, dtype=c.dtype).view(1, T, 1)
            gate = torch.sigmoid(c_bar @ P[p + "mlp.gate.w_gh"] + P[p + "mlp.gate.b_gh"])
        x = x + a @ P[p + "mlp.w_proj"] + P[p + "mlp.b_proj"]
    logits = ln(x, "ln_f") @ P["wte"].T
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dump")
    parser.add_argument("--name", default="variant")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args()
    cfg, params, inputs, outputs = load_dump(args.dump)
    for p in params.values():
        p.requires_grad_(True)
    loss = forward_loss(params, inputs["tokens"], inputs["targets"], cfg)
    compare(outputs, params, loss, args.name, args.tolerance)


if __name__ == "__main__":
    main()
