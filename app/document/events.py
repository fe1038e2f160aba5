"""Change notification without Qt: an `Event` is a list of callbacks, called in order on
the thread that emits it. The document emits only on its owner's thread (the window's UI
thread; background results arrive there through the lanes), so subscribers may touch
widgets."""

from __future__ import annotations

from typing import Callable


class Event:
    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callable] = []

    def connect(self, callback: Callable) -> Callable:
        """Call `callback(*args)` on each emit; returns it, so it can serve as a decorator."""
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable) -> None:
        self._callbacks = [c for c in self._callbacks if c != callback]

    def emit(self, *args) -> None:
        # A copy: a subscriber may connect or disconnect others while being called.
        for callback in list(self._callbacks):
            callback(*args)

    def __repr__(self) -> str:
        return f"<Event {self.name}: {len(self._callbacks)} subscriber(s)>"
