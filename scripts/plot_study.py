#!/usr/bin/env python3
"""The plots of a study, drawn from DIR/report.json and the runs' metrics.jsonl.

    python3 scripts/plot_study.py DIR

rarun study runs it at the end (with /usr/bin/python3: Debian's
python3-matplotlib). Writes DIR/loss.png (final validation loss per variant,
mean and spread over seeds), DIR/curves.png (training and validation loss of
every run), DIR/scalars.png (the learned mixing scalars over training) and,
with a sweep, DIR/width.png (validation loss against the fixed ratio, the
learned ratios marked).
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def smooth(xs, k=10):
    out, acc = [], []
    for x in xs:
        acc.append(x)
        if len(acc) > k:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def main(out):
    report = json.load(open(os.path.join(out, "report.json")))
    variants = [v for v in report["variants"] if v.get("val_loss")]

    # Final validation loss per variant.
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(variants) + 2), 4))
    names = [v["name"] for v in variants]
    means = [v["val_loss"]["mean"] for v in variants]
    stds = [v["val_loss"]["std"] for v in variants]
    colors = ["tab:gray" if v["kind"] != "variant" else "tab:blue" for v in variants]
    ax.bar(range(len(names)), means, yerr=stds, color=colors, capsize=3)
    base = next((v for v in variants if v["name"] == report["baseline"]), None)
    if base:
        ax.axhline(base["val_loss"]["mean"], color="black", lw=0.8, ls="--", label="baseline")
        ax.legend()
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    lo = min(m - s for m, s in zip(means, stds)) if means else 0
    hi = max(m + s for m, s in zip(means, stds)) if means else 1
    ax.set_ylim(lo - 0.1 * (hi - lo + 1e-9), hi + 0.1 * (hi - lo + 1e-9))
    ax.set_ylabel("validation loss (mean ± std over seeds)")
    ax.set_title(f"study {report['study']}: {report['steps']} steps")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss.png"), dpi=110)
    plt.close(fig)

    # Loss curves of every run.
    fig, (train_ax, val_ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    cmap = plt.get_cmap("tab20")
    for i, v in enumerate(variants):
        for j, run in enumerate(r for r in v["runs"] if r["status"] == "done"):
            recs = records(os.path.join(out, run["dir"], "metrics.jsonl"))
            steps = [r["step"] for r in recs if "loss" in r]
            loss = smooth([r["loss"] for r in recs if "loss" in r])
            vs = [(r["step"], r["val_loss"]) for r in recs if "val_loss" in r]
            label = v["name"] if j == 0 else None
            train_ax.plot(steps, loss, color=cmap(i % 20), lw=0.8, label=label)
            val_ax.plot([s for s, _ in vs], [x for _, x in vs], color=cmap(i % 20), lw=0.8,
                        marker=".", label=label)
    train_ax.set_title("training loss (10-step mean)")
    val_ax.set_title("validation loss")
    for a in (train_ax, val_ax):
        a.set_xlabel("step")
    val_ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "curves.png"), dpi=110)
    plt.close(fig)

    # The learned scalars over training, one panel per variant that has any.
    with_scalars = [v for v in variants if v["scalars"] and v["kind"] == "variant"]
    n = max(1, len(with_scalars))
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.5 * rows), squeeze=False)
    for ax, v in zip(axes.flat, with_scalars):
        names = list(v["scalars"])
        for k, name in enumerate(names):
            for j, run in enumerate(r for r in v["runs"] if r["status"] == "done"):
                recs = records(os.path.join(out, run["dir"], "metrics.jsonl"))
                xs = [(r["step"], r["scalars"][name]) for r in recs
                      if "scalars" in r and name in r["scalars"]]
                ax.plot([s for s, _ in xs], [x for _, x in xs], color=cmap(k % 20), lw=0.8,
                        label=name if j == 0 else None)
        ax.set_title(v["name"], fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=5, ncol=2)
    for ax in list(axes.flat)[len(with_scalars):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scalars.png"), dpi=90)
    plt.close(fig)

    sweep = report.get("sweep")
    if sweep and sweep["points"]:
        fig, ax = plt.subplots(figsize=(6, 4))
        pts = sorted((p["ratio"], p["val_loss"], p["std"]) for p in sweep["points"]
                     if p["val_loss"] is not None)
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts],
                    marker="o", capsize=3, label=f"fixed {sweep['define']} / {sweep['of']}")
        for k, l in enumerate(sweep["learned"]):
            ax.scatter([l["mean_ratio"]], [l["val_loss"]], marker="*", s=120, color=cmap(2 + k),
                       zorder=3, label=f"{l['variant']} (learned)")
        ax.set_xlabel("MLP ratio")
        ax.set_ylabel("validation loss")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "width.png"), dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: plot_study.py STUDY_DIR")
    main(sys.argv[1])
