"""The state of one opened model, without Qt: which model, which checkpoint is current,
what is selected; it starts the background work and says what changed through events that
the window's panels (and headless front ends) subscribe to."""

from .events import Event
from .state import Document, Selection

__all__ = ["Document", "Event", "Selection"]
