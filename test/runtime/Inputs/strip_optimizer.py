#!/usr/bin/env python3
"""Writes a weights-only copy of a rarun checkpoint: every adam.* tensor
dropped, and without rarun's metadata when --no-metadata is given (as a
safetensors file from elsewhere would be).
    strip_optimizer.py IN OUT [--no-metadata]"""
import sys

from safetensors_file import read, write

meta, tensors = read(sys.argv[1])
write(sys.argv[2], None if "--no-metadata" in sys.argv else meta,
      {k: v for k, v in tensors.items() if not k.startswith("adam.")})
