"""Long, coverage-guided fuzzing of the parsers (run on demand):

    .venv/bin/python tests/bench/fuzz_parsers.py [--examples 20000] [--target NAME]

Hypothesis generates and mutates the inputs (raw bytes, and field-structured bundle
entries so that lying shapes, offsets and slices come up often) and shrinks any failure to
a minimal example, printed with the target's name — add it to tests/corpus/generate.py as
a case. (Hypothesis is not coverage-guided the way atheris/libFuzzer are; the structured
targets are what reach the deep paths.)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.fuzz_targets import TARGETS  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--examples", type=int, default=20000)
    p.add_argument("--target", choices=sorted(TARGETS))
    args = p.parse_args()
    for name in [args.target] if args.target else sorted(TARGETS):
        fn = TARGETS[name]
        start = time.perf_counter()

        @settings(max_examples=args.examples, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(st.binary(max_size=8192))
        def check(data):
            fn(data)

        check()
        print(f"{name}: {args.examples} inputs, no failure, {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
