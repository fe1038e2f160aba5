"""The unsafe-op gate, family by family: each op the gate promises to stop is stopped, from
a NodeDef built by hand (no TensorFlow needed) and, for Python code, from a real graph."""

from __future__ import annotations

import pytest

from app.formats.graph import Graph
from app.formats.protos import GraphDef, NodeDef
from app.runner import graphwalk
from app.runner.graphwalk import CODE, NETWORK, READS, SETTINGS, WRITES

# Written out here rather than read from graphwalk: dropping an op from the gate's table
# must make a test fail.
FAMILIES = {
    WRITES: """WriteFile Save SaveV2 SaveSlices MergeV2Checkpoints SaveDataset SaveDatasetV2
        DatasetToTFRecord DistributedSave SnapshotDataset CreateSummaryFileWriter
        CreateSummaryDbWriter WriteSummary WriteScalarSummary WriteHistogramSummary
        WriteImageSummary WriteAudioSummary WriteGraphSummary WriteRawProtoSummary
        ImportEvent DebugIdentity DebugIdentityV2 DebugNanCount DebugNumericSummary""",
    READS: """ReadFile MatchingFiles Restore RestoreV2 RestoreSlice WholeFileReader
        WholeFileReaderV2 TextLineReader TextLineReaderV2 FixedLengthRecordReader
        TFRecordReader TFRecordReaderV2 LMDBReader IdentityReader IdentityReaderV2 ReaderRead
        ReaderReadV2 ReaderReadUpTo TFRecordDataset TextLineDataset FixedLengthRecordDataset
        LMDBDataset CSVDataset SqlDataset LoadDataset InitializeTableFromTextFile
        InitializeTableFromTextFileV2 LoadAndRemapMatrix GenerateVocabRemapping
        ImmutableConst RecordInput""",
    CODE: "PyFunc PyFuncStateless EagerPyFunc",
    NETWORK: """_Send _Recv _HostSend _HostRecv Send Recv Rpc RemoteCall DataServiceDataset
        DataServiceDatasetV4 RegisterDataset ConfigureDistributedTPU CollectiveReduce
        CollectiveGather NcclAllReduce _NcclBroadcastSend""",
    SETTINGS: "FileSystemSetConfiguration",
}
CASES = [(op, risk) for risk, ops in FAMILIES.items() for op in ops.split()]


def _node(op: str, name: str = "n", **string_attrs) -> NodeDef:
    node = NodeDef(name=name, op=op)
    for key, value in string_attrs.items():
        node.attr[key].s = value.encode()
    return node


@pytest.mark.parametrize("op,risk", CASES, ids=[op for op, _ in CASES])
def test_every_listed_op_is_unsafe_for_its_reason(op, risk):
    assert graphwalk.classify(_node(op)) == risk


@pytest.mark.parametrize("op,risk", CASES, ids=[op for op, _ in CASES])
def test_a_listed_op_on_the_fetch_path_is_reported(op, risk):
    gd = GraphDef()
    gd.node.extend([_node(op, "danger"), _node("Identity", "out")])
    gd.node[1].input.append("danger")
    path = graphwalk.analyze(Graph(gd), ["out"])
    assert [(u.op, u.risk) for u in path.unsafe] == [(op, risk)]


def test_attributes_that_make_an_op_unsafe():
    assert graphwalk.classify(_node("PrintV2", output_stream="file:///tmp/log")) == WRITES
    assert graphwalk.classify(_node("PrintV2", output_stream="stderr")) is None
    assert graphwalk.classify(_node("DecodeProtoV2", descriptor_source="/tmp/d.pb")) == READS
    assert graphwalk.classify(_node("EncodeProto", descriptor_source="/tmp/d.pb")) == READS
    assert graphwalk.classify(_node("DecodeProtoV2", descriptor_source="local://")) is None
    for safe in ("Print", "Assert", "Identity", "MatMul", "AssignVariableOp", "Const"):
        assert graphwalk.classify(_node(safe)) is None, safe


def test_python_code_in_a_real_graph_is_found(tf):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
        tf.identity(tf.py_function(lambda a: a, [x], tf.float32), name="eager")
        tf.identity(tf.numpy_function(lambda a: a, [x], tf.float32), name="numpy")
    g = Graph(graph.as_graph_def())
    assert [(u.op, u.risk) for u in graphwalk.analyze(g, ["eager"]).unsafe] == [("EagerPyFunc", CODE)]
    assert [(u.op, u.risk) for u in graphwalk.analyze(g, ["numpy"]).unsafe] == [("PyFunc", CODE)]
