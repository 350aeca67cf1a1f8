"""Compiles every model at a tiny config and holds its cached decoding
(@prefill, then @decode one position at a time) against the uncached
@forward with `rarun decode-check`: one line per model, `NAME: ... ok`.

RA's band is 4 in a window of 16, so its query ring wraps; `gpt2_ra (band
15)` keeps every query instead. With --device cuda-emu only the models
named by --models run (each builds the emulator's library)."""
import argparse
import concurrent.futures
import os
import subprocess

parser = argparse.ArgumentParser()
for name in ("racc", "rarun", "models", "work"):
    parser.add_argument(name)
parser.add_argument("--device", default="cpu")
parser.add_argument("--only", nargs="*")
args = parser.parse_args()

tiny = ["-D", "n_layer=2", "-D", "d_model=32", "-D", "n_head=2", "-D", "vocab=64", "-D", "ctx=16",
        "-D", "batch=3", "-D", "seq=16"]


def check(case):
    graph, extra, label = case
    text = open(os.path.join(args.models, graph)).read()
    defines = list(tiny)
    for config, value in (("latent", 8), ("band", 4)):  # MLA's and RA's, where declared
        if f"config {config} " in text and not any(d.startswith(config + "=") for d in extra):
            defines += ["-D", f"{config}={value}"]
    for d in extra:
        defines += ["-D", d]
    art = os.path.join(args.work, label.replace(" ", "_").replace("(", "").replace(")", "") + ".rac")
    target = ["--target", "all"] if args.device != "cpu" else []
    env = dict(os.environ, RACC_NVCC="none")  # the emulator's build is what runs here
    # Blocks of 4 positions: each sequence's 16 span 4 blocks, handed out
    # from the pool as it grows (in no particular order across sequences).
    subprocess.run([args.racc, "compile", os.path.join(args.models, graph), *defines, *target,
                    "--block-positions", "4", "-o", art], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    run = subprocess.run([args.rarun, "decode-check", art, "--device", args.device],
                         capture_output=True, text=True)
    lines = (run.stdout + run.stderr).strip().splitlines()
    return f"{label}: " + " | ".join(line.removeprefix("decode-check: ") for line in lines)


graphs = sorted(f for f in os.listdir(args.models) if f.endswith(".graph"))
cases = [(g, [], g[:-6]) for g in graphs] + [("gpt2_ra.graph", ["band=15"], "gpt2_ra (band 15)")]
if args.only:
    cases = [c for c in cases if c[2] in args.only]
with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
    for line in pool.map(check, cases):
        print(line)
