"""Fused and unfused builds of every model agree: forward outputs (rarun bench
--vs, the largest relative difference), and for three training steps the
losses and the gradients' norms (the whole gradient's and each parameter
group's, as train_step reports them).

usage: check_fusion.py RACC RARUN MODELS_DIR WORKDIR [--tolerance 1e-4]"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys

parser = argparse.ArgumentParser()
for name in ("racc", "rarun", "models", "work"):
    parser.add_argument(name)
parser.add_argument("--tolerance", type=float, default=1e-4)
args = parser.parse_args()

tiny = ["-D", "n_layer=2", "-D", "d_model=32", "-D", "n_head=2", "-D", "vocab=256", "-D", "ctx=16",
        "-D", "batch=2", "-D", "seq=16"]


def check(graph):
    """Compiles GRAPH fused and unfused, compares them; returns (line, ok)."""
    name = graph[:-6]
    text = open(os.path.join(args.models, graph)).read()
    defines = list(tiny)
    for config, value in (("latent", 8), ("band", 4)):  # MLA's and RA's, where declared
        if f"config {config} " in text:
            defines += ["-D", f"{config}={value}"]
    arts = {}
    for kind, flags in (("fused", []), ("unfused", ["--no-fuse"])):
        arts[kind] = os.path.join(args.work, f"{name}_{kind}.rac")
        subprocess.run([args.racc, "compile", os.path.join(args.models, graph), *defines, *flags,
                        "-o", arts[kind]], check=True, stdout=subprocess.DEVNULL)
    bench = json.loads(subprocess.run(
        [args.rarun, "bench", arts["fused"], "--vs", arts["unfused"], "--steps", "1", "--warmup",
         "0", "--json"], check=True, capture_output=True, text=True).stdout)
    losses, norms = {}, {}
    for kind in arts:
        out = os.path.join(args.work, f"{name}_{kind}_run")
        subprocess.run([args.rarun, "train", arts[kind], "--steps", "3", "--lr", "3e-3", "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        steps = [r for r in map(json.loads, open(os.path.join(out, "metrics.jsonl"))) if "loss" in r]
        losses[kind] = [r["loss"] for r in steps]
        norms[kind] = [n for r in steps for n in [r["grad_norm"], *r["grad_norm_groups"].values()]]
    rel = lambda a, b: max(abs(x - y) / max(abs(y), 1e-30) for x, y in zip(a, b))
    worst = rel(losses["fused"], losses["unfused"])
    grads = rel(norms["fused"], norms["unfused"])
    ok = (bench["max_rel_diff"] <= args.tolerance and worst <= args.tolerance and
          grads <= args.tolerance and len(norms["fused"]) == len(norms["unfused"]) > 0)
    return (f"{name}: forward outputs {bench['max_rel_diff']:.1e}, training losses {worst:.1e}, "
            f"gradient norms {grads:.1e}: {'OK' if ok else 'FAILED'}"), ok


graphs = sorted(f for f in os.listdir(args.models) if f.endswith(".graph"))
with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    results = list(pool.map(check, graphs))
for line, _ in results:
    print(line)
sys.exit(0 if all(ok for _, ok in results) else 1)
