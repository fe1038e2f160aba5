"""Running tensors of a model: the only part of the app that imports TensorFlow.

- `feeds`      parse the values a user types for a placeholder (never evaluated as code)
               and check them against the placeholder's dtype and shape. Pure.
- `graphwalk`  walk a graph back from the fetches: the placeholders they need, and the ops
               on the way that touch files, processes or the network. Pure.
- `session`    one TensorFlow graph + session kept warm: import once, restore when the
               checkpoint changes, run. TensorFlow is imported inside its functions only.
- `worker`     that session in a separate process, so a run can be cancelled by ending
               the process; `RunnerClient` is the handle the window and scripts hold.
- `service`    a run as the command line and the Run panel both make it: what it needs
               (feeds, unsafe ops, names not in the graph), its feeds checked, and every
               checkpoint run under one error policy. Pure.

Importing this package (or `feeds`, `graphwalk`, `session`, `worker`, `service`) loads no
TensorFlow.
"""
