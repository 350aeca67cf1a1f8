#!/usr/bin/env python3
"""Writes the tokenizer fixtures in test/tokenizer/Inputs/ from tiktoken.

Run with a Python that has tiktoken (scripts/peer_venv.sh makes one):
    $RACC_PEER_PYTHON test/tokenizer/make_fixtures.py
The fixtures are committed, so CI checks racc's tokenizer against tiktoken's
output without tiktoken:

  adversarial.txt / .ids   text built to break tokenizers (every Unicode plane,
                           all White_Space characters in runs, contractions,
                           digits, the special token as text) and tiktoken's
                           ids for it (encode_ordinary)
  invalid_utf8.bin / .pieces / .ids
                           bytes that are not UTF-8. tiktoken takes only str,
                           so the expectation is racc's definition: each byte
                           that does not start a well-formed sequence is one
                           character of class Other. Python's surrogateescape
                           decoding gives exactly that (a lone surrogate per
                           byte, category Cs), so the `regex` module's match of
                           GPT-2's pattern gives the pieces, and tiktoken's
                           BPE of each piece's bytes the ids.
  fortunes.json            per file of /usr/share/games/fortunes: its SHA-256
                           and the SHA-256 and count of [<|endoftext|>] +
                           tiktoken's ids (uint16, little-endian)
"""
import glob
import hashlib
import json
import os
import random
import struct
import sys

import regex

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiktoken_peer import GPT2_PATTERN, gpt2_encoding  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Inputs")
FORTUNES = "/usr/share/games/fortunes"
EOT = 50256

WHITE_SPACE = [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680] + list(range(0x2000, 0x200B)) + [
    0x2028, 0x2029, 0x202F, 0x205F, 0x3000]


def adversarial_text():
    rng = random.Random(20250625)
    parts = []
    # Contractions in every case and position, and apostrophes that are not.
    parts += ["don't I'm he'll they've we're she'd it's 'tis ''s '  s DON'T I'M HE'LL 'S 'LL 'Ve",
              "rock'n'roll ' 're 'rex 'll'll'd ’s ‘quoted’ l'été", "x's\n's\n'"]
    # White space: every White_Space character alone, in runs, before words and at the end.
    for c in WHITE_SPACE:
        ch = chr(c)
        parts += [f"a{ch}b", f"a{ch}{ch}b", f"a {ch}b", f"a{ch} b", f"{ch}{ch}{ch}", f"1{ch}2 !{ch}?"]
    parts += ["   leading", "trailing   ", "\n\n\nparagraphs\n\n", "tabs\t\tand\t \tspaces", "crlf\r\nline\r\n",
              "\u001c\u001d\u001e\u001f not White_Space", " " * 17 + "x" + "\t" * 9]
    # Digits: ASCII, long runs, other scripts' digits, numbers that are not digits.
    parts += ["0 12 345 6789 1234567890123 3.14159 1,000,000 -42 +7 1e-9 0x1F",
              "٠١٢٣ ०१२३ ໑໒ ①②③ Ⅻ ½ ¾ ²³ 𝟘𝟙𝟚", "a1b2c3 1a2b 12ab ab12"]
    # Letters and symbols of many scripts, combining marks, emoji with joiners.
    parts += ["naïve café Ünïcödé ß ﬁ Ǆ ǅ", "Привет мир Ελληνικά עברית العربية हिन्दी ไทย 中文 日本語 한국어",
              "é (e + U+0301) ẹ̄ 👩‍👩‍👧‍👦 🇩🇪 ❤️ ☃ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∑∫√ ← →",
              "<|endoftext|> is text here, <|endoftext|><|endoftext|>", "\u200b\u200c\u200d\ufeff zero widths"]
    # Every plane: assigned, private-use and noncharacter code points, in letter/digit/space contexts.
    for plane in range(17):
        base = plane << 16
        for c in sorted({base + 0x41, base + 0x100, base + 0x4E00, base + 0xE000, base + 0xFFFD, base + 0xFFFE,
                         base + 0xFFFF} | {base + rng.randrange(0x10000) for _ in range(24)}):
            if 0xD800 <= c <= 0xDFFF:
                continue
            ch = chr(c)
            parts.append(f"a{ch}1{ch} {ch}!{ch}  {ch}")
    rng.shuffle(parts)
    return "\n".join(parts) + "\n"


def invalid_utf8_bytes():
    cases = [b"\x80", b"\xbf\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xc2", b"\xc2 a", b"\xe0\x80\xaf", b"\xe2\x82",
             b"\xe2\x82a", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x8f\xbf\xbf", b"\xf4\x90\x80\x80",
             b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfe\xff", b"\xff", b"word\xffword",
             b" \xff ", b"'\xffs", b"\xff's", b"12\xff34", b"  \xff", b"\xff  ", b"caf\xe9 latin-1",
             b"\xef\xbb\xbfBOM", b"\x00nul\x00", b"ok \xf0\x9f\x98\x80 then \xf0\x9f\x98 cut"]
    return b"\n".join(cases) + b"\n"


def pieces_of(data):
    text = data.decode("utf-8", "surrogateescape")
    return [p.encode("utf-8", "surrogateescape") for p in regex.findall(GPT2_PATTERN, text)]


def main():
    enc = gpt2_encoding()
    os.makedirs(HERE, exist_ok=True)

    text = adversarial_text()
    data = text.encode("utf-8")
    ids = enc.encode_ordinary(text)
    # The regex module and tiktoken's engine agree on valid text: check it, since
    # the invalid-UTF-8 fixture relies on the regex module.
    assert b"".join(pieces_of(data)) == data
    assert [i for p in pieces_of(data) for i in enc._encode_single_piece(p)] == ids
    open(os.path.join(HERE, "adversarial.txt"), "wb").write(data)
    open(os.path.join(HERE, "adversarial.ids"), "w").write("".join(f"{i}\n" for i in [EOT] + ids))

    data = invalid_utf8_bytes()
    pieces = pieces_of(data)
    assert b"".join(pieces) == data
    open(os.path.join(HERE, "invalid_utf8.bin"), "wb").write(data)
    open(os.path.join(HERE, "invalid_utf8.pieces"), "w").write("".join(p.hex() + "\n" for p in pieces))
    ids = [i for p in pieces for i in enc._encode_single_piece(p)]
    open(os.path.join(HERE, "invalid_utf8.ids"), "w").write("".join(f"{i}\n" for i in [EOT] + ids))

    files = {}
    for path in sorted(glob.glob(FORTUNES + "/*")):
        name = os.path.basename(path)
        if os.path.islink(path) or not os.path.isfile(path) or name.endswith((".dat", ".u8")):
            continue
        raw = open(path, "rb").read()
        ids = [EOT] + enc.encode_ordinary(raw.decode("utf-8"))
        files[name] = {"sha256": hashlib.sha256(raw).hexdigest(), "tokens": len(ids),
                       "ids_sha256": hashlib.sha256(struct.pack(f"<{len(ids)}H", *ids)).hexdigest()}
    json.dump({"tokenizer": "tiktoken " + __import__("tiktoken").__version__, "files": files},
              open(os.path.join(HERE, "fortunes.json"), "w"), indent=1)
    print(f"wrote {HERE}: {len(files)} fortune files, {sum(f['tokens'] for f in files.values())} tokens")


if __name__ == "__main__":
    main()
