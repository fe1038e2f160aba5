"""The `freeze` command: a model and chosen outputs → one frozen GraphDef, its variables
folded into constants and pruned to what the outputs need.

    python main.py freeze PATH --output NAME [--output …] -o OUT.pb [--signature KEY]
        [--checkpoint STEP|PREFIX] [--allow-unsafe-ops] [--json]

PATH is any form the other commands take: a checkpoint prefix or file, a run folder (its
latest checkpoint), FOLDER@STEP, or a SavedModel folder. Outputs are op or tensor names
of a TF1 graph, or a SavedModel signature's output keys (no --output: all of them).

Exit codes: 0 written; 2 bad usage, a name not in the graph, nothing to freeze, a
destination that cannot be, unsafe ops (refused unless --allow-unsafe-ops), TensorFlow
missing, or freezing failed (nothing is left behind then).

Unlike `run`, the work is done in the runner's worker process: Ctrl+C ends that process
at once, and the temporary file it was writing is removed before this one exits.
"""

from __future__ import annotations

import os
import sys

from ..runner import service
from ..runner.session import RunError
from ..formats.display import human_bytes
from .common import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, StatusLine, UsageError, dump_json,
                     split_at_step)




def _shape(shape) -> str:
    from ..runner.feeds import shape_text
    return shape_text(shape)


def cmd_freeze(args) -> int:
    path, which = split_at_step(args.path)
    if which is not None and args.checkpoint is not None:
        raise UsageError("give the checkpoint either as FOLDER@STEP or with --checkpoint")
    try:
        request = service.plan_freeze(path, args.output or [], args.out,
                                      checkpoint=which or args.checkpoint,
                                      signature=args.signature,
                                      allow_unsafe=args.allow_unsafe_ops)
    except RunError as e:
        if e.kind != "unsafe":
            raise UsageError(str(e)) from None
        print("error: refusing to freeze: these ops reach outside the session "
              "(files, processes or the network):", file=sys.stderr)
        for line in e.ops:
            print(f"  {line}", file=sys.stderr)
        print("freeze anyway with --allow-unsafe-ops, if you trust this graph", file=sys.stderr)
        return EXIT_FAILED

    from ..runner.worker import RunnerClient
    status = StatusLine()
    client = RunnerClient()
    def runner(req):
        try:
            return client.freeze(req, on_status=status)
        finally:  # the worker's memory (the restored session) is given back before the
            client.close()  # written graph is read back

    try:
        result = service.freeze(request, runner, on_status=status)
    except RunError as e:
        status.clear()
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        status.clear()
        return EXIT_INTERRUPTED
    finally:
        status.clear()
        client.close()

    if args.json:
        dump_json({"destination": result.destination, "nodes": result.nodes,
                   "variables_folded": result.folded, "constants": result.constants,
                   "bytes": result.size, "checkpoint": result.checkpoint, "step": result.step,
                   "signature": result.signature, "outputs": result.outputs,
                   "inputs": [{"name": n, "dtype": d, "shape": None if s is None else list(s)}
                              for n, d, s in result.inputs],
                   "seconds": result.seconds})
        return EXIT_OK
    print(f"wrote {result.destination}  ({human_bytes(result.size)}, {result.nodes} nodes, "
          f"{result.folded} variable{'s' if result.folded != 1 else ''} folded into constants)")
    if result.checkpoint and result.signature is None:
        step = f" (step {result.step})" if result.step is not None else ""
        print(f"  values of   {os.path.basename(result.checkpoint)}{step}")
    if result.signature:
        print(f"  signature   {result.signature}")
    for label, tensor in result.outputs.items():
        alias = f"  ({label})" if tensor.removesuffix(":0") != label.removesuffix(":0") else ""
        print(f"  output      {tensor}{alias}")
    for name, dtype, shape in result.inputs:
        print(f"  input       {name}  {dtype} {_shape(shape)}")
    return EXIT_OK


def add_parser(sub, name: str, help_text: str) -> None:
    """Add `freeze` (as app.cli.commands lists it)."""
    sp = sub.add_parser(name, help=help_text,
                        description="Fold a checkpoint's variables into the constants of its "
                                    "graph, pruned to what the outputs need, and write one "
                                    "GraphDef for serving (freeze_graph, done for you).")
    sp.add_argument("path", help="a checkpoint (prefix or any of its files), a run folder "
                                 "(its latest checkpoint), FOLDER@STEP, or a SavedModel folder")
    sp.add_argument("--output", action="append", metavar="NAME",
                    help="an op or tensor to keep (name or name:0), or a signature output key; "
                         "repeatable. A SavedModel without --output: every output of the "
                         "signature")
    sp.add_argument("-o", "--out", required=True, metavar="OUT.pb",
                    help="the file to write (.pbtxt: the text form); never the model's own "
                         "files or inside its folder")
    sp.add_argument("--signature", metavar="KEY",
                    help=f"SavedModel: the signature to freeze (default: "
                         f"{service.DEFAULT_SIGNATURE})")
    sp.add_argument("--checkpoint", metavar="STEP|PREFIX",
                    help="which checkpoint of a run (default: the latest)")
    sp.add_argument("--allow-unsafe-ops", action="store_true",
                    help="freeze even if ops on the way read or write files, run Python code "
                         "or talk to the network")
    sp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    sp.set_defaults(func=cmd_freeze)
