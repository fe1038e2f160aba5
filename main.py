"""Checkpoint Browser from the source tree: `python main.py [PATH]` opens the window;
`python main.py COMMAND …` runs a headless command (inspect, dump, stats, verify, …).
Installed, the same entry point is `ckpt-browser`, `ckpt-browser-gui` or
`python -m checkpoint_browser`."""

import sys

from app.launch import main

if __name__ == "__main__":
    sys.exit(main())
