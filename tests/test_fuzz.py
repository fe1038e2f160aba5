"""A short, bounded fuzz run of every parser on each test run (the long one is
tests/bench/fuzz_parsers.py). Findings become corpus cases in tests/corpus."""

import pytest

from .conftest import require  # noqa: E402

hypothesis = require("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from .fuzz_targets import TARGETS  # noqa: E402


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_parser_survives_arbitrary_bytes(target):
    fn = TARGETS[target]

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=2048))
    def check(data):
        fn(data)

    check()
