"""The losses of two runs agree within a relative tolerance, step by step.
usage: check_devices.py A_METRICS B_METRICS --tolerance T"""
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("a")
parser.add_argument("b")
parser.add_argument("--tolerance", type=float, default=1e-4)
args = parser.parse_args()


def losses(path):
    return {r["step"]: r["loss"] for r in map(json.loads, open(path)) if "loss" in r}


a, b = losses(args.a), losses(args.b)
worst = max(abs(a[s] - b[s]) / abs(a[s]) for s in a)
print(f"{len(a)} steps, worst relative loss difference {worst:.2e}: "
      f"{'OK' if worst <= args.tolerance and a.keys() == b.keys() else 'FAILED'}")
raise SystemExit(0 if worst <= args.tolerance and a.keys() == b.keys() else 1)
