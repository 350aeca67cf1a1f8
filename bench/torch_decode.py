"""Decode tokens/s of Hugging Face's GPT2LMHeadModel with its KV cache
(`past_key_values`), PyTorch eager on the CPU, float32: the peer of
`rarun bench --entry decode` on the same weights (`rarun export hf`) and
threads. Each context C: a prompt of C - warmup - steps tokens fills the
cache, then one token per call; the median of the timed calls.

usage: torch_decode.py HF_DIR --context 1024,4096 [--steps 20] [--warmup 3] [--threads 2]
Needs PyTorch 2.x and transformers (scripts/peer_venv.sh DIR all); prints JSON.
"""
import argparse
import json
import statistics
import time

import warnings

import torch
import transformers
from transformers import GPT2LMHeadModel

warnings.filterwarnings("ignore")  # past_key_values' deprecation notice
transformers.logging.set_verbosity_error()

parser = argparse.ArgumentParser()
parser.add_argument("hf")
parser.add_argument("--context", default="1024")
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--warmup", type=int, default=3)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()

torch.set_num_threads(args.threads)
model = GPT2LMHeadModel.from_pretrained(args.hf, torch_dtype=torch.float32).eval()
vocab = model.config.vocab_size
runs = []
with torch.inference_mode():
    for context in map(int, args.context.split(",")):
        start = max(1, context - args.warmup - args.steps)
        g = torch.Generator().manual_seed(1)
        prompt = torch.randint(0, vocab, (1, start), generator=g)
        out = model(input_ids=prompt, use_cache=True)
        past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        times = []
        for s in range(args.warmup + args.steps):
            t = time.perf_counter()
            out = model(input_ids=token, past_key_values=past, use_cache=True)
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            if s >= args.warmup:
                times.append(time.perf_counter() - t)
        step = statistics.median(times)
        runs.append({"context": context, "ms_per_step": 1e3 * step, "decode_tokens_per_s": 1 / step})
print(json.dumps({"torch": torch.__version__, "threads": args.threads, "runs": runs}, indent=2))
