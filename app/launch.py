"""What a launch does with its arguments: `main(argv)` runs a headless command (inspect, dump,
…) or opens the window — or, when a window is already running, hands it the paths and ends.

The entry point of `ckpt-browser`, `ckpt-browser-gui`, `python -m checkpoint_browser` and the
source tree's `main.py`. Imports nothing heavy itself: a hand-over to a running window costs
a Python start-up and a round trip on a local socket.
"""

from __future__ import annotations

import os
import sys

from .cli.commands import COMMANDS  # the table alone: no argparse, no numpy

# The app does no large matrix products; OpenBLAS's worker threads only spin against the
# app's own threads (a 128K-element np.dot took 8 ms instead of 40 µs on two cores).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    if getattr(sys, "frozen", False):  # a frozen app's spawned runner process starts here
        import multiprocessing
        multiprocessing.freeze_support()
    argv = sys.argv[1:] if argv is None else argv
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version")):
        from .cli import main as cli_main
        return cli_main(argv)
    if "--new-instance" not in argv and not any(a in ("-h", "--help") for a in argv):
        # Another double-click: the running window opens the paths, and this process ends.
        from .handover import try_hand_over
        if try_hand_over(a for a in argv if not a.startswith("-")):
            return 0
    from .ui.app import main as gui_main
    return gui_main(argv)
