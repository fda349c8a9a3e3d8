"""Fuzzing run: the properties that guard untrusted input, with many more examples.

    python bench/fuzz.py [--scale 40]

Runs the fuzzing tests listed in tests/fuzzing.py with UNCERTAIN_FUZZ_SCALE set, and prints
how many examples ran (from hypothesis' statistics) beside the short-run count.
Target: no failure.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

from _common import load_helper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=40, help="multiplier of example counts")
    args = parser.parse_args()
    started = time.perf_counter()
    # The list of fuzzing tests and how to run them belong to the tests.
    run_fuzzing = load_helper("tests/fuzzing.py").run_fuzzing
    result = run_fuzzing(args.scale, "--hypothesis-show-statistics")
    elapsed = time.perf_counter() - started
    passing = [int(n) for n in re.findall(r"(\d+) passing", result.stdout)]
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "no output"
    print(
        f"fuzzing, scale x{args.scale}: {sum(passing)} passing examples over "
        f"{len(passing)} properties in {elapsed:.0f} s; {summary}"
    )
    print(f"  target: no failure -> {'met' if result.returncode == 0 else 'MISSED'}")
    if result.returncode != 0:
        print(result.stdout[-4000:])
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
