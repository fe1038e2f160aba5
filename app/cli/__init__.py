"""The headless commands: `main(argv)` parses a command line and runs its command.

Exit status, for every command: 0 all good; 1 opened, but something in it is broken
(said on stderr; what is good is still printed); 2 nothing could be read, or bad usage;
3 a bug of ours (see `common.run_command`).

Importing this package loads only the command table: app.launch reads it before it
knows whether the window or a command is wanted. The parser and the commands' modules
(numpy, the readers) are imported when `build_parser` or `main` is called.
"""

from __future__ import annotations

import importlib
import sys

from .commands import COMMANDS

__all__ = ["COMMANDS", "build_parser", "main"]


def build_parser():
    """The argparse parser of every command in COMMANDS; each module adds its own."""
    import argparse

    from .. import __version__
    p = argparse.ArgumentParser(prog="ckpt-browser", description=(
        "Look inside TensorFlow checkpoints, graphs and SavedModels. "
        "With no command (or just a PATH) the window opens."))
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        importlib.import_module(module, __name__).add_parser(sub, name, help_text)
    return p


def main(argv: list[str]) -> int:
    from .common import run_command
    for stream in (sys.stdout, sys.stderr):
        # checkpoint keys need not be UTF-8: print undecodable bytes as escapes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "bins", 1) < 1:
        parser.error("--bins must be at least 1")
    return run_command(args)
