#!/usr/bin/env python3
"""Runs Debian's lit.py for one ctest entry, without lit's timing file.

ctest runs each lit test as its own `lit` process, in parallel. lit reads
and rewrites `<exec_root>/.lit_test_times.txt` on every run, with no lock and
no atomic rename, so one process can read the file while another has just
truncated it and fail in discovery ("not enough values to unpack"), failing
every test that starts at that moment. The times only order tests within one
lit run, which is always a single test here, so they are neither read nor
written.
"""
import sys

LIT_DIR = "/usr/lib/llvm-16/build/utils/lit"
sys.path.insert(0, LIT_DIR)

import lit.Test  # noqa: E402
import lit.main  # noqa: E402

lit.Test.read_test_times = lambda suite: {}
lit.main.record_test_times = lambda tests, lit_config: None

if __name__ == "__main__":
    lit.main.main()
