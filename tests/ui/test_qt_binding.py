"""Guards against a Qt binding that corrupts the interpreter: PySide6 6.12.0's Signal.emit
dropped a reference to True on every call, so a long session aborted Python."""

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(object)


def test_emitting_signals_keeps_reference_counts():
    emitter = _Emitter()
    received = []
    emitter.fired.connect(received.append)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(1000):
        emitter.fired.emit(i)
    after = sys.getrefcount(True), sys.getrefcount(False)
    assert len(received) == 1000
    assert after[0] >= before[0] - 5 and after[1] >= before[1] - 5, (before, after)
