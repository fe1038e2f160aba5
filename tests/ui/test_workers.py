"""The worker lanes: newest request wins, errors come back as messages, closed lanes
ignore late requests."""

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.formats.errors import FormatError  # noqa: E402
from app.ui.workers import Lane  # noqa: E402


def test_a_newer_request_makes_the_older_stale(qtbot):
    lane = Lane("t")
    gate = threading.Event()
    got = []
    lane.submit(lambda job: gate.wait(5) and "old", got.append)
    lane.submit(lambda job: "new", got.append)
    gate.set()
    qtbot.waitUntil(lambda: not lane.busy, timeout=5000)
    qtbot.waitUntil(lambda: got == ["new"], timeout=5000)
    lane.shutdown()
    assert got == ["new"]


def test_errors_arrive_as_messages(qtbot):
    lane = Lane("t")
    errors = []

    def fail(job):
        raise FormatError("/x/model.index", "truncated")

    lane.submit(fail, lambda r: None, lambda msg, more: errors.append(msg))
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert errors == ["/x/model.index: truncated"]
    lane.shutdown()


def test_a_closed_lane_ignores_late_requests(qtbot):
    lane = Lane("t")
    lane.shutdown()
    assert lane.submit(lambda job: 1, lambda r: None) is None and not lane.busy
