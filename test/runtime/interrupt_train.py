"""Starts `rarun train ARGS...`, waits until it has printed step AFTER, sends
it SIGNAL (INT or TERM), and prints its exit status and what it said on
stderr. usage: interrupt_train.py RARUN AFTER SIGNAL ARGS..."""
import signal
import subprocess
import sys

rarun, after, sig, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
p = subprocess.Popen([rarun, "train", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
for line in p.stdout:  # not a tty: one line per step
    if line.startswith(f"step {after}/"):
        p.send_signal(getattr(signal, "SIG" + sig))
        break
_, err = p.communicate(timeout=600)
print(f"exit {p.returncode}")
sys.stdout.write(err)
