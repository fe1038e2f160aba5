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
        _WaitForDistributedTPU _DisconnectHostFromDistributedTPUSystem
        CollectiveReduce CollectiveReduceV2 CollectiveGather CollectiveBcastSend
        CollectiveBcastRecv CollectivePermute NcclAllReduce NcclBroadcast _NcclBroadcastSend
        _NcclReduceRecv""",
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
