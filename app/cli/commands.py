"""The commands of the command line, in one table.

`app.launch` reads it to tell a command from a path to open in the window, so it imports
nothing: a second launch that hands its paths to a running window must stay light. The
parser (`app.cli.build_parser`) is built from it, in its order.
"""

# name → (the module of app.cli that adds and runs it, its one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "inspect": (".inspect", "summary of a model: checkpoints, variables, graph"),
    "dump": (".inspect", "write a tensor to OUT.npy, or every variable to OUT.npz"),
    "stats": (".inspect", "statistics and histogram of one tensor"),
    "verify": (".inspect", "check every tensor's crc32c in every checkpoint"),
    "diff": (".compare", "how much every variable changed from checkpoint A to B"),
    "trend": (".compare", "one variable across every checkpoint of a run"),
    "run": (".run", "run tensors of a model on values given as feeds"),
    "freeze": (".freeze", "fold a checkpoint's variables into its graph: one frozen .pb for serving"),
    "watch": (".watch", "follow a training folder: each checkpoint as it lands or is deleted"),
    "edit": (".edit", "write a changed copy of a checkpoint: keep, drop, strip, rename, cast, merge"),
    "average": (".edit", "average the last N checkpoints of a run into a new checkpoint"),
    "scalars": (".scalars", "the training curves a run logged: scalar summaries of its event files"),
}
