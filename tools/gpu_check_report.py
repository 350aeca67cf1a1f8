#!/usr/bin/env python3
"""The GPU check's reports (tools/gpu-check.sh), from its files:

  gpu_check_report.py BENCH.json [--torch TORCH.json]
      a `rarun bench --vs --json` result as lines: the GEMM ceiling, each
      build's ms/step, tokens/s, MFU and arena, fused against unfused; with
      --torch, racc's step against PyTorch's (bench/torch_train_step.py).
  gpu_check_report.py --stages STAGES.tsv STAGES.json
      each stage's status (number, title, status, seconds, log per line) as
      JSON, with a failed stage's first error lines (those naming an error
      or a failure, else its last lines) and a skipped one's reason.
"""
import argparse
import json
import re


def bench(path, torch_path, eager_path):
    b = json.load(open(path))
    if eager_path:
        eager = json.load(open(eager_path))["artifact"]
        r = b["artifact"]
        print(f"CUDA graphs: {r['ms_per_step']:.1f} ms/step replayed vs "
              f"{eager['ms_per_step']:.1f} launching each kernel (RA_CUDA_GRAPHS=0): "
              f"{eager['ms_per_step'] / r['ms_per_step']:.3f}x")
        return
    if torch_path:
        torch = json.load(open(torch_path))
        r = b["artifact"]["ms_per_step"]
        mode = ("torch.compile" if torch.get("compiled") else "eager") + (
            ", bf16 autocast" if torch.get("bf16") else "")
        print(f"racc {r:.1f} ms/step vs PyTorch {mode} {torch['ms_per_step']:.1f} ms/step: "
              f"racc is {torch['ms_per_step'] / r:.2f}x PyTorch's speed")
        return
    fp32 = (f", float32 GEMM {b['fp32_gemm_gflops'] / 1e3:.1f} TFLOP/s"
            if "fp32_gemm_gflops" in b else "")
    print(f"{b['device']}: {b['ceiling']}: {b['gemm_gflops'] / 1e3:.1f} TFLOP/s{fp32}")
    for key in ("artifact", "vs"):
        if key in b:
            r = b[key]
            print(f"{r['artifact']}: {r['ms_per_step']:.1f} ms/step, {r['tokens_per_s']:.0f} "
                  f"tokens/s, MFU {100 * r['mfu']:.2f}% of the bf16 peak, arena "
                  f"{r['peak_arena_bytes'] / 2**30:.2f} GiB")
            for line in r.get("cuda_graphs", "").splitlines():
                print(f"  cuda graphs: {line}")
    if "vs" in b:
        name = lambda key: b[key]["artifact"].split("/")[-1]
        print(f"{name('artifact')} against {name('vs')}: {b['speedup']:.2f}x faster, peak memory "
              f"ratio {b['peak_bytes_ratio']:.2f}, max relative output difference "
              f"{b['max_rel_diff']:.1e}")


def stages(tsv, out):
    result = []
    for line in open(tsv):
        number, title, status, seconds, log = line.rstrip("\n").split("\t")
        try:
            lines = [l for l in open(log, errors="replace").read().splitlines() if l.strip()]
        except OSError:
            lines = []
        entry = {"stage": int(number), "title": title, "status": status,
                 "seconds": int(seconds), "log": log}
        if status == "failed":
            errors = [l.strip() for l in lines
                      if re.search(r"error|fail|traceback|no such file", l, re.I)]
            entry["errors"] = (errors or lines[-5:])[:5]
        elif status == "skipped":
            entry["why"] = lines[-1] if lines else ""
        result.append(entry)
    json.dump({"stages": result}, open(out, "w"), indent=2)
    print("stages: " + ", ".join(f"{s['stage']} {s['status']}" for s in result))


parser = argparse.ArgumentParser()
parser.add_argument("files", nargs="+")
parser.add_argument("--torch")
parser.add_argument("--eager", help="the same bench with RA_CUDA_GRAPHS=0")
parser.add_argument("--stages", action="store_true")
args = parser.parse_args()
if args.stages:
    stages(*args.files)
else:
    bench(args.files[0], args.torch, args.eager)
