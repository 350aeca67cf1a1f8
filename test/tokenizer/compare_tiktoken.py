#!/usr/bin/env python3
"""racc's GPT-2 tokenizer against tiktoken itself (run with a Python that has
tiktoken; the tiktoken-live test does when RACC_PEER_PYTHON has it).

Checks: identical ids on every file of the fortunes corpus; identical ids on
every Unicode code point but the surrogates, each in contexts that expose its
class (after a letter, a digit, a space, a symbol, a run of spaces); and
reports both tokenizers' single-thread throughput on fortunes.
    compare_tiktoken.py RARUN [FORTUNES_DIR]
"""
import glob
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiktoken_peer import gpt2_encoding  # noqa: E402

rarun = sys.argv[1]
corpus = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/games/fortunes"
enc = gpt2_encoding()
EOT = 50256


def ours(path):
    out = subprocess.run([rarun, "tokenize", "--print", "ids", path], capture_output=True, text=True, check=True)
    return [int(x) for x in out.stdout.split()]


files = sorted(f for f in glob.glob(corpus + "/*")
               if os.path.isfile(f) and not os.path.islink(f) and not f.endswith((".dat", ".u8")))
bad = [f for f in files if ours(f) != [EOT] + enc.encode_ordinary(open(f, "rb").read().decode("utf-8"))]
print(f"fortunes: {len(files) - len(bad)}/{len(files)} files identical" + "".join(f"\n  differs: {f}" for f in bad))

text = "".join(f"a{chr(c)}1{chr(c)} {chr(c)}!{chr(c)}  {chr(c)}\n" for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
    f.write(text)
same = ours(f.name) == [EOT] + enc.encode_ordinary(text)
os.unlink(f.name)
print(f"code points: all {0x110000 - 0x800} {'identical' if same else 'NOT identical'}")

# Throughput, one thread: tiktoken's encode_ordinary against racc's encoder
# as rarun tokenize reports it (MB/s of the tokenizing loop).
whole = "".join(open(f, encoding="utf-8").read() for f in files)
mb = len(whole.encode("utf-8")) / 1e6
times = []
for _ in range(3):
    t0 = time.perf_counter()
    enc.encode_ordinary(whole)
    times.append(time.perf_counter() - t0)
print(f"tiktoken: {mb / min(times):.1f} MB/s on {mb:.1f} MB (best of 3, one thread)")
with tempfile.TemporaryDirectory() as d:
    runs = [subprocess.run([rarun, "tokenize", corpus, "-o", d], capture_output=True, text=True, check=True).stdout
            for _ in range(3)]
rates = [float(r.split(" MB/s")[0].rsplit(" ", 1)[1]) for r in runs]
print(f"racc:     {max(rates):.1f} MB/s on the same files (best of 3, one thread, rarun tokenize)")
sys.exit(1 if bad or not same else 0)
