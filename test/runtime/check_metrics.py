"""Checks a rarun metrics.jsonl: the loss falls by more than DROP nats from
the uniform log(vocab), and a validation loss is recorded.

usage: check_metrics.py METRICS --vocab V --drop NATS
       check_metrics.py METRICS --unique-steps N  (steps 1..N, each once: a
       resumed run replaced the records of the steps it trained again)
"""
import argparse
import json
import math
import sys

parser = argparse.ArgumentParser()
parser.add_argument("metrics")
parser.add_argument("--vocab", type=int, default=256)
parser.add_argument("--drop", type=float, default=1.0)
parser.add_argument("--unique-steps", type=int)
args = parser.parse_args()
records = [json.loads(line) for line in open(args.metrics)]
if args.unique_steps is not None:
    seen = [r["step"] for r in records if "loss" in r]
    assert seen == list(range(1, args.unique_steps + 1)), f"training records at steps {seen}"
    print(f"steps 1..{args.unique_steps} once each: OK")
    sys.exit(0)
steps = [r for r in records if "loss" in r]
vals = [r for r in records if "val_loss" in r]
uniform = math.log(args.vocab)
first, last = steps[0]["loss"], sum(r["loss"] for r in steps[-5:]) / 5
print(f"uniform {uniform:.3f}, step 1 {first:.3f}, mean of the last 5 steps {last:.3f}, "
      f"validation {vals[-1]['val_loss']:.3f} after {len(steps)} steps")
assert abs(first - uniform) < 0.1, "the first loss should be near uniform"
assert uniform - last > args.drop, f"the loss fell by {uniform - last:.3f} nats only"
assert uniform - vals[-1]["val_loss"] > args.drop / 2, "the validation loss did not fall"
for key in ("step", "loss", "lr", "tokens_per_s", "grad_norm", "grad_norm_groups"):
    assert key in steps[0], f"metrics records lack {key}"
print("loss falls: OK")
