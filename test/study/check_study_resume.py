"""rarun study, killed and run again, loses nothing and trains nothing twice.

usage: check_study_resume.py RARUN STUDY.toml WORKDIR

1. The study runs uninterrupted in WORKDIR/whole.
2. In WORKDIR/killed it is SIGKILLed while its second run trains, run
   again and stopped with SIGTERM while its third run trains, and run a
   third time to the end.
Checks: every rerun keeps the runs finished before (their files untouched)
and resumes the interrupted one from a checkpoint; the final report equals
the uninterrupted study's loss for loss, bit for bit; report.md has every
section."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

rarun, study, work = sys.argv[1:4]
whole, killed = os.path.join(work, "whole"), os.path.join(work, "killed")


def run(out, *extra):
    p = subprocess.run([rarun, "study", study, "--out", out, "--no-plots", *extra],
                       capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        sys.exit(f"rarun study failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout


def metrics_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def finished_files(out):
    """result.json and metrics.jsonl of finished runs -> (mtime_ns, size)."""
    files = {}
    for result in glob.glob(os.path.join(out, "runs", "*", "seed_*", "result.json")):
        d = os.path.dirname(result)
        for name in ("result.json", "metrics.jsonl"):
            st = os.stat(os.path.join(d, name))
            files[os.path.join(d, name)] = (st.st_mtime_ns, st.st_size)
    return files


def interrupt(out, launch_number, sig):
    """Starts the study; once run LAUNCH_NUMBER has trained some steps, signals it."""
    p = subprocess.Popen([rarun, "study", study, "--out", out, "--no-plots"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = None
    for line in p.stdout:
        if f"] " in line and line.startswith(f"rarun study: [{launch_number}/"):
            started = line
            break
    if started is None:
        sys.exit(f"the study never started run {launch_number}:\n{p.stderr.read()}")
    # The run's directory is the newest metrics.jsonl without a result.json.
    deadline = time.time() + 300
    while time.time() < deadline:
        live = [m for m in glob.glob(os.path.join(out, "runs", "*", "seed_*", "metrics.jsonl"))
                if not os.path.exists(os.path.join(os.path.dirname(m), "result.json"))]
        if live and metrics_lines(live[0]) >= 250:  # past two checkpoints, well before the end
            break
        time.sleep(0.002)
    else:
        sys.exit("the interrupted run never reached step 250")
    p.send_signal(sig)
    out_text, err = p.communicate(timeout=300)
    return p.returncode, started, err


os.makedirs(work, exist_ok=True)
run(whole)
reference = json.load(open(os.path.join(whole, "report.json")))

status, started, _ = interrupt(killed, 2, signal.SIGKILL)
assert status == -signal.SIGKILL, status
time.sleep(1)  # the orphaned trainer gets SIGTERM (its parent died) and stops
before = finished_files(killed)
assert len(before) == 2, f"one run finished before the kill, got {sorted(before)}"

status, started, err = interrupt(killed, 3, signal.SIGTERM)
assert status == 130, (status, err)
assert "interrupted" in err and "run the same command again" in err.lower(), err
after = finished_files(killed)
for path, stamp in before.items():
    assert after.get(path) == stamp, f"{path} was written again"
assert len(after) == 4, f"two runs finished before the SIGTERM, got {sorted(after)}"

final = run(killed)
assert "2 finished before (kept)" in final, final
assert "resuming at step" in final, final
for path, stamp in after.items():
    assert finished_files(killed).get(path) == stamp, f"{path} was written again"

report = json.load(open(os.path.join(killed, "report.json")))
for a, b in zip(reference["variants"], report["variants"]):
    assert a["name"] == b["name"]
    la = [r.get("val_loss") for r in a["runs"]]
    lb = [r.get("val_loss") for r in b["runs"]]
    assert la == lb and None not in la, (a["name"], la, lb)
    assert a["scalars"] == b["scalars"], a["name"]
md = open(os.path.join(killed, "report.md")).read()
for section in ("## Validation loss", "## Decisions", "## Learned scalars", "## Gradient flow"):
    assert section in md, section
resumed = [line for line in final.splitlines() if "resuming at step" in line]
print(f"ok: {len(report['variants'])} variants x {len(report['seeds'])} seeds; killed twice, "
      f"resumed {len(resumed)} run(s) from a checkpoint; losses identical to the uninterrupted "
      f"study")
