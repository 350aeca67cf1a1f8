"""Starts `racc compile ARGS...` with a slow host compiler, waits until that
compiler has started, then sends racc SIGNAL (KILL or TERM). Prints whether
that compiler is still running afterwards (and then stops it).

usage: interrupt_compile.py RACC SLOW_CXX STARTED_FILE SIGNAL ARGS...
"""
import os
import signal
import subprocess
import sys
import time

racc, slow_cxx, started, sig, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
if os.path.exists(started):
    os.remove(started)
env = dict(os.environ, RACC_CXX=slow_cxx, SLOW_CXX_STARTED=started)
p = subprocess.Popen([racc, "compile", *args], stdout=subprocess.DEVNULL, env=env)
for _ in range(1200):
    if os.path.exists(started):
        break
    time.sleep(0.05)
compiler = int(open(started).read())
os.kill(p.pid, getattr(signal, "SIG" + sig))
p.wait()
time.sleep(0.5)


def running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


print("compiler left running" if running(compiler) else "compiler stopped")
if running(compiler):  # leave nothing behind for the next test
    os.kill(compiler, signal.SIGKILL)
