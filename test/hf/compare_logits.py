#!/usr/bin/env python3
"""Compares two float32 logits arrays (.npy): prints the worst absolute and
relative difference and fails beyond the tolerance.
    compare_logits.py OURS.npy REFERENCE.npy [--tolerance 1e-5]"""
import sys

import numpy as np

ours, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
tol = float(sys.argv[sys.argv.index("--tolerance") + 1]) if "--tolerance" in sys.argv else 1e-5
if ours.shape != ref.shape:
    sys.exit(f"shapes differ: {ours.shape} against {ref.shape}")
diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
scale = np.maximum(np.abs(ref).max(), 1e-30)
print(f"logits {ours.shape}: worst difference {diff.max():.3e} (relative to the largest {diff.max() / scale:.3e})")
sys.exit(0 if diff.max() <= tol * max(1.0, scale) else 1)
