"""The losses of a resumed run equal, bit for bit, those of the uninterrupted
run at the same steps. usage: check_resume.py FULL_METRICS RESUMED_METRICS"""
import json
import sys

def losses(path):
    return {r["step"]: r["loss"] for r in map(json.loads, open(path)) if "loss" in r}

full, resumed = losses(sys.argv[1]), losses(sys.argv[2])
differ = [s for s in resumed if full[s] != resumed[s]]
print(f"{len(resumed)} resumed steps, {len(resumed) - len(differ)} bit-identical")
sys.exit(1 if differ or not resumed else 0)
