"""GPT-2's tokenizer as tiktoken builds it from the same ranks file, offline.

tiktoken (PyPI) is the reference for racc's C++ tokenizer. The Encoding is
built from data/gpt2.tiktoken and r50k_base's own pattern, so nothing is
downloaded. Import this from a Python that has tiktoken (not Debian's).
"""
import base64
import os

import tiktoken

# r50k_base's pattern, as tiktoken_ext/openai_public.py gives it.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_ranks(path=None):
    path = path or os.environ.get("RACC_GPT2_RANKS") or os.path.join(ROOT, "data", "gpt2.tiktoken")
    ranks = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    return ranks


def gpt2_encoding(path=None):
    ranks = load_ranks(path)
    return tiktoken.Encoding(
        name="gpt2-offline",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": len(ranks)},
        explicit_n_vocab=len(ranks) + 1,
    )
