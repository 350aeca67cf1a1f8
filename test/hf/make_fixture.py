#!/usr/bin/env python3
"""Writes test/hf/Inputs/: a small random GPT2LMHeadModel as transformers
saves it, fixed tokens and transformers' float32 logits on them.

Run with a Python that has torch 2.x and transformers (scripts/peer_venv.sh
DIR all); nothing is downloaded:
    $RACC_PEER_PYTHON test/hf/make_fixture.py
The fixture is committed, so CI checks `rarun import hf` (racc's logits equal
transformers' within 1e-5) and `rarun export hf` (the exported tensors equal
the fixture's) without PyTorch 2.x. The config is small but not trivial:
2 layers, n_embd 32, 4 heads, vocab 300, 24 positions; the weights are
GPT2's initializer plus noise on LayerNorm and biases (zero and one at init
would hide a mixed-up bias or LayerNorm parameter).
"""
import os

import numpy as np
import torch
import transformers

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Inputs")
CONFIG = dict(n_layer=2, n_embd=32, n_head=4, vocab_size=300, n_positions=24, activation_function="gelu_new",
              resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5, bos_token_id=299,
              eos_token_id=299)


def main():
    torch.manual_seed(20250625)
    config = transformers.GPT2Config(**CONFIG)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
    model.save_pretrained(os.path.join(HERE, "gpt2-tiny"), safe_serialization=True)
    tokens = torch.randint(0, CONFIG["vocab_size"], (3, 16), generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        logits = model(tokens).logits.float()
    np.save(os.path.join(HERE, "tokens.npy"), tokens.numpy().astype(np.int64))
    np.save(os.path.join(HERE, "logits.npy"), logits.numpy())
    print("wrote", HERE, "logits", tuple(logits.shape), "transformers", transformers.__version__,
          "torch", torch.__version__)


if __name__ == "__main__":
    main()
