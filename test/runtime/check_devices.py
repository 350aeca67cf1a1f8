"""The losses of two runs agree within a relative tolerance, step by step.
usage: check_devices.py A_METRICS B_METRICS --tolerance T [--from-step S]
(steps before S, and steps only one run has, are not compared: a resumed run
starts later)"""
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("a")
parser.add_argument("b")
parser.add_argument("--tolerance", type=float, default=1e-4)
parser.add_argument("--from-step", type=int, default=None)
args = parser.parse_args()


def losses(path):
    return {r["step"]: r["loss"] for r in map(json.loads, open(path)) if "loss" in r}


a, b = losses(args.a), losses(args.b)
if args.from_step is not None:
    a = {s: v for s, v in a.items() if s >= args.from_step}
    b = {s: v for s, v in b.items() if s >= args.from_step}
ok = bool(a) and a.keys() == b.keys()
worst = max(abs(a[s] - b[s]) / abs(a[s]) for s in a) if ok else float("inf")
ok = ok and worst <= args.tolerance
print(f"{len(a)} steps, worst relative loss difference {worst:.2e}: {'OK' if ok else 'FAILED'}")
raise SystemExit(0 if ok else 1)
