"""The fused training step's arena is at most RATIO of the unfused one's.
usage: check_fusion_memory.py FUSED_MANIFEST UNFUSED_MANIFEST --ratio R"""
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("fused")
parser.add_argument("unfused")
parser.add_argument("--ratio", type=float, required=True)
args = parser.parse_args()


def arena(path):
    return next(e["arena_bytes"] for e in json.load(open(path))["entry_points"]
                if e["name"] == "train_step")


ratio = arena(args.fused) / arena(args.unfused)
ok = ratio <= args.ratio
print(f"memory ratio {ratio:.3f} (at most {args.ratio}): {'OK' if ok else 'FAILED'}")
raise SystemExit(0 if ok else 1)
