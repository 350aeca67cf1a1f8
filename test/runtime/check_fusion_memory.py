"""The fused training step needs at most RATIO of the unfused one's memory,
and both compute the same forward outputs (rarun bench --vs --json).
usage: check_fusion_memory.py BENCH_JSON --ratio R"""
import argparse
import json

parser = argparse.ArgumentParser()
parser.add_argument("bench")
parser.add_argument("--ratio", type=float, required=True)
args = parser.parse_args()
b = json.load(open(args.bench))
ok = b["peak_bytes_ratio"] <= args.ratio and b["max_rel_diff"] <= 1e-4
print(f"memory ratio {b['peak_bytes_ratio']:.3f} (at most {args.ratio}), "
      f"outputs within {b['max_rel_diff']:.1e}: {'OK' if ok else 'FAILED'}")
raise SystemExit(0 if ok else 1)
