"""What running some tensors of a graph involves, found without TensorFlow: the
placeholders that need a value, and the ops on the way that reach outside the session —
files, processes, the network. Pure: works on `app.formats.graph.Graph`.

The walk goes back from the fetched ops through data and control inputs, the way
TensorFlow prunes a graph before running it. Variables and constants end the walk along
data edges (their control inputs still run, so those are followed). A tensor that is fed
replaces its producer, so the walk does not go behind it. Graphs may have cycles (the
NextIteration → Merge back edges of while loops): every op is visited once.

Functions (TF2 graphs call them through PartitionedCall, While, If, …) are not walked
edge by edge; every op in a called function, and in the functions it calls, counts as
on the path. For safety that is the careful reading.

## Unsafe ops

`UNSAFE_OPS` lists, by what they do, the ops a graph from elsewhere could use to act on
the machine when a tensor is run:

- writes files: WriteFile, Save/SaveV2/SaveSlices, MergeV2Checkpoints, summary writers
  (CreateSummaryFileWriter, Write*Summary, ImportEvent, …), tf.data writers (SaveDataset,
  DatasetToTFRecord, snapshots, DistributedSave), debugger dumps (DebugIdentity*, …),
  PrintV2 when its output_stream is a `file://` path;
- reads files: ReadFile, MatchingFiles, Restore/RestoreV2/RestoreSlice, the queue readers
  (WholeFileReader, TextLineReader, TFRecordReader, FixedLengthRecordReader, LMDBReader,
  IdentityReader and ReaderRead*), file datasets (TFRecordDataset, TextLineDataset, CSV,
  SQL, LMDB, LoadDataset, …), InitializeTableFromTextFile, LoadAndRemapMatrix,
  GenerateVocabRemapping, ImmutableConst (maps a file into memory), RecordInput, and
  DecodeProtoV2/EncodeProto when their descriptor_source names a file;
- runs Python code: PyFunc, PyFuncStateless, EagerPyFunc;
- talks to other processes or machines: _Send/_Recv/_HostSend/_HostRecv, Send/Recv,
  the Rpc* ops, RemoteCall, collective and NCCL ops, tf.data service (DataServiceDataset,
  RegisterDataset), distributed-TPU set-up;
- changes settings of the file systems: FileSystemSetConfiguration.

Not listed: Print and PrintV2 to stderr/stdout (they only print), Assert, and ops that
change variables or tables (Assign*, Apply*, Scatter*, …). Those change nothing outside
the session; they are reported separately as `mutating`, because after running them the
session's variables no longer hold the checkpoint's values.

A TensorFlow checkpoint restore itself is also a graph program: `restore_problems` checks
that the saver's restore op does nothing but read the checkpoint it is given, and
`loader_problems` does the same for what loading a SavedModel runs (restore, then its
init op; reading the SavedModel's own asset files is expected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..formats import tensors
from ..formats.dtypes import enum_name
from ..formats.graph import VARIABLE_OPS, Graph, input_node

WRITES = "writes files"
READS = "reads files"
CODE = "runs Python code"
NETWORK = "talks to other processes or machines"
SETTINGS = "changes file-system settings"

UNSAFE_OPS: dict[str, str] = {}
for _risk, _names in {
    WRITES: """WriteFile Save SaveV2 SaveSlices MergeV2Checkpoints SaveDataset SaveDatasetV2
        DatasetToTFRecord ExperimentalDatasetToTFRecord DistributedSave SnapshotDataset
        SnapshotDatasetV2 CreateSummaryFileWriter CreateSummaryDbWriter SummaryWriter
        WriteSummary WriteScalarSummary WriteHistogramSummary WriteImageSummary
        WriteAudioSummary WriteGraphSummary WriteRawProtoSummary ImportEvent
        FlushSummaryWriter CloseSummaryWriter StatsAggregatorSetSummaryWriter DebugIdentity
        DebugIdentityV2 DebugIdentityV3 DebugNanCount DebugNumericSummary DumpTensor
        CalibrationStatisticsSaver""",
    READS: """ReadFile MatchingFiles MatchingFilesDataset ExperimentalMatchingFilesDataset
        Restore RestoreV2 RestoreSlice DTensorRestoreV2 WholeFileReader WholeFileReaderV2
        TextLineReader TextLineReaderV2 FixedLengthRecordReader FixedLengthRecordReaderV2
        TFRecordReader TFRecordReaderV2 LMDBReader IdentityReader IdentityReaderV2 ReaderRead
        ReaderReadV2 ReaderReadUpTo ReaderReadUpToV2 ReaderRestoreState ReaderRestoreStateV2
        TFRecordDataset TFRecordDatasetV2 TextLineDataset FixedLengthRecordDataset
        FixedLengthRecordDatasetV2 LMDBDataset ExperimentalLMDBDataset CSVDataset CSVDatasetV2
        ExperimentalCSVDataset SqlDataset ExperimentalSqlDataset LoadDataset
        SnapshotDatasetReader SnapshotNestedDatasetReader SnapshotChunkDataset
        ListSnapshotChunksDataset InitializeTableFromTextFile InitializeTableFromTextFileV2
        GenerateVocabRemapping LoadAndRemapMatrix ImmutableConst RecordInput""",
    CODE: "PyFunc PyFuncStateless EagerPyFunc",
    NETWORK: """_Send _Recv _HostSend _HostRecv Send Recv Rpc TryRpc RpcCall RpcClient
        RpcServer RpcServerRegister RpcServerStart RpcGetValue RpcCheckStatus RemoteCall
        DataServiceDataset DataServiceDatasetV2 DataServiceDatasetV3 DataServiceDatasetV4
        RegisterDataset RegisterDatasetV2 ConfigureDistributedTPU _ConfigureDistributedTPU
        ShutdownDistributedTPU _ShutdownDistributedTPU _InitializeHostForDistributedTPU
        _WaitForDistributedTPU _DisconnectHostFromDistributedTPUSystem""",
    SETTINGS: "FileSystemSetConfiguration",
}.items():
    for _name in _names.split():
        UNSAFE_OPS[_name] = _risk
# Families matched by prefix: collective communication between workers.
_NETWORK_PREFIXES = ("Collective", "_Nccl", "Nccl")

# Ops that read a file named by their first input; restores are expected there.
RESTORE_OPS = frozenset({"Restore", "RestoreV2", "RestoreSlice"})
# Ops whose first input is the file they act on (for showing the target).
_FILE_INPUT_OPS = frozenset({"WriteFile", "ReadFile", "MatchingFiles", "Save", "SaveV2",
                             "SaveSlices", "Restore", "RestoreV2", "RestoreSlice",
                             "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
                             "CreateSummaryFileWriter"})
_TABLE_FILE_OPS = frozenset({"InitializeTableFromTextFile", "InitializeTableFromTextFileV2"})

CONSTANT_OPS = frozenset({"Const", "HostConst"})
PLACEHOLDER_OPS = frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})
_PASS_THROUGH = frozenset({"Identity", "IdentityN", "Snapshot", "StopGradient"})

# Ops that change variables or tables in place. Not unsafe, but the session's state differs
# from the checkpoint afterwards.
_MUTATING_PREFIXES = ("Assign", "Apply", "ResourceApply", "SparseApply", "ResourceSparseApply",
                      "Scatter", "ResourceScatter", "StridedSliceAssign",
                      "ResourceStridedSliceAssign", "CountUpTo", "ResourceCountUpTo",
                      "LookupTableInsert", "LookupTableRemove", "LookupTableImport",
                      "InitializeTable", "DestroyResourceOp")
_NOT_MUTATING = frozenset({"ScatterNd", "ScatterNdNonAliasingAdd"})


def is_mutating(op_type: str) -> bool:
    return op_type not in _NOT_MUTATING and op_type.startswith(_MUTATING_PREFIXES)


# -- results ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Placeholder:
    """A placeholder the fetches need; `optional` for PlaceholderWithDefault."""
    name: str                           # op name
    dtype: str                          # TensorFlow's name: "float32", "string", ...
    shape: tuple[int | None, ...] | None  # None: unknown rank; None dims: unknown size
    optional: bool = False

    @property
    def tensor(self) -> str:
        return self.name + ":0"

    def describe(self) -> str:
        from .feeds import shape_text
        extra = ", optional" if self.optional else ""
        return f"{self.name} ({self.dtype}, {shape_text(self.shape)}{extra})"


@dataclass(frozen=True)
class UnsafeOp:
    name: str                # the op's node name (inside `function`, when set)
    op: str                  # its type
    risk: str                # WRITES, READS, CODE, NETWORK or SETTINGS
    target: str = ""         # the file it names, when that is a constant
    function: str | None = None

    def __str__(self) -> str:
        where = f" in function {self.function}" if self.function else ""
        target = f": {self.target}" if self.target else ""
        return f"{self.name} ({self.op}{where}) {self.risk}{target}"


@dataclass
class FetchPath:
    """What running `fetches` (op names) involves."""
    fetches: list[str]
    placeholders: list[Placeholder] = field(default_factory=list)
    unsafe: list[UnsafeOp] = field(default_factory=list)
    mutating: list[str] = field(default_factory=list)   # op names that change state
    missing: list[str] = field(default_factory=list)    # names that are not in the graph
    # function name -> what calls it: graph nodes by name, None for a call from inside a
    # function (for checking restores: every call must pass the file)
    callers: dict[str, list[str | None]] = field(default_factory=dict, repr=False)

    @property
    def required(self) -> list[Placeholder]:
        return [p for p in self.placeholders if not p.optional]


# -- names -------------------------------------------------------------------------------

def split_tensor(name: str) -> tuple[str, int]:
    """"x:1" → ("x", 1); "x" → ("x", 0); "^x" → ("x", 0)."""
    name = name[1:] if name.startswith("^") else name
    op, sep, index = name.rpartition(":")
    if sep and index.isdigit():
        return op, int(index)
    return name, 0


def tensor_name(name: str) -> str:
    """The canonical "op:index" form of a tensor name given with or without ":0"."""
    op, index = split_tensor(name)
    return f"{op}:{index}"


# -- the walk --------------------------------------------------------------------------

def analyze(graph: Graph, fetches: Iterable[str], fed: Iterable[str] = ()) -> FetchPath:
    """Walk back from `fetches` (tensor or op names) to what they need. `fed`: tensor
    names given values, which cut the walk."""
    fed_tensors = {tensor_name(f) for f in fed}
    # Fetching a fed tensor just returns the fed value: nothing behind it runs.
    start = [split_tensor(f)[0] for f in fetches if tensor_name(f) not in fed_tensors]
    return _walk(graph, start, fed_tensors)


def _walk(graph: Graph, start: list[str], fed: set[str]) -> FetchPath:
    result = FetchPath(fetches=list(start))
    seen: set[str] = set()
    stack = list(reversed(start))
    functions = _FunctionScan(graph, result)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        i = graph.index.get(name)
        if i is None:
            result.missing.append(name)
            continue
        node = graph.nodes[i]
        _inspect_node(graph, node, result, None)
        functions.scan_node(node)
        if node.op in PLACEHOLDER_OPS:
            result.placeholders.append(placeholder_of(node))
        data_edges = node.op not in VARIABLE_OPS and node.op not in CONSTANT_OPS
        for inp in reversed(node.input):
            if inp.startswith("^"):
                stack.append(inp[1:])
            elif data_edges and tensor_name(inp) not in fed:
                stack.append(input_node(inp))
    return result


def placeholder_of(node) -> Placeholder:
    """A Placeholder or PlaceholderWithDefault node as a `Placeholder`."""
    dtype = enum_name(node.attr["dtype"].type) if "dtype" in node.attr else "unknown"
    shape = None
    if "shape" in node.attr:
        shape = tensors.shape_of(node.attr["shape"].shape)
    return Placeholder(node.name, dtype, shape, node.op == "PlaceholderWithDefault")


def _inspect_node(graph: Graph | None, node, result: FetchPath, function: str | None) -> None:
    """Note `node` if it is unsafe or mutating: an op of `graph`, or (graph None) of `function`."""
    risk = classify(node)
    if risk is not None:
        target = _file_target(graph, node) if graph is not None else ""
        result.unsafe.append(UnsafeOp(node.name, node.op, risk, target, function))
    if is_mutating(node.op):
        result.mutating.append(node.name if function is None else f"{function}/{node.name}")


def classify(node) -> str | None:
    """The risk of one op (a NodeDef), or None when it stays inside the session."""
    op = node.op
    risk = UNSAFE_OPS.get(op)
    if risk is not None:
        return risk
    if op.startswith(_NETWORK_PREFIXES):
        return NETWORK
    if op == "PrintV2" and "output_stream" in node.attr:
        stream = node.attr["output_stream"].s.decode("utf-8", "replace")
        if stream.startswith("file://"):
            return WRITES
    if op in ("DecodeProtoV2", "EncodeProto") and "descriptor_source" in node.attr:
        source = node.attr["descriptor_source"].s.decode("utf-8", "replace")
        if source not in ("", "local://"):
            return READS
    return None


def _file_target(graph: Graph, node) -> str:
    """The file an op names, when its first input is a string constant."""
    if node.op == "PrintV2":
        return node.attr["output_stream"].s.decode("utf-8", "replace")[len("file://"):]
    if node.op == "ImmutableConst" and "memory_region_name" in node.attr:
        return node.attr["memory_region_name"].s.decode("utf-8", "replace")
    arg = 1 if node.op in _TABLE_FILE_OPS else 0
    if node.op not in _FILE_INPUT_OPS or len(node.input) <= arg:   # a hand-made graph may lack it
        return ""
    return _string_constant(graph, node.input[arg]) or ""


def _string_constant(graph: Graph, inp: str) -> str | None:
    """A string Const's value (following Identity ops), or None."""
    name = input_node(inp)
    for _ in range(8):
        i = graph.index.get(name)
        if i is None:
            return None
        node = graph.nodes[i]
        if node.op in _PASS_THROUGH and node.input:
            name = input_node(node.input[0])
            continue
        if node.op != "Const" or "value" not in node.attr:
            return None
        try:
            value = tensors.to_array(node.attr["value"].tensor)
        except ValueError:
            return None
        if value.dtype != object or value.size == 0:   # object arrays hold bytes: strings
            return None
        items = [v.decode("utf-8", "replace") for v in value.ravel()[:3]]
        return ", ".join(items) + (", …" if value.size > 3 else "")
    return None


def _library(graph: Graph) -> dict:
    """The graph's functions by name; of a repeated name the last (one rule for the scan
    and the restore check)."""
    return {f.signature.name: f for f in graph.graph_def.library.function}


class _FunctionScan:
    """Every op of every library function a visited node calls, transitively."""

    def __init__(self, graph: Graph, result: FetchPath):
        self.result = result
        self.library = _library(graph)
        self.done: set[str] = set()

    def scan_node(self, node) -> None:
        if not self.library:
            return
        pending = self._calls(node, node.name)
        while pending:
            fname = pending.pop()
            if fname in self.done:
                continue
            self.done.add(fname)
            for inner in self.library[fname].node_def:
                _inspect_node(None, inner, self.result, fname)
                pending += self._calls(inner, None)

    def _calls(self, node, caller: str | None) -> list[str]:
        """The library functions `node` calls, each noted as called by `caller`."""
        called = [n for n in _called_functions(node) if n in self.library]
        for fname in called:
            self.result.callers.setdefault(fname, []).append(caller)
        return called


def _called_functions(node) -> list[str]:
    """Functions a node calls: its op type itself when that names a function, and every
    function-valued attr (PartitionedCall's `f`, While's `cond`/`body`, If's branches,
    dataset ops' map functions, …)."""
    names = [node.op]
    for value in node.attr.values():
        kind = value.WhichOneof("value")
        if kind == "func":
            names.append(value.func.name)
        elif kind == "list":
            names.extend(f.name for f in value.list.func)
    return names


# -- what restoring and loading run ----------------------------------------------------

def _resolves_to(graph: Graph, inp: str, targets: set[str]) -> bool:
    """Does tensor `inp` (through Identity ops) come from one of `targets`?"""
    name = tensor_name(inp)
    for _ in range(16):
        if name in targets:
            return True
        i = graph.index.get(split_tensor(name)[0])
        if i is None:
            return False
        node = graph.nodes[i]
        if node.op not in _PASS_THROUGH or not node.input:
            return False
        name = tensor_name(node.input[0])
    return False


def _function_arg(fdef, inp: str) -> int | None:
    """Inside a function: which of its arguments tensor `inp` is (through Identity ops)."""
    args = [a.name for a in fdef.signature.input_arg]
    nodes = {n.name: n for n in fdef.node_def}
    for _ in range(16):
        if inp in args:
            return args.index(inp)
        node = nodes.get(inp.split(":", 1)[0])
        if node is None or node.op not in _PASS_THROUGH or not node.input:
            return None
        inp = node.input[0]
    return None


def _reads_only(graph: Graph, u: UnsafeOp, path: FetchPath, files: set[str]) -> bool:
    """Is `u` a restore (or table load) of one of `files`? In a graph, its file input must
    come from one of them; in a function (TF2's traced restore), from an argument that
    every call of the function, all from graph nodes, passes one of them in."""
    if u.op not in RESTORE_OPS and u.op not in _TABLE_FILE_OPS:
        return False
    arg = 1 if u.op in _TABLE_FILE_OPS else 0
    if u.function is None:
        node = graph.node(u.name)
        return len(node.input) > arg and _resolves_to(graph, node.input[arg], files)
    callers = path.callers[u.function]   # the scan notes a function's calls before its ops
    if None in callers:
        return False
    fdef = _library(graph)[u.function]
    # every op of that name (a hand-made function may repeat one) must read the argument
    for inner in fdef.node_def:
        if inner.name == u.name:
            position = _function_arg(fdef, inner.input[arg]) if len(inner.input) > arg else None
            if position is None or not all(_passes(graph, c, position, files) for c in callers):
                return False
    return True


def _passes(graph: Graph, caller: str, position: int, files: set[str]) -> bool:
    """Does graph node `caller` pass one of `files` as its function's argument `position`?"""
    data_inputs = [i for i in graph.node(caller).input if not i.startswith("^")]
    return position < len(data_inputs) and _resolves_to(graph, data_inputs[position], files)


def _expected_reads(graph: Graph, path: FetchPath, files: set[str]) -> list[UnsafeOp]:
    """The unsafe ops of `path` other than restores / table loads that read `files`."""
    return [u for u in path.unsafe if not _reads_only(graph, u, path, files)]


def restore_problems(graph: Graph) -> list[UnsafeOp]:
    """Ops that restoring with the graph's own saver would run beyond reading the
    checkpoint it is given (fed through the saver's filename tensor)."""
    mg = graph.meta_graph
    if mg is None or not mg.saver_def.restore_op_name:   # (no saver_def: the name is "")
        return []
    filename = tensor_name(mg.saver_def.filename_tensor_name)
    path = _walk(graph, [input_node(mg.saver_def.restore_op_name)], {filename})
    return _expected_reads(graph, path, {filename})


def init_ops(graph: Graph) -> list[str]:
    """The op a SavedModel loader runs after restoring: its main op, legacy init op, or
    (TF2) the `__saved_model_init_op` signature's output."""
    mg = graph.meta_graph
    if mg is None:
        return []
    for key in ("saved_model_main_op", "legacy_init_op"):
        if key in mg.collection_def:
            values = mg.collection_def[key].node_list.value
            if values:
                return [input_node(values[0])]
    sig = mg.signature_def.get("__saved_model_init_op")
    if sig is not None and "__saved_model_init_op" in sig.outputs:
        return [input_node(sig.outputs["__saved_model_init_op"].name)]
    return []


def loader_problems(graph: Graph) -> list[UnsafeOp]:
    """Ops loading a SavedModel runs beyond its restore and the reading of its own assets."""
    problems = restore_problems(graph)
    start = init_ops(graph)
    if start:
        assets = {tensor_name(a.tensor_info.name) for a in graph.meta_graph.asset_file_def}
        path = _walk(graph, start, assets)
        problems += _expected_reads(graph, path, assets)
    return problems
