#!/usr/bin/env python3
"""racc's export loaded by transformers itself: GPT2LMHeadModel.from_pretrained
on an exported directory gives the logits racc computes (within 1e-5).
    round_trip.py HF_DIR TOKENS.npy RACC_LOGITS.npy"""
import sys

import numpy as np
import torch
import transformers

model = transformers.GPT2LMHeadModel.from_pretrained(sys.argv[1]).eval()
tokens = torch.from_numpy(np.load(sys.argv[2]))
with torch.no_grad():
    theirs = model(tokens).logits.float().numpy()
ours = np.load(sys.argv[3])
worst = float(np.abs(theirs.astype(np.float64) - ours).max())
print(f"transformers on the export: worst logit difference {worst:.3e}")
sys.exit(0 if worst <= 1e-5 * max(1.0, float(np.abs(theirs).max())) else 1)
