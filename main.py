"""Checkpoint Browser: `python main.py [PATH]` opens the window; `python main.py COMMAND …`
runs a headless command (inspect, dump, stats, verify). Imports nothing heavy itself."""

import os
import sys

# The app does no large matrix products; OpenBLAS's worker threads only spin against the
# app's own threads (a 128K-element np.dot took 8 ms instead of 40 µs on two cores).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

COMMANDS = {"inspect", "dump", "stats", "verify", "run", "diff", "trend"}


def main(argv: list[str] | None = None) -> int:
    if getattr(sys, "frozen", False):  # a frozen app's spawned runner process starts here
        import multiprocessing
        multiprocessing.freeze_support()
    argv = sys.argv[1:] if argv is None else argv
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version")):
        from app.cli import main as cli_main
        return cli_main(argv)
    from app.ui.app import main as gui_main
    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
