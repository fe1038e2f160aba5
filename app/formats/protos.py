"""Protocol buffer message classes for every file the readers parse.

Most of TensorFlow's messages ship, compiled, with the tensorboard package (in its own
proto package, `tensorboard`, so they never clash with TensorFlow's). The few it lacks —
the tensor bundle's index entries, the `checkpoint` state file, SavedModel's wrapper and
the pre-0.11 checkpoint's slices — are declared here from their published schemas, built
into the same descriptor pool at import time (no code generation step, no .proto files).
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from tensorboard.compat.proto import (  # noqa: F401  (re-exported)
    attr_value_pb2,
    graph_pb2,
    meta_graph_pb2,
    node_def_pb2,
    saver_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    trackable_object_graph_pb2,
    types_pb2,
    versions_pb2,
)

GraphDef = graph_pb2.GraphDef
MetaGraphDef = meta_graph_pb2.MetaGraphDef
NodeDef = node_def_pb2.NodeDef
TensorProto = tensor_pb2.TensorProto
TrackableObjectGraph = trackable_object_graph_pb2.TrackableObjectGraph

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED

# (name, number, type, label, message or enum type name or None, oneof index or None)
_SCHEMA = {
    "TensorSliceProto": [
        ("extent", 1, _F.TYPE_MESSAGE, _REPEATED, ".ckptbrowser.TensorSliceProto.Extent", None),
    ],
    "TensorSliceProto.Extent": [
        ("start", 1, _F.TYPE_INT64, _OPTIONAL, None, None),
        ("length", 2, _F.TYPE_INT64, _OPTIONAL, None, 0),  # unset length means "to the end"
    ],
    "BundleHeaderProto": [
        ("num_shards", 1, _F.TYPE_INT32, _OPTIONAL, None, None),
        ("endianness", 2, _F.TYPE_INT32, _OPTIONAL, None, None),  # 0 little, 1 big
        ("version", 3, _F.TYPE_MESSAGE, _OPTIONAL, ".tensorboard.VersionDef", None),
    ],
    "BundleEntryProto": [
        ("dtype", 1, _F.TYPE_INT32, _OPTIONAL, None, None),
        ("shape", 2, _F.TYPE_MESSAGE, _OPTIONAL, ".tensorboard.TensorShapeProto", None),
        ("shard_id", 3, _F.TYPE_INT32, _OPTIONAL, None, None),
        ("offset", 4, _F.TYPE_INT64, _OPTIONAL, None, None),
        ("size", 5, _F.TYPE_INT64, _OPTIONAL, None, None),
        ("crc32c", 6, _F.TYPE_FIXED32, _OPTIONAL, None, None),
        ("slices", 7, _F.TYPE_MESSAGE, _REPEATED, ".ckptbrowser.TensorSliceProto", None),
    ],
    "CheckpointState": [
        ("model_checkpoint_path", 1, _F.TYPE_STRING, _OPTIONAL, None, None),
        ("all_model_checkpoint_paths", 2, _F.TYPE_STRING, _REPEATED, None, None),
        ("all_model_checkpoint_timestamps", 3, _F.TYPE_DOUBLE, _REPEATED, None, None),
        ("last_preserved_timestamp", 4, _F.TYPE_DOUBLE, _OPTIONAL, None, None),
    ],
    "SavedModel": [
        ("saved_model_schema_version", 1, _F.TYPE_INT64, _OPTIONAL, None, None),
        ("meta_graphs", 2, _F.TYPE_MESSAGE, _REPEATED, ".tensorboard.MetaGraphDef", None),
    ],
    # Pre-0.11 ("V1") checkpoints: a table of SavedTensorSlices records.
    "SavedSliceMeta": [
        ("name", 1, _F.TYPE_STRING, _OPTIONAL, None, None),
        ("shape", 2, _F.TYPE_MESSAGE, _OPTIONAL, ".tensorboard.TensorShapeProto", None),
        ("type", 3, _F.TYPE_INT32, _OPTIONAL, None, None),
        ("slice", 4, _F.TYPE_MESSAGE, _REPEATED, ".ckptbrowser.TensorSliceProto", None),
    ],
    "SavedTensorSliceMeta": [
        ("tensor", 1, _F.TYPE_MESSAGE, _REPEATED, ".ckptbrowser.SavedSliceMeta", None),
        ("versions", 2, _F.TYPE_MESSAGE, _OPTIONAL, ".tensorboard.VersionDef", None),
    ],
    "SavedSlice": [
        ("name", 1, _F.TYPE_STRING, _OPTIONAL, None, None),
        ("slice", 2, _F.TYPE_MESSAGE, _OPTIONAL, ".ckptbrowser.TensorSliceProto", None),
        ("data", 3, _F.TYPE_MESSAGE, _OPTIONAL, ".tensorboard.TensorProto", None),
    ],
    "SavedTensorSlices": [
        ("meta", 1, _F.TYPE_MESSAGE, _OPTIONAL, ".ckptbrowser.SavedTensorSliceMeta", None),
        ("data", 2, _F.TYPE_MESSAGE, _OPTIONAL, ".ckptbrowser.SavedSlice", None),
    ],
    # tf.keras' `keras_metadata.pb` beside a SavedModel: per object of the SavedModel's
    # object graph (by node id), its Keras identifier and a JSON of class and config.
    "KerasSavedObject": [
        ("node_id", 2, _F.TYPE_INT32, _OPTIONAL, None, None),
        ("node_path", 3, _F.TYPE_STRING, _OPTIONAL, None, None),
        ("identifier", 4, _F.TYPE_STRING, _OPTIONAL, None, None),
        ("metadata", 5, _F.TYPE_STRING, _OPTIONAL, None, None),
        ("version", 6, _F.TYPE_MESSAGE, _OPTIONAL, ".tensorboard.VersionDef", None),
    ],
    "SavedMetadata": [
        ("nodes", 1, _F.TYPE_MESSAGE, _REPEATED, ".ckptbrowser.KerasSavedObject", None),
    ],
}


def _build_file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(
        name="ckptbrowser/formats.proto", package="ckptbrowser", syntax="proto3")
    f.dependency.extend([
        tensor_shape_pb2.DESCRIPTOR.name, versions_pb2.DESCRIPTOR.name,
        tensor_pb2.DESCRIPTOR.name, meta_graph_pb2.DESCRIPTOR.name,
    ])
    messages: dict[str, descriptor_pb2.DescriptorProto] = {}
    for full_name, fields in _SCHEMA.items():
        outer, _, inner = full_name.partition(".")
        if inner:
            msg = messages[outer].nested_type.add(name=inner)
        else:
            msg = messages[outer] = f.message_type.add(name=outer)
        for name, number, ftype, label, type_name, oneof in fields:
            field = msg.field.add(name=name, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = type_name
            if oneof is not None:
                if not msg.oneof_decl:
                    msg.oneof_decl.add(name=f"has_{name}")
                field.oneof_index = oneof
    return f


_pool = descriptor_pool.Default()
try:
    _pool.FindFileByName("ckptbrowser/formats.proto")
except KeyError:
    _pool.Add(_build_file())


def _message(name: str):
    return message_factory.GetMessageClass(_pool.FindMessageTypeByName(f"ckptbrowser.{name}"))


TensorSliceProto = _message("TensorSliceProto")
BundleHeaderProto = _message("BundleHeaderProto")
BundleEntryProto = _message("BundleEntryProto")
CheckpointState = _message("CheckpointState")
SavedModel = _message("SavedModel")
SavedTensorSlices = _message("SavedTensorSlices")
SavedMetadata = _message("SavedMetadata")
