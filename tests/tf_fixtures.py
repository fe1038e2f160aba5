"""Builders for real TensorFlow artefacts, used as oracles by the test suite.

The application reads checkpoints, SavedModels and GraphDefs without TensorFlow.
The tests need genuine files written by TensorFlow itself to compare against, so
each public function in this module builds one small model on disk and returns a
description of what it wrote: the paths, the tensor names, and the exact values
that TensorFlow was asked to store.

Conventions:

* Every builder takes a destination folder (created if missing) and is
  deterministic: random values come from fixed numpy / TF seeds and training
  runs single-threaded.
* TF1-style artefacts are built inside a private ``tf.Graph`` so that eager mode
  is left untouched for the caller; TF2 builders need eager mode (the default).
* "Classic" TF1 fixtures use reference variables (``VariableV2`` ops) just like
  checkpoints produced by TensorFlow 1.x; ``v1_variants(...).resource`` is the
  exception that uses ``VarHandleOp`` resource variables.
* Expected values are taken from the live variables at save time (never read
  back from the files), so comparing them with ``tf.train.load_checkpoint``
  really checks the file.

TensorFlow is imported at module import time: this is test-only code.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# Name of the tensor that holds the serialized TrackableObjectGraph in TF2 checkpoints.
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

# One thread per session keeps float reductions in a fixed order.
_SESSION_CONFIG = dict(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)


# --------------------------------------------------------------------------- reuse across processes

# Mutation runs (tests/bench/mutation.py) run the same few tests thousands of times, each in a
# fresh process: with this variable naming a folder, a builder's files and result are made once
# per source of this module and reused. The files then live in that folder, not in `dest`.
FIXTURE_CACHE_VARIABLE = "CHECKPOINT_BROWSER_FIXTURE_CACHE"
_SOURCE_DIGEST = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _reused(builder):
    @functools.wraps(builder)
    def build(dest, *args, **kwargs):
        cache = os.environ.get(FIXTURE_CACHE_VARIABLE)
        if not cache:
            return builder(dest, *args, **kwargs)
        dest = Path(dest).absolute()

        def relative(value):  # paths beside dest move with it into the cache
            if isinstance(value, (str, os.PathLike)) and Path(value).absolute().is_relative_to(dest.parent):
                return ("path", str(Path(value).absolute().relative_to(dest.parent)))
            return value
        key = repr((builder.__name__, _SOURCE_DIGEST, dest.name, [relative(a) for a in args],
                    sorted((k, relative(v)) for k, v in kwargs.items())))
        root = Path(cache) / hashlib.sha256(key.encode()).hexdigest()[:20]
        root.mkdir(parents=True, exist_ok=True)

        def moved(value):
            r = relative(value)
            return root / r[1] if isinstance(r, tuple) else value
        done = root / "result.pickle"
        with open(root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)   # parallel test processes build it once
            if done.exists():
                return pickle.loads(done.read_bytes())
            result = builder(root / dest.name, *[moved(a) for a in args],
                             **{k: moved(v) for k, v in kwargs.items()})
            done.write_bytes(pickle.dumps(result))
            return result
    return build


# --------------------------------------------------------------------------- helpers


def _folder(dest) -> Path:
    """Return ``dest`` as an absolute Path, creating the folder if needed."""
    path = Path(dest).absolute()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _session(graph: tf.Graph, **config) -> tf.compat.v1.Session:
    options = dict(_SESSION_CONFIG)
    options.update(config)
    return tf.compat.v1.Session(graph=graph, config=tf.compat.v1.ConfigProto(**options))


def _data_files(prefix: Path) -> list[Path]:
    """The ``<prefix>.data-NNNNN-of-MMMMM`` shards that exist next to ``prefix``."""
    return sorted(prefix.parent.glob(prefix.name + ".data-*-of-*"))


@contextlib.contextmanager
def _quiet_tf_logs():
    """Hide TensorFlow's Python deprecation warnings for TF1 APIs used on purpose."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def _require_eager(what: str) -> None:
    if not tf.executing_eagerly():
        raise RuntimeError(f"{what} needs TensorFlow eager mode (the TF2 default)")


def _as_numpy(value) -> np.ndarray:
    """A numpy array; strings always as object arrays of bytes (also for scalars)."""
    array = np.asarray(value)
    if isinstance(value, bytes) or array.dtype.kind == "S":
        array = np.array(array.tolist() if array.ndim else value, dtype=object)
    return array


def _var_name(variable) -> str:
    """Graph name of a TF1 variable without the ``:0`` output suffix."""
    return variable.name.split(":")[0]


def _snapshot(sess: tf.compat.v1.Session, variables) -> dict[str, np.ndarray]:
    """Current values of TF1 variables keyed by their names (their v1 Saver keys)."""
    values = sess.run(list(variables))
    return {_var_name(v): _as_numpy(x) for v, x in zip(variables, values)}


def read_object_graph(prefix) -> "tf.compat.v1.TrackableObjectGraph":  # type: ignore[name-defined]
    """Parse the TrackableObjectGraph proto stored in a TF2 checkpoint (test helper)."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    reader = tf.train.load_checkpoint(str(prefix))
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(OBJECT_GRAPH_KEY))
    return graph


def _key_to_full_name(prefix) -> dict[str, str]:
    """checkpoint_key -> full_name for every serialized attribute in a TF2 checkpoint."""
    result = {}
    for node in read_object_graph(prefix).nodes:
        for attribute in node.attributes:
            result[attribute.checkpoint_key] = attribute.full_name
    return result


def _values_by_key(prefix, variables_by_full_name: dict) -> dict[str, np.ndarray]:
    """Join the object graph's checkpoint keys to live variables through ``full_name``."""
    values = {}
    for key, full_name in _key_to_full_name(prefix).items():
        if full_name not in variables_by_full_name:
            raise KeyError(f"no live variable for {key!r} (full_name {full_name!r})")
        values[key] = _as_numpy(variables_by_full_name[full_name].numpy())
    return values


@dataclass
class SaverCheckpoint:
    """One TF1 ``tf.compat.v1.train.Saver`` checkpoint.

    ``values`` maps each checkpoint key to the full (un-partitioned) value saved
    under it; it is exactly the set of keys that ``tf.train.list_variables``
    reports for ``prefix``.
    """

    dir: Path
    prefix: Path                     # e.g. dir/model-1 (no extension)
    meta: Path | None                # the MetaGraphDef, when one was written
    values: dict[str, np.ndarray]
    state_file: Path | None = None   # the "checkpoint" CheckpointState text file

    @property
    def index(self) -> Path:
        return self.prefix.with_name(self.prefix.name + ".index")

    @property
    def data_files(self) -> list[Path]:
        return _data_files(self.prefix)


@dataclass
class ObjectCheckpoint:
    """One TF2 object-based checkpoint (``tf.train.Checkpoint``).

    ``values`` holds every variable key (all keys except ``_CHECKPOINTABLE_OBJECT_GRAPH``)
    and ``full_names`` the ``full_name`` recorded for it in the object graph.
    """

    dir: Path
    prefix: Path
    values: dict[str, np.ndarray]
    full_names: dict[str, str]

    @property
    def index(self) -> Path:
        return self.prefix.with_name(self.prefix.name + ".index")

    @property
    def data_files(self) -> list[Path]:
        return _data_files(self.prefix)


# ------------------------------------------------------------------ 1. seed_w1w2


@dataclass
class SeedW1W2:
    dir: Path
    checkpoint: SaverCheckpoint      # prefix dir/my_test_model-1000, values {"bias": 2.0}
    feeds: dict[str, float]          # {"w1:0": 13.0, "w2:0": 17.0}
    output: str                      # "op_to_restore:0"
    expected_output: float           # 60.0, computed by TF before saving
    placeholders: list[str]          # ["w1", "w2"]


@_reused
def seed_w1w2(dest) -> SeedW1W2:
    """The classic "save and restore a model" tutorial graph.

    ``op_to_restore = (w1 + w2) * bias`` with ``bias = 2.0``; saved with
    ``global_step=1000`` so the files are ``my_test_model-1000.{meta,index,data-00000-of-00001}``
    plus the ``checkpoint`` state file (which, as in the tutorial, records absolute paths).
    """
    dest = _folder(dest)
    graph = tf.Graph()
    with graph.as_default():
        w1 = tf.compat.v1.placeholder(tf.float32, name="w1")
        w2 = tf.compat.v1.placeholder(tf.float32, name="w2")
        bias = tf.compat.v1.Variable(2.0, name="bias", use_resource=False)
        w3 = tf.add(w1, w2)
        op_to_restore = tf.multiply(w3, bias, name="op_to_restore")
        saver = tf.compat.v1.train.Saver()
        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            result = sess.run(op_to_restore, {w1: 13.0, w2: 17.0})
            values = _snapshot(sess, [bias])
            prefix = saver.save(sess, str(dest / "my_test_model"), global_step=1000)
    prefix = Path(prefix)
    return SeedW1W2(
        dir=dest,
        checkpoint=SaverCheckpoint(dest, prefix, prefix.with_name(prefix.name + ".meta"),
                                   values, dest / "checkpoint"),
        feeds={"w1:0": 13.0, "w2:0": 17.0},
        output="op_to_restore:0",
        expected_output=float(result),
        placeholders=["w1", "w2"],
    )


# ------------------------------------------------------------------ 2. cnn_epochs


@dataclass
class CnnEpochs:
    dir: Path
    meta: Path                        # dir/epoch-0.meta, the only MetaGraphDef written
    checkpoints: list[SaverCheckpoint]  # one per epoch, prefix dir/epoch-N (meta only on N=0)
    state_file: Path                  # dir/checkpoint; with max_to_keep=None TF lists only the
                                      # latest prefix (absolute) in it, not every epoch
    epochs: list[int]                 # [0, 1, ..., epochs-1]: the global_step passed to save();
                                      # the "global_step" variable counts batches (4 per epoch)
    accuracy: list[float]             # "accuracy:0" on the eval batch, just before each save
    loss: list[float]                 # "loss:0" on the eval batch, just before each save
    eval_x: np.ndarray                # float32 [N, 8, 8, 1]
    eval_y: np.ndarray                # int64 [N]
    eval_dir: Path                    # holds eval_x.npy / eval_y.npy (outside dir)
    inputs: dict[str, str] = field(default_factory=lambda: {"x": "x:0", "y": "y:0"})
    outputs: dict[str, str] = field(
        default_factory=lambda: {"accuracy": "accuracy:0", "loss": "loss:0", "logits": "logits:0"})
    trainable: list[str] = field(default_factory=list)  # model weights (no optimizer state)


def _synthetic_images(rng: np.random.RandomState, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 8x8 images: class 0 is brighter in the top half, class 1 in the left half."""
    labels = rng.randint(0, 2, size=count).astype(np.int64)
    images = rng.normal(0.0, 0.6, size=(count, 8, 8, 1)).astype(np.float32)
    images[labels == 0, :4, :, 0] += 0.5
    images[labels == 1, :, :4, 0] += 0.5
    return images, labels


@_reused
def cnn_epochs(dest, epochs: int = 4, eval_dir=None) -> CnnEpochs:
    """A tiny conv + dense classifier trained with Adam, checkpointed after every epoch.

    ``Saver(max_to_keep=None)`` keeps all ``epoch-N`` checkpoints; the MetaGraphDef is
    written for epoch 0 only (``write_meta_graph=False`` afterwards), which is how many
    training scripts save space. Accuracy and loss on a fixed eval batch are evaluated
    in the training session right before each save, so restoring ``epoch-N`` and
    evaluating the same batch must give exactly ``accuracy[N]`` / ``loss[N]``.

    The eval batch is also written as ``eval_x.npy`` / ``eval_y.npy`` in ``eval_dir``
    (default: the sibling folder ``<dest>_eval``) so that ``dest`` holds only TF files.
    """
    dest = _folder(dest)
    eval_dir = _folder(eval_dir if eval_dir is not None else dest.with_name(dest.name + "_eval"))
    if eval_dir == dest:
        raise ValueError("eval_dir must differ from dest")

    train_x, train_y = _synthetic_images(np.random.RandomState(0), 64)
    eval_x, eval_y = _synthetic_images(np.random.RandomState(1), 32)
    np.save(eval_dir / "eval_x.npy", eval_x)
    np.save(eval_dir / "eval_y.npy", eval_y)

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(1234)
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 1], name="x")
        y = tf.compat.v1.placeholder(tf.int64, [None], name="y")

        def weight(name, shape, seed):
            init = tf.compat.v1.truncated_normal_initializer(stddev=0.2, seed=seed)
            return tf.compat.v1.get_variable(name, shape, tf.float32, init, use_resource=False)

        def zeros(name, shape):
            return tf.compat.v1.get_variable(name, shape, tf.float32,
                                             tf.compat.v1.zeros_initializer(), use_resource=False)

        with tf.compat.v1.variable_scope("conv"):
            kernel = weight("kernel", [3, 3, 1, 4], seed=1)
            bias = zeros("bias", [4])
            conv = tf.nn.relu(tf.nn.bias_add(
                tf.nn.conv2d(x, kernel, strides=[1, 1, 1, 1], padding="SAME"), bias))
            pooled = tf.nn.max_pool2d(conv, ksize=2, strides=2, padding="VALID")
        with tf.compat.v1.variable_scope("dense"):
            flat = tf.reshape(pooled, [-1, 4 * 4 * 4])
            logits = tf.nn.bias_add(tf.matmul(flat, weight("kernel", [64, 2], seed=2)),
                                    zeros("bias", [2]), name="logits")
        # Short top-level names for the tensors the tests fetch.
        logits = tf.identity(logits, name="logits")
        loss = tf.identity(tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)), name="loss")
        correct = tf.cast(tf.equal(tf.argmax(logits, axis=1), y), tf.float32)
        accuracy = tf.identity(tf.reduce_mean(correct), name="accuracy")

        global_step = tf.compat.v1.Variable(0, dtype=tf.int64, name="global_step",
                                            trainable=False, use_resource=False)
        train_op = tf.compat.v1.train.AdamOptimizer(0.01).minimize(loss, global_step=global_step)
        trainable = [_var_name(v) for v in tf.compat.v1.trainable_variables()]
        saver = tf.compat.v1.train.Saver(max_to_keep=None)
        saved_vars = tf.compat.v1.global_variables()

        checkpoints, accuracies, losses = [], [], []
        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for epoch in range(epochs):
                for start in range(0, len(train_x), 16):
                    sess.run(train_op, {x: train_x[start:start + 16], y: train_y[start:start + 16]})
                acc, lss = sess.run([accuracy, loss], {x: eval_x, y: eval_y})
                accuracies.append(float(acc))
                losses.append(float(lss))
                values = _snapshot(sess, saved_vars)
                prefix = Path(saver.save(sess, str(dest / "epoch"), global_step=epoch,
                                         write_meta_graph=(epoch == 0)))
                meta = prefix.with_name(prefix.name + ".meta") if epoch == 0 else None
                checkpoints.append(SaverCheckpoint(dest, prefix, meta, values, dest / "checkpoint"))

    return CnnEpochs(
        dir=dest, meta=dest / "epoch-0.meta", checkpoints=checkpoints, state_file=dest / "checkpoint",
        epochs=list(range(epochs)), accuracy=accuracies, loss=losses,
        eval_x=eval_x, eval_y=eval_y, eval_dir=eval_dir, trainable=trainable)


# ------------------------------------------------------------------ 3. v1_variants


@dataclass
class V1Variants:
    dir: Path
    # Two devices (/cpu:0, /cpu:1) -> Saver(sharded=True) writes model.data-0000{0,1}-of-00002.
    sharded: SaverCheckpoint
    sharded_num_shards: int
    # Saver({"my/custom_key": v, ...}): checkpoint key -> graph variable name.
    custom_names: SaverCheckpoint
    custom_names_map: dict[str, str]
    # Partitioned variables are stored as slices of one full-shape key ("weights" [10, 4]).
    partitioned: SaverCheckpoint
    partitions: dict[str, list[tuple[str, list[int]]]]  # full key -> [(part var name, shape)]
    # "checkpoint" state file points at absolute paths of a folder that no longer exists.
    abs_paths: SaverCheckpoint                 # the latest of abs_paths_prefixes
    abs_paths_prefixes: list[Path]             # where the files are now (model-1, model-2)
    abs_paths_original_dir: Path               # the vanished folder named in the state file
    # ResourceVariable (VarHandleOp) variables saved by a v1 Saver.
    resource: SaverCheckpoint


def _v1_sharded(dest: Path) -> tuple[SaverCheckpoint, int]:
    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/cpu:0"):
            a = tf.compat.v1.Variable(np.arange(6, dtype=np.float32).reshape(2, 3),
                                      name="on_cpu0/a", use_resource=False)
            b = tf.compat.v1.Variable(np.float64(0.25), name="on_cpu0/b", use_resource=False)
        with tf.device("/cpu:1"):
            c = tf.compat.v1.Variable(np.array([7, -8, 9], np.int32), name="on_cpu1/c",
                                      use_resource=False)
            d = tf.compat.v1.Variable(np.linspace(-1, 1, 5, dtype=np.float32),
                                      name="on_cpu1/d", use_resource=False)
        saver = tf.compat.v1.train.Saver(sharded=True)
        # A second logical CPU so that the two device groups become two shards.
        with _session(graph, device_count={"CPU": 2}) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            values = _snapshot(sess, [a, b, c, d])
            prefix = Path(saver.save(sess, str(dest / "model")))
    ckpt = SaverCheckpoint(dest, prefix, prefix.with_name("model.meta"), values, dest / "checkpoint")
    return ckpt, len(ckpt.data_files)


def _v1_custom_names(dest: Path) -> tuple[SaverCheckpoint, dict[str, str]]:
    graph = tf.Graph()
    with graph.as_default():
        v = tf.compat.v1.Variable([[1.5, -2.5], [3.0, 4.0]], name="v", use_resource=False)
        w = tf.compat.v1.Variable(np.arange(4, dtype=np.int64), name="scope/w", use_resource=False)
        z = tf.compat.v1.Variable(np.float32(-0.0), name="z", use_resource=False)
        var_list = {"my/custom_key": v, "Another.Key-with_punct:0": w, "deep/a/b/c/d/e": z}
        saver = tf.compat.v1.train.Saver(var_list)
        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            live = _snapshot(sess, var_list.values())
            prefix = Path(saver.save(sess, str(dest / "model")))
    values = {key: live[_var_name(var)] for key, var in var_list.items()}
    mapping = {key: _var_name(var) for key, var in var_list.items()}
    return SaverCheckpoint(dest, prefix, prefix.with_name("model.meta"), values,
                           dest / "checkpoint"), mapping


def _v1_partitioned(dest: Path):
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(7)
        partitioner = tf.compat.v1.fixed_size_partitioner(3)
        weights = tf.compat.v1.get_variable(
            "weights", [10, 4], tf.float32,
            tf.compat.v1.random_uniform_initializer(-1, 1, seed=3),
            partitioner=partitioner, use_resource=False)
        bias = tf.compat.v1.get_variable(
            "bias", [7], tf.float32, tf.compat.v1.random_normal_initializer(seed=4),
            partitioner=partitioner, use_resource=False)
        scale = tf.compat.v1.get_variable(
            "scale", [], tf.float32, tf.compat.v1.constant_initializer(3.5), use_resource=False)
        saver = tf.compat.v1.train.Saver()
        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            values, partitions = {}, {}
            for name, pv in (("weights", weights), ("bias", bias)):
                parts = list(pv)
                values[name] = np.concatenate(sess.run(parts), axis=0)
                partitions[name] = [(_var_name(p), p.shape.as_list()) for p in parts]
            values["scale"] = np.asarray(sess.run(scale))
            prefix = Path(saver.save(sess, str(dest / "model")))
    ckpt = SaverCheckpoint(dest, prefix, prefix.with_name("model.meta"), values, dest / "checkpoint")
    return ckpt, partitions


def _v1_abs_paths(dest: Path):
    """Save (twice) into a temporary folder, then move the files and delete the folder."""
    staging = Path(tempfile.mkdtemp(prefix="vanished_", dir=dest.parent))
    graph = tf.Graph()
    with graph.as_default():
        counter = tf.compat.v1.Variable(0, name="counter", use_resource=False)
        table = tf.compat.v1.Variable(np.eye(3, dtype=np.float32), name="table", use_resource=False)
        bump = tf.compat.v1.assign_add(counter, 1)
        saver = tf.compat.v1.train.Saver()
        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            snapshots = []
            for step in (1, 2):
                sess.run(bump)
                snapshots.append(_snapshot(sess, [counter, table]))
                saver.save(sess, str(staging / "model"), global_step=step)
    for item in staging.iterdir():
        shutil.move(str(item), str(dest / item.name))
    staging.rmdir()
    prefixes = [dest / "model-1", dest / "model-2"]
    latest = SaverCheckpoint(dest, prefixes[-1], dest / "model-2.meta", snapshots[-1],
                             dest / "checkpoint")
    return latest, prefixes, staging


def _v1_resource(dest: Path) -> SaverCheckpoint:
    graph = tf.Graph()
    with graph.as_default():
        r1 = tf.compat.v1.get_variable("res/matrix", initializer=np.arange(12, dtype=np.float32)
                                       .reshape(3, 4), use_resource=True)
        r2 = tf.compat.v1.Variable(np.array([True, False, True]), name="res/mask", use_resource=True)
        r3 = tf.compat.v1.Variable(np.int64(-5), name="res/step", use_resource=True)
        saver = tf.compat.v1.train.Saver()
        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            values = _snapshot(sess, [r1, r2, r3])
            prefix = Path(saver.save(sess, str(dest / "model")))
    return SaverCheckpoint(dest, prefix, prefix.with_name("model.meta"), values, dest / "checkpoint")


@_reused
def v1_variants(dest) -> V1Variants:
    """Less common TF1 Saver layouts, one per subfolder of ``dest``.

    sharded/       Saver(sharded=True), variables on /cpu:0 and /cpu:1 -> 2 data shards.
    custom_names/  Saver with a dict var_list: checkpoint keys differ from variable names.
    partitioned/   fixed_size_partitioner(3) variables "weights" [10, 4] and "bias" [7]
                   (stored as slices; the parts are weights/part_0..2 in the graph) plus an
                   ordinary scalar "scale".
    abs_paths/     two checkpoints whose "checkpoint" state file names absolute paths in a
                   folder that was deleted after the files were moved here.
    resource/      use_resource=True variables (VarHandleOp / ResourceVariable).
    All prefixes are called "model" (abs_paths: "model-1", "model-2").
    """
    dest = _folder(dest)
    sharded, num_shards = _v1_sharded(_folder(dest / "sharded"))
    custom, mapping = _v1_custom_names(_folder(dest / "custom_names"))
    partitioned, partitions = _v1_partitioned(_folder(dest / "partitioned"))
    abs_latest, abs_prefixes, abs_original = _v1_abs_paths(_folder(dest / "abs_paths"))
    resource = _v1_resource(_folder(dest / "resource"))
    return V1Variants(
        dir=dest, sharded=sharded, sharded_num_shards=num_shards,
        custom_names=custom, custom_names_map=mapping,
        partitioned=partitioned, partitions=partitions,
        abs_paths=abs_latest, abs_paths_prefixes=abs_prefixes, abs_paths_original_dir=abs_original,
        resource=resource)


# ------------------------------------------------------------------ 4. all_dtypes


@dataclass
class AllDtypes:
    """Three bundles written with ``tf.raw_ops.SaveV2``.

    ``prefix`` (dest/dtypes): every everyday dtype with edge cases. ``values`` maps
    key -> numpy array written; ``dtype_names`` maps key -> TensorFlow dtype name.

    ``exotic_prefix`` (dest/dtypes_exotic): the other dtypes SaveV2 also accepts in
    TF 2.21: quantized types (numpy gives their plain integer storage type, so use
    ``exotic_dtype_names`` for the real type), the float8 family, float4_e2m1fn and
    int4/uint4/int2/uint2 (ml_dtypes arrays).

    ``variant_prefix`` (dest/dtypes_variant): one DT_VARIANT tensor (a TensorList).
    TensorFlow's own reader lists it but cannot turn it into numpy.

    DT_RESOURCE is not saveable: SaveV2 aborts the whole process (CHECK failure).
    """

    dir: Path
    prefix: Path
    values: dict[str, np.ndarray]
    dtype_names: dict[str, str]
    exotic_prefix: Path
    exotic_values: dict[str, np.ndarray]
    exotic_dtype_names: dict[str, str]
    variant_prefix: Path
    variant_key: str
    variant_elements: np.ndarray   # the float32 elements inside the TensorList


def _special_floats(dtype) -> np.ndarray:
    """NaN, +/-Inf, -0.0, 0.0, 1, the smallest/largest finite values for ``dtype``."""
    import ml_dtypes

    info = ml_dtypes.finfo(dtype)
    return np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.5,
                     float(info.tiny), float(info.max), float(info.min)]).astype(dtype)


def _core_dtype_values() -> tuple[dict[str, np.ndarray], dict[str, str]]:
    import ml_dtypes

    rng = np.random.RandomState(42)
    values: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}

    def put(key, array, tf_name):
        values[key] = array
        names[key] = tf_name

    # Floating point: specials in a vector, a random matrix, and a scalar.
    for name, dtype in (("float16", np.float16), ("bfloat16", ml_dtypes.bfloat16),
                        ("float32", np.float32), ("float64", np.float64)):
        put(f"{name}/special", _special_floats(dtype), name)
        put(f"{name}/matrix", rng.standard_normal((3, 5)).astype(dtype), name)
        put(f"{name}/scalar", np.array(-0.0 if name == "float32" else 2.5, dtype=dtype), name)

    # Integers: the extreme values plus a few ordinary ones, and a scalar.
    for dtype in (np.int8, np.int16, np.int32, np.int64,
                  np.uint8, np.uint16, np.uint32, np.uint64):
        info = np.iinfo(dtype)
        name = np.dtype(dtype).name
        put(f"{name}/extremes", np.array([info.min, info.max, 0, 1, info.max - 1], dtype=dtype), name)
        put(f"{name}/scalar", np.array(info.max // 3, dtype=dtype), name)

    put("bool/vector", np.array([True, False, False, True, True]), "bool")
    put("bool/scalar", np.array(True), "bool")

    inf, nan = np.inf, np.nan
    for name, dtype in (("complex64", np.complex64), ("complex128", np.complex128)):
        put(f"{name}/vector", np.array([1 + 2j, -0.0 - 0.0j, complex(inf, -inf),
                                        complex(nan, 1), complex(0, nan), 3.25 - 7j], dtype=dtype), name)
        put(f"{name}/scalar", np.array(-1.5 + 0.5j, dtype=dtype), name)

    # Strings: empty, non-UTF-8, embedded NUL, multi-byte UTF-8, long (2- and 3-byte varints).
    strings = [b"", b"hello", b"\xff\xfe\x00\x80 not utf-8", "caf\u00e9 \u2603".encode(),
               b"nul\x00inside", b"x" * 300, bytes(range(256)) * 80]
    put("string/vector", np.array(strings, dtype=object), "string")
    put("string/2d", np.array([[b"r0c0", b""], [b"\x00", b"r1c1" * 60], [b"a", b"bc"]],
                              dtype=object), "string")
    put("string/scalar", np.array(b"just one", dtype=object), "string")
    put("string/empty_string_scalar", np.array(b"", dtype=object), "string")
    put("string/empty_0", np.zeros((0,), dtype=object), "string")

    # Shapes.
    put("shape/empty_0x3", np.zeros((0, 3), np.float32), "float32")
    put("shape/rank6", np.arange(2 * 1 * 3 * 1 * 2 * 2, dtype=np.int32).reshape(2, 1, 3, 1, 2, 2),
        "int32")
    put("shape/one_element_rank3", np.full((1, 1, 1), 9.0, np.float64), "float64")
    put("shape/empty_int64_4x0x2", np.zeros((4, 0, 2), np.int64), "int64")
    return values, names


def _exotic_dtype_values() -> tuple[dict[str, np.ndarray], dict[str, str]]:
    values: dict[str, np.ndarray] = {}
    names: dict[str, str] = {}
    # Quantized types: numpy stores them as plain integers.
    for name, dtype in (("qint8", np.int8), ("quint8", np.uint8), ("qint16", np.int16),
                        ("quint16", np.uint16), ("qint32", np.int32)):
        info = np.iinfo(dtype)
        values[name] = np.array([info.min, 0, 1, info.max], dtype=dtype)
        names[name] = name
    # Sub-byte and 8-bit floats / ints from ml_dtypes.
    for name in ("float8_e5m2", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz",
                 "float8_e5m2fnuz", "float4_e2m1fn"):
        np_type = getattr(tf.dtypes.experimental, name).as_numpy_dtype
        values[name] = np.array([0.0, 1.0, -1.5, 0.5, 2.0, -6.0]).astype(np_type)
        names[name] = name
    for name, numbers in (("int4", [-8, -1, 0, 1, 7]), ("uint4", [0, 1, 9, 15]),
                          ("int2", [-2, -1, 0, 1]), ("uint2", [0, 1, 2, 3])):
        np_type = getattr(tf.dtypes.experimental, name).as_numpy_dtype
        values[name] = np.array(numbers).astype(np_type)
        names[name] = name
    return values, names


def _save_v2(prefix: Path, values: dict[str, np.ndarray], dtype_names: dict[str, str]) -> None:
    keys = list(values)
    tensors = [tf.constant(values[k], dtype=tf.dtypes.as_dtype(dtype_names[k])) for k in keys]
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=keys,
                      shape_and_slices=[""] * len(keys), tensors=tensors)


@_reused
def all_dtypes(dest) -> AllDtypes:
    """Bundles holding one or more tensors of every dtype SaveV2 accepts (see AllDtypes)."""
    _require_eager("all_dtypes")
    dest = _folder(dest)

    values, names = _core_dtype_values()
    _save_v2(dest / "dtypes", values, names)

    exotic_values, exotic_names = _exotic_dtype_values()
    _save_v2(dest / "dtypes_exotic", exotic_values, exotic_names)

    elements = np.array([1.0, -2.0, 3.5], np.float32)
    tensor_list = tf.raw_ops.TensorListFromTensor(
        tensor=tf.constant(elements), element_shape=tf.constant([], tf.int32))
    tf.raw_ops.SaveV2(prefix=str(dest / "dtypes_variant"), tensor_names=["tensor_list"],
                      shape_and_slices=[""], tensors=[tensor_list])

    return AllDtypes(
        dir=dest, prefix=dest / "dtypes", values=values, dtype_names=names,
        exotic_prefix=dest / "dtypes_exotic", exotic_values=exotic_values,
        exotic_dtype_names=exotic_names,
        variant_prefix=dest / "dtypes_variant", variant_key="tensor_list",
        variant_elements=elements)


# ------------------------------------------------------------------ 5. tf2_keras


@dataclass
class Tf2Keras:
    """See :func:`tf2_keras` for what Keras 3 puts in the object graph."""

    dir: Path
    checkpoints: list[ObjectCheckpoint]    # ckpt-1, ckpt-2, ckpt-3 (CheckpointManager)
    state_file: Path                       # dir/checkpoint (relative paths)
    train_x: np.ndarray                    # the 8 training samples (2 steps of 4)
    train_y: np.ndarray
    weight_keys: dict[str, str]            # variable path, e.g. "sequential/hidden/kernel" -> key
    optimizer_keys: dict[str, str]         # optimizer variable path, e.g. "adam/iteration" -> key
    model_only: ObjectCheckpoint           # dir/model_only/ckpt: tf.train.Checkpoint(model=model)
    module: ObjectCheckpoint               # dir/module/ckpt-1: tf.Module tree, several dtypes
    sharded_policy: ObjectCheckpoint       # dir/sharded_policy/ckpt: MaxShardSizePolicy
    sharded_num_shards: int
    max_shard_size: int                    # bytes, passed to MaxShardSizePolicy
    sliced_keys: list[str]                 # keys bigger than max_shard_size (stored as slices)


class _Inner(tf.Module):
    def __init__(self):
        super().__init__(name="inner")
        self.weights = tf.Variable(np.arange(6, dtype=np.float64).reshape(2, 3) / 4, name="weights")
        self.flags = tf.Variable([True, False, True], name="flags")


class _Outer(tf.Module):
    def __init__(self):
        super().__init__(name="outer")
        self.inner = _Inner()
        self.step = tf.Variable(np.int64(123456789012), name="step")
        self.half = tf.Variable(np.array([0.5, -2.0, 65504.0], np.float16), name="half")
        self.tag = tf.Variable(b"module-checkpoint", name="tag")
        self.counts = tf.Variable(np.array([[1, 2], [3, 4]], np.int32), name="counts")
        self.stack = [tf.Variable(np.float32(1.25), name="stack_0"),
                      tf.Variable(np.zeros(3, np.uint8), name="stack_1")]


class _Shardable(tf.Module):
    """Variables sized so that a 2 KB MaxShardSizePolicy yields several shards."""

    def __init__(self):
        super().__init__(name="shardable")
        rng = np.random.RandomState(5)
        self.a = tf.Variable(rng.standard_normal(400).astype(np.float32), name="a")  # 1600 B
        self.b = tf.Variable(rng.standard_normal(400).astype(np.float32), name="b")  # 1600 B
        self.c = tf.Variable(rng.randint(0, 100, 300).astype(np.int32), name="c")  # 1200 B
        self.big = tf.Variable(rng.standard_normal((50, 40)).astype(np.float32), name="big")  # 8000 B
        self.tiny = tf.Variable(np.float64(3.0), name="tiny")


def _tf_variables_by_name(variables) -> dict:
    return {v.name.split(":")[0]: v for v in variables}


@_reused
def tf2_keras(dest) -> Tf2Keras:
    """TF2 object-based checkpoints from Keras 3 and from plain tf.Module trees.

    Layout:
      dest/ckpt-{1,2,3}       tf.train.Checkpoint(model=model, optimizer=optimizer) saved by a
                              CheckpointManager(max_to_keep=3) after 2, 4 and 6 Adam steps.
      dest/model_only/ckpt    tf.train.Checkpoint(model=model).write(...) (no state file).
      dest/module/ckpt-1      tf.train.Checkpoint(net=<tf.Module tree>).save(...).
      dest/sharded_policy/ckpt  root=tf.Module written with MaxShardSizePolicy(2048 bytes).

    Findings (TF 2.21, Keras 3.15, observed by inspecting the TrackableObjectGraph):

    * Variable ``full_name`` values are Keras *paths*: ``sequential/hidden/kernel``,
      ``sequential/hidden/bias``, ``sequential/out/kernel``, ``sequential/out/bias``.
      Optimizer variables are ``adam/iteration``, ``adam/learning_rate`` and
      ``adam/sequential_hidden_kernel_momentum``, ``adam/sequential_hidden_kernel_velocity``
      and so on (the model path with "/" replaced by "_", plus ``_momentum`` / ``_velocity``).
      The Checkpoint's own counter has full_name ``save_counter``.
    * There are NO ``slot_variables`` entries anywhere in the object graph: Adam's momentum
      and velocity are ordinary optimizer variables. They are children of the optimizer
      node under ``_variables`` (a list: 0 = iteration, 1 = learning_rate, then
      momentum/velocity pairs per weight in weight order) and also under ``_momentums``
      and ``_velocities``; the weights appear under ``_trainable_variables``.
    * Keys come from the shortest (breadth-first) path from the root. Because the optimizer
      is a direct child of the root, the model weights get keys through the optimizer:
        sequential/hidden/kernel  -> optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE
        sequential/hidden/bias    -> optimizer/_trainable_variables/1/.ATTRIBUTES/VARIABLE_VALUE
        sequential/out/kernel     -> optimizer/_trainable_variables/2/.ATTRIBUTES/VARIABLE_VALUE
        sequential/out/bias       -> optimizer/_trainable_variables/3/.ATTRIBUTES/VARIABLE_VALUE
        adam/iteration            -> optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE
        adam/learning_rate        -> optimizer/_learning_rate/.ATTRIBUTES/VARIABLE_VALUE
        adam/sequential_hidden_kernel_momentum -> optimizer/_variables/2/.ATTRIBUTES/VARIABLE_VALUE
        adam/sequential_hidden_kernel_velocity -> optimizer/_variables/3/.ATTRIBUTES/VARIABLE_VALUE
        ... up to adam/sequential_out_bias_velocity -> optimizer/_variables/9/...
      There is no ``model/layer_with_weights-0/...`` style key (that was tf.keras 2).
    * The model node's children are ``_functional``, ``optimizer`` (the same node as the
      root's ``optimizer``) and ``_compiled_trainable_state``. The layers live at
      ``model/_functional/_operations/{0,1,2}`` (0 is the InputLayer, with no values;
      ``model/_functional/_tracked`` is an empty node) and a Dense layer's children are
      ``_kernel`` and ``bias`` (note the underscore), which are the very same nodes as
      ``optimizer/_trainable_variables/{0,1}``. Every node appears once in the proto; the
      layer path is just a longer route to it.
    * With ``tf.train.Checkpoint(model=model)`` only, the compiled model still reaches
      the weights through its optimizer first, so the keys are
      ``model/optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE`` etc. and the
      optimizer state is saved too (``model/optimizer/_variables/2/...``).
    * CheckpointManager writes the ``checkpoint`` state file with relative paths
      (``model_checkpoint_path: "ckpt-3"``).
    * ``tf.train.experimental.MaxShardSizePolicy`` exists; tensors larger than the limit
      are split into slices across data files (the index then holds slice entries for
      that key, like a TF1 partitioned variable), and the object graph tensor lands in
      the last shard. With 2048 bytes and the variables of ``_Shardable`` TF writes 7 shards.
    """
    _require_eager("tf2_keras")
    import keras

    dest = _folder(dest)
    rng = np.random.RandomState(3)
    train_x = rng.standard_normal((8, 4)).astype(np.float32)
    train_y = rng.standard_normal((8, 2)).astype(np.float32)

    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(5, activation="relu", name="hidden",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=11)),
        keras.layers.Dense(2, name="out",
                           kernel_initializer=keras.initializers.GlorotUniform(seed=12)),
    ], name="sequential")
    optimizer = keras.optimizers.Adam(learning_rate=0.01, name="adam")  # named: Keras would
    # otherwise call a second one in the same process "adam_1"
    model.compile(optimizer=optimizer, loss="mse")

    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    manager = tf.train.CheckpointManager(checkpoint, str(dest), max_to_keep=3)

    def live_variables():
        # Keras paths are the object graph's full_names. Adam builds its momentum and
        # velocity variables on the first step, so this is looked up after training.
        live = {v.path: v for v in list(model.weights) + list(optimizer.variables)}
        live["save_counter"] = checkpoint.save_counter
        return live

    checkpoints = []
    for _ in range(3):
        # 8 samples, batch 4, no shuffling: exactly two optimizer steps per save.
        model.fit(train_x, train_y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        prefix = Path(manager.save())
        live = live_variables()
        checkpoints.append(ObjectCheckpoint(dest, prefix, _values_by_key(prefix, live),
                                            _key_to_full_name(prefix)))

    full_names = checkpoints[-1].full_names
    weight_keys = {full_names[k]: k for k in full_names if full_names[k] in
                   {w.path for w in model.weights}}
    optimizer_keys = {full_names[k]: k for k in full_names if full_names[k] in
                      {v.path for v in optimizer.variables}}

    # The model alone (it still drags its compiled optimizer along).
    model_dir = _folder(dest / "model_only")
    model_prefix = Path(tf.train.Checkpoint(model=model).write(str(model_dir / "ckpt")))
    model_only = ObjectCheckpoint(model_dir, model_prefix, _values_by_key(model_prefix, live),
                                  _key_to_full_name(model_prefix))

    # A plain tf.Module tree with a nested module, a list and several dtypes.
    module_dir = _folder(dest / "module")
    outer = _Outer()
    module_ckpt = tf.train.Checkpoint(net=outer)
    module_prefix = Path(module_ckpt.save(str(module_dir / "ckpt")))
    module_live = _tf_variables_by_name(list(outer.variables) + [module_ckpt.save_counter])
    module = ObjectCheckpoint(module_dir, module_prefix, _values_by_key(module_prefix, module_live),
                              _key_to_full_name(module_prefix))

    # Sharding by size: several whole-tensor shards plus one tensor split into slices.
    max_shard_size = 2048
    shard_dir = _folder(dest / "sharded_policy")
    shardable = _Shardable()
    options = tf.train.CheckpointOptions(
        experimental_sharding_callback=tf.train.experimental.MaxShardSizePolicy(
            max_shard_size=max_shard_size))
    shard_prefix = Path(tf.train.Checkpoint(root=shardable).write(str(shard_dir / "ckpt"),
                                                                  options=options))
    shard_live = _tf_variables_by_name(shardable.variables)
    sharded = ObjectCheckpoint(shard_dir, shard_prefix, _values_by_key(shard_prefix, shard_live),
                               _key_to_full_name(shard_prefix))
    sliced = sorted(k for k, v in sharded.values.items() if v.nbytes > max_shard_size)

    return Tf2Keras(
        dir=dest, checkpoints=checkpoints, state_file=dest / "checkpoint",
        train_x=train_x, train_y=train_y, weight_keys=weight_keys, optimizer_keys=optimizer_keys,
        model_only=model_only, module=module, sharded_policy=sharded,
        sharded_num_shards=len(sharded.data_files), max_shard_size=max_shard_size,
        sliced_keys=sliced)


# ------------------------------------------------------------------ 6. saved_models


@dataclass
class SavedModelInfo:
    dir: Path                         # the SavedModel folder (saved_model.pb, variables/)
    variables_prefix: Path            # dir/variables/variables
    values: dict[str, np.ndarray]     # checkpoint key in variables/ -> value
    tags: list[str]                   # ["serve"]
    signature: str                    # "serving_default"
    input_name: str                   # "x"
    output_name: str                  # "y"
    sample_input: np.ndarray          # float32 [2, 3]
    expected_output: np.ndarray       # the signature's output for sample_input


@dataclass
class SavedModels:
    dir: Path
    tf2: SavedModelInfo
    tf1: SavedModelInfo


class _Affine(tf.Module):
    def __init__(self):
        super().__init__(name="affine")
        self.w = tf.Variable(np.array([[1.0, -1.0], [0.5, 2.0], [-3.0, 0.25]], np.float32), name="w")
        self.b = tf.Variable(np.array([0.1, -0.2], np.float32), name="b")
        self.calls = tf.Variable(np.int64(0), name="calls", trainable=False)

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def __call__(self, x):
        return {"y": tf.matmul(x, self.w) + self.b}


def _saved_model_tf2(dest: Path, sample: np.ndarray) -> SavedModelInfo:
    module = _Affine()
    # tf.saved_model.save wants to create the folder itself (it may exist and be empty).
    tf.saved_model.save(module, str(dest), signatures={"serving_default": module.__call__})
    prefix = dest / "variables" / "variables"
    values = _values_by_key(prefix, _tf_variables_by_name(module.variables))
    return SavedModelInfo(dest, prefix, values, ["serve"], "serving_default", "x", "y",
                          sample, module(tf.constant(sample))["y"].numpy())


def _saved_model_tf1(dest: Path, sample: np.ndarray) -> SavedModelInfo:
    if dest.exists():
        dest.rmdir()  # the Builder refuses an existing folder; only an empty one is removed
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        w = tf.compat.v1.Variable(np.array([[2.0], [0.0], [-1.0]], np.float32), name="w",
                                  use_resource=False)
        b = tf.compat.v1.Variable(np.array([0.5], np.float32), name="b", use_resource=False)
        y = tf.identity(tf.matmul(x, w) + b, name="y")
        with _quiet_tf_logs():
            signature = tf.compat.v1.saved_model.signature_def_utils.predict_signature_def(
                inputs={"x": x}, outputs={"y": y})
        builder = tf.compat.v1.saved_model.Builder(str(dest))
        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            expected = sess.run(y, {x: sample})
            values = _snapshot(sess, [w, b])
            builder.add_meta_graph_and_variables(
                sess, [tf.compat.v1.saved_model.tag_constants.SERVING],
                signature_def_map={"serving_default": signature})
        builder.save()
    return SavedModelInfo(dest, dest / "variables" / "variables", values, ["serve"],
                          "serving_default", "x", "y", sample, expected)


@_reused
def saved_models(dest) -> SavedModels:
    """A TF2 SavedModel (``dest/tf2``) and a TF1 Builder SavedModel (``dest/tf1``).

    Both take float32 ``x`` of shape [None, 3] and return ``y`` through the
    ``serving_default`` signature under the ``serve`` tag. The TF2 one computes
    ``x @ w + b`` (w [3, 2]) and also holds an int64 ``calls`` variable; its variable
    keys are ``w/.ATTRIBUTES/VARIABLE_VALUE`` style. The TF1 one computes ``x @ w + b``
    (w [3, 1]) and its variables are saved under their graph names ``w`` and ``b``.
    """
    _require_eager("saved_models")
    dest = _folder(dest)
    sample = np.array([[1.0, 2.0, 3.0], [-0.5, 0.0, 4.0]], np.float32)
    return SavedModels(dir=dest,
                       tf2=_saved_model_tf2(dest / "tf2", sample),
                       tf1=_saved_model_tf1(dest / "tf1", sample))


# ------------------------------------------------------------------ 7. graphs


@dataclass
class Graphs:
    dir: Path
    graph_pbtxt: Path                  # text GraphDef (variables still variables)
    graph_pb: Path                     # the same GraphDef, binary
    frozen_pb: Path                    # variables replaced by Const nodes
    input_name: str                    # "input" (placeholder float32 [None, 4])
    output_name: str                   # "output"
    variables: dict[str, np.ndarray]   # variable name -> value when frozen
    frozen_consts: dict[str, np.ndarray]  # every Const node of frozen.pb -> its value
    sample_input: np.ndarray
    expected_output: np.ndarray


@_reused
def graphs(dest) -> Graphs:
    """One small TF1 graph written as graph.pbtxt / graph.pb and frozen into frozen.pb.

    ``output = softmax(relu(input @ layer1/weights + layer1/bias) @ layer2/weights)``
    scaled by a constant. ``frozen_consts`` lists every Const in frozen.pb by node name;
    the frozen variables keep their variable names (``layer1/weights`` ...).
    """
    dest = _folder(dest)
    sample = np.array([[1.0, 0.0, -1.0, 2.0], [0.5, 0.5, 0.5, 0.5]], np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="input")
        rng = np.random.RandomState(9)
        with tf.compat.v1.variable_scope("layer1"):
            w1 = tf.compat.v1.Variable(rng.standard_normal((4, 3)).astype(np.float32),
                                       name="weights", use_resource=False)
            b1 = tf.compat.v1.Variable(np.array([0.1, 0.0, -0.1], np.float32), name="bias",
                                       use_resource=False)
            hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
        with tf.compat.v1.variable_scope("layer2"):
            w2 = tf.compat.v1.Variable(rng.standard_normal((3, 2)).astype(np.float32),
                                       name="weights", use_resource=False)
            logits = tf.matmul(hidden, w2)
        scale = tf.constant(np.float32(2.0), name="scale")
        output = tf.multiply(tf.nn.softmax(logits), scale, name="output")

        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            expected = sess.run(output, {x: sample})
            variables = _snapshot(sess, [w1, b1, w2])
            graph_def = graph.as_graph_def()
            tf.io.write_graph(graph_def, str(dest), "graph.pbtxt", as_text=True)
            tf.io.write_graph(graph_def, str(dest), "graph.pb", as_text=False)
            with _quiet_tf_logs():
                frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
                    sess, graph_def, ["output"])
    tf.io.write_graph(frozen, str(dest), "frozen.pb", as_text=False)
    consts = {node.name: tf.make_ndarray(node.attr["value"].tensor)
              for node in frozen.node if node.op == "Const"}
    return Graphs(dir=dest, graph_pbtxt=dest / "graph.pbtxt", graph_pb=dest / "graph.pb",
                  frozen_pb=dest / "frozen.pb", input_name="input", output_name="output",
                  variables=variables, frozen_consts=consts, sample_input=sample,
                  expected_output=expected)


# ------------------------------------------------------------------ 8. unsafe_graph


@dataclass
class UnsafeGraph:
    dir: Path
    checkpoint: SaverCheckpoint      # dir/model (+ model.meta)
    write_op: str                    # name of the WriteFile node
    target: Path                     # the file WriteFile would create; never created here
    payload: bytes                   # what it would write
    output: str                      # "output:0": running it triggers the write
    input_name: str                  # "x:0", float32 [None]


@_reused
def unsafe_graph(dest) -> UnsafeGraph:
    """A graph where evaluating ``output`` also writes a file (for safety tests).

    ``output = x * scale`` carries a control dependency on a ``WriteFile`` op whose
    filename constant is the absolute path ``target`` (dest/PWNED.txt). The graph is
    only built and saved, never run, so ``target`` does not exist afterwards; a tool
    that merely inspects the files must not create it either.
    """
    dest = _folder(dest)
    target = dest / "PWNED.txt"
    payload = b"written by the unsafe_graph fixture\n"
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
        scale = tf.compat.v1.Variable(3.0, name="scale", use_resource=False)
        write = tf.io.write_file(tf.constant(str(target), name="target_path"),
                                 tf.constant(payload, name="payload"), name="write_file")
        with tf.control_dependencies([write]):
            output = tf.multiply(x, scale, name="output")
        saver = tf.compat.v1.train.Saver()
        with _session(graph) as sess:
            sess.run(scale.initializer)  # initialise only: never touch `output`
            values = _snapshot(sess, [scale])
            prefix = Path(saver.save(sess, str(dest / "model")))
    if target.exists():
        raise AssertionError("building the unsafe graph must not run WriteFile")
    return UnsafeGraph(
        dir=dest,
        checkpoint=SaverCheckpoint(dest, prefix, prefix.with_name("model.meta"), values,
                                   dest / "checkpoint"),
        write_op=write.name, target=target, payload=payload,
        output=output.name, input_name=x.name)


# ------------------------------------------------------------------ 9. summaries (event files)


def write_event_records(path, events, append: bool = False) -> list[int]:
    """Write ``events`` (Event protos or their bytes) to ``path`` as TFRecord frames, as
    TensorFlow's EventsWriter frames them; return each record's byte offset. Much faster
    than a summary writer, for large or hand-damaged files."""
    import struct

    import crc32c

    from app.formats.crc import mask_crc

    def masked(data: bytes) -> bytes:
        return struct.pack("<I", mask_crc(crc32c.crc32c(data)))

    path = Path(path)
    offsets, frames = [], []
    at = path.stat().st_size if append and path.exists() else 0
    for event in events:
        data = event if isinstance(event, bytes) else event.SerializeToString()
        header = struct.pack("<Q", len(data))
        frame = header + masked(header) + data + masked(data)
        offsets.append(at)
        at += len(frame)
        frames.append(frame)
    with open(path, "ab" if append else "wb") as f:
        f.write(b"".join(frames))
    return offsets


@dataclass
class SummaryRun:
    dir: Path                        # the run folder
    runs: dict[str, Path]            # run name ("." or a subfolder) -> its folder
    checkpoints: list[Path]          # checkpoint prefixes written beside the summaries
    # What the writers were asked to record: (run, tag) -> [(step, value)], before any
    # float32 rounding; strings, non-scalar tensors and histograms are not listed.
    scalars: dict[tuple[str, str], list[tuple[int, float]]] = field(default_factory=dict)
    histogram_tags: list[tuple[str, str]] = field(default_factory=list)
    skipped_tags: list[tuple[str, str]] = field(default_factory=list)  # strings, non-scalars


@_reused
def summaries_tf2(dest, steps: int = 12) -> SummaryRun:
    """A TF2 training loop: a ``CheckpointManager`` saves ``ckpt-N`` in ``dest`` while
    ``tf.summary`` writers log to ``dest/train`` and ``dest/eval`` (the layout of Keras'
    TensorBoard callback and of most custom loops).

    train/: scalars loss, learning_rate (every step), a histogram of the weights, a text
    summary, an int64 and a float64 scalars-plugin tensor, and a [2]-shaped tensor that
    claims the scalars plugin (not a scalar). eval/: accuracy and loss every 4 steps.
    """
    from tensorboard.compat.proto import summary_pb2

    _require_eager("summaries_tf2")
    dest = _folder(dest)
    rng = np.random.RandomState(7)
    w = tf.Variable(rng.normal(size=[16]).astype(np.float32), name="w")
    opt_step = tf.Variable(0, dtype=tf.int64, name="step")
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(w=w, step=opt_step), str(dest),
                                         max_to_keep=None)
    scalars_meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    train = tf.summary.create_file_writer(str(dest / "train"))
    evaluate = tf.summary.create_file_writer(str(dest / "eval"))
    run = SummaryRun(dir=dest, runs={"train": dest / "train", "eval": dest / "eval"}, checkpoints=[])
    asked = run.scalars

    def ask(name, tag, step, value):
        asked.setdefault((name, tag), []).append((step, float(value)))

    for step in range(steps):
        w.assign_sub(0.05 * w + rng.normal(scale=0.01, size=[16]).astype(np.float32))
        opt_step.assign(step)
        loss = float(np.sum(w.numpy() ** 2)) / (step + 1)
        lr = 0.1 * 0.9 ** step
        with train.as_default():
            tf.summary.scalar("loss", loss, step=step)
            tf.summary.scalar("learning_rate", lr, step=step)
            tf.summary.histogram("weights", w, step=step)
            tf.summary.text("notes", f"step {step}", step=step)
            tf.summary.write("int_count", tf.constant(step * 3, tf.int64), step=step, metadata=scalars_meta)
            tf.summary.write("precise", tf.constant(1.0 / 3 + step, tf.float64), step=step,
                             metadata=scalars_meta)
            tf.summary.write("pair", tf.constant([1.0, 2.0]), step=step, metadata=scalars_meta)
        for tag, value in (("loss", loss), ("learning_rate", lr), ("int_count", step * 3),
                           ("precise", 1.0 / 3 + step)):
            ask("train", tag, step, value)
        if step % 4 == 3:
            accuracy = 0.5 + step / (2 * steps)
            with evaluate.as_default():
                tf.summary.scalar("accuracy", accuracy, step=step)
                tf.summary.scalar("loss", loss * 1.1, step=step)
            ask("eval", "accuracy", step, accuracy)
            ask("eval", "loss", step, loss * 1.1)
            run.checkpoints.append(Path(manager.save(checkpoint_number=step)))
    train.close()
    evaluate.close()
    run.histogram_tags = [("train", "weights")]
    run.skipped_tags = [("train", "notes"), ("train", "pair")]
    return run


@_reused
def summaries_tf1(dest, steps: int = 10) -> SummaryRun:
    """A TF1 session loop as an Estimator lays it out: a ``Saver`` writes ``model.ckpt-N``
    and a ``FileWriter`` the graph and merged summaries (``simple_value`` scalars, a
    ``HistogramProto`` of the inputs, a text summary) in ``dest`` itself; a second ``FileWriter`` logs
    eval accuracy to ``dest/eval``. A hand-built Summary adds a scalar the graph has not."""
    dest = _folder(dest)
    run = SummaryRun(dir=dest, runs={".": dest, "eval": dest / "eval"}, checkpoints=[])
    graph = tf.Graph()
    with graph.as_default(), _quiet_tf_logs():
        tf.compat.v1.set_random_seed(3)
        x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
        w = tf.compat.v1.get_variable("weight", [], tf.float32, tf.compat.v1.ones_initializer(),
                                      use_resource=False)
        global_step = tf.compat.v1.train.get_or_create_global_step()
        loss = tf.reduce_mean(tf.square(x * w - 2.0 * x), name="mse")
        train_op = tf.compat.v1.train.GradientDescentOptimizer(0.05).minimize(loss, global_step=global_step)
        tf.compat.v1.summary.scalar("loss", loss)
        tf.compat.v1.summary.scalar("w", w)
        tf.compat.v1.summary.histogram("inputs", x)
        tf.compat.v1.summary.text("about", tf.constant("a TF1 run"))
        merged = tf.compat.v1.summary.merge_all()
        saver = tf.compat.v1.train.Saver(max_to_keep=None)
        writer = tf.compat.v1.summary.FileWriter(str(dest), graph)
        eval_writer = tf.compat.v1.summary.FileWriter(str(dest / "eval"))
        rng = np.random.RandomState(11)
        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for _ in range(steps):
                batch = rng.normal(size=[32]).astype(np.float32)
                summary, lss, wv, step = sess.run([merged, loss, w, global_step], {x: batch})
                sess.run(train_op, {x: batch})
                writer.add_summary(summary, step)
                run.scalars.setdefault((".", "loss"), []).append((int(step), float(lss)))
                run.scalars.setdefault((".", "w"), []).append((int(step), float(wv)))
                if step % 3 == 2:
                    acc = 1.0 / (1.0 + abs(float(wv) - 2.0))
                    eval_writer.add_summary(tf.compat.v1.Summary(
                        value=[tf.compat.v1.Summary.Value(tag="accuracy", simple_value=acc)]), step)
                    run.scalars.setdefault(("eval", "accuracy"), []).append((int(step), acc))
                    run.checkpoints.append(Path(saver.save(sess, str(dest / "model.ckpt"), global_step=step)))
        writer.close()
        eval_writer.close()
    run.histogram_tags = [(".", "inputs")]
    run.skipped_tags = [(".", "about")]
    return run


# ------------------------------------------------------------ optimizer slots, linked


@dataclass
class SlotCheckpoint:
    """A TF2 checkpoint whose object graph records ``slot_variables`` (Keras 3 does not):
    a TF1 Adam optimizer tracked by ``tf.train.Checkpoint``."""

    prefix: Path
    variable_keys: dict[str, str]          # "kernel", "bias" -> checkpoint key
    slot_keys: dict[tuple[str, str], str]  # ("kernel", "m") -> checkpoint key of that slot
    values: dict[str, np.ndarray]          # every key -> its value at save time


@_reused
def slot_variables(dest) -> SlotCheckpoint:
    _require_eager("slot_variables")
    dest = _folder(dest)
    # Different shapes, so a slot swapped with its variable or with the other variable's
    # slot cannot match by accident.
    kernel = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3) / 8, name="kernel")
    bias = tf.Variable(np.array([0.5, -1.0], np.float32), name="bias")
    optimizer = tf.compat.v1.train.AdamOptimizer(0.1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(kernel * kernel) + tf.reduce_sum(3.0 * bias)
    optimizer.apply_gradients(zip(tape.gradient(loss, [kernel, bias]), [kernel, bias]))
    prefix = tf.train.Checkpoint(kernel=kernel, bias=bias, optimizer=optimizer).write(
        str(dest / "ckpt"))
    variables = {"kernel": kernel, "bias": bias}
    variable_keys = {n: f"{n}/.ATTRIBUTES/VARIABLE_VALUE" for n in variables}
    slot_keys = {(n, s): f"{n}/.OPTIMIZER_SLOT/optimizer/{s}/.ATTRIBUTES/VARIABLE_VALUE"
                 for n in variables for s in ("m", "v")}
    values = {variable_keys[n]: v.numpy() for n, v in variables.items()}
    values.update({key: optimizer.get_slot(variables[n], s).numpy()
                   for (n, s), key in slot_keys.items()})
    return SlotCheckpoint(Path(prefix), variable_keys, slot_keys, values)


# ------------------------------------------------------- functions and Keras layers, as TF runs them
# Mutation runs test each mutant in a process forked from one where TensorFlow already ran: a
# session or an eager op there never returns. What TensorFlow computes is therefore done here,
# once, and what the tests compare against is returned as plain values.


@dataclass
class LoopSavedModel:
    dir: Path
    output_at_2: float                 # what TensorFlow's own load and call give for x = 2


@_reused
def loop_saved_model(dest) -> LoopSavedModel:
    """A TF2 SavedModel whose function holds a while loop (x doubled 5 times) and a
    data-dependent cond (y > 10: y - 10, else y + 1)."""
    _require_eager("loop_saved_model")
    dest = _folder(dest)

    class Loop(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def __call__(self, x):
            i = tf.constant(0)
            _, y = tf.while_loop(lambda i, y: i < 5, lambda i, y: (i + 1, y * 2.0), [i, x])
            return tf.cond(y > 10.0, lambda: y - 10.0, lambda: y + 1.0)

    tf.saved_model.save(Loop(), str(dest / "loop"))
    restored = tf.saved_model.load(str(dest / "loop"))
    return LoopSavedModel(dest / "loop", float(restored(tf.constant(2.0))))


@dataclass
class RestoredVariables:
    # an object's first path through the SavedModel's object graph + the name it gives a
    # variable ("layer_with_weights-0/kernel") -> (shape, dtype name, value) of the variable
    # `tf.saved_model.load` restores as that attribute
    by_path: dict[str, tuple[tuple, str, np.ndarray]]


@_reused
def restored_variables(dest, saved_model: str) -> RestoredVariables:
    """Every variable of a SavedModel as `tf.saved_model.load` restores it, as an attribute
    of each object that holds it (objects by their first breadth-first path from the root)."""
    _require_eager("restored_variables")
    from tensorflow.core.protobuf import saved_model_pb2
    sm = saved_model_pb2.SavedModel.FromString((Path(saved_model) / "saved_model.pb").read_bytes())
    nodes = sm.meta_graphs[0].object_graph_def.nodes
    paths, queue = {0: ()}, [0]
    for node_id in queue:
        for child in nodes[node_id].children:
            if child.node_id not in paths:
                paths[child.node_id] = paths[node_id] + (child.local_name,)
                queue.append(child.node_id)
    restored = tf.saved_model.load(saved_model)
    out = {}
    for node_id, path in paths.items():       # each object at its first path, its variables by name
        obj = restored
        try:
            for part in path:
                obj = getattr(obj, part)
        except AttributeError:
            continue
        for child in nodes[node_id].children:
            if nodes[child.node_id].WhichOneof("kind") == "variable" and hasattr(obj, child.local_name):
                var = getattr(obj, child.local_name)
                out["/".join(path + (child.local_name,))] = (tuple(var.shape), var.dtype.name, var.numpy())
    return RestoredVariables(out)


@dataclass
class Keras3Export:
    dir: Path                          # what `model.export()` wrote
    # (layer path, weight name) -> (shape, trainable, value) as Keras holds them
    weights: dict[tuple[str, str], tuple[tuple, bool, np.ndarray]]
    restored: dict[str, np.ndarray]    # variable name -> value, as `tf.saved_model.load` gives


@_reused
def keras3_export(dest, kind: str) -> Keras3Export:
    """A Keras 3 `model.export()`: "cnn" (conv, batch norm, dense; fitted once) or "mlp"
    (two dense layers)."""
    _require_eager("keras3_export")
    import keras
    dest = _folder(dest)
    keras.utils.set_random_seed(5)
    if kind == "cnn":
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="conv_a"),
                                  keras.layers.BatchNormalization(name="bn"),
                                  keras.layers.Flatten(name="flat"), keras.layers.Dense(3, name="logits")],
                                 name="tiny_cnn")
        model.compile("adam", "mse")
        model.fit(np.ones((4, 8, 8, 1), np.float32), np.ones((4, 3), np.float32), verbose=0)
    else:
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, name="hidden"),
                                  keras.layers.Dense(2, name="out")], name="mlp")
    export = dest / "export"
    model.export(str(export), verbose=False)
    weights = {tuple(v.path.rsplit("/", 1)): (tuple(v.shape), bool(v.trainable), np.asarray(v.numpy()))
               for layer in model.layers for v in layer.weights}
    restored = {v.name.split(":")[0]: v.numpy() for v in tf.saved_model.load(str(export)).variables}
    return Keras3Export(export, weights, restored)


@dataclass
class Tf1GraphFiles:
    dir: Path              # model.meta, graph.pb, graph.pbtxt, text_behind.pb (text under a binary name)
    meta: bytes            # the MetaGraphDef TensorFlow exported, serialized
    variables: dict[str, tuple]     # variable op -> shape
    trainable: list[str]   # trainable variables' ops
    saved_as: dict[str, str]        # checkpoint key the Saver was given -> variable op
    long_name: str         # a variable whose name takes more than 127 bytes


@_reused
def tf1_graph_files(dest) -> Tf1GraphFiles:
    """A TF1 graph with ref and resource variables, a Saver given a dict (one variable left
    out of it), collections of nodes, variables and ints, written as a meta graph and as a
    GraphDef in binary, text, and text behind a binary name."""
    dest = _folder(dest)
    long_name = "scope_" + "x" * 200
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        with tf.compat.v1.variable_scope("dense"):
            kernel = tf.compat.v1.Variable(np.ones((4, 3), np.float32), name="kernel", use_resource=False)
            bias = tf.compat.v1.Variable(np.zeros(3, np.float32), name="bias", use_resource=False)
        res = tf.compat.v1.Variable(np.ones((2, 5), np.float64), name="res", use_resource=True)
        tf.compat.v1.Variable(np.int32(7), name="unsaved", use_resource=False, trainable=False)
        tf.compat.v1.Variable(np.zeros((6,), np.float32), name=long_name, use_resource=False)
        logits = tf.add(tf.matmul(x, kernel), bias, name="logits")
        tf.nn.softmax(logits, name="probs")
        tf.compat.v1.add_to_collection("outputs_ops", logits.op)
        tf.compat.v1.add_to_collection("my_ints", 3)
        saved_as = {"weights/custom": kernel, "res/saved_as": res, "b": bias}
        saver = tf.compat.v1.train.Saver(saved_as)
        meta = tf.compat.v1.train.export_meta_graph(str(dest / "model.meta"), graph=graph,
                                                    saver_def=saver.as_saver_def())
        graph_def = graph.as_graph_def()
        tf.io.write_graph(graph_def, str(dest), "graph.pb", as_text=False)
        tf.io.write_graph(graph_def, str(dest), "graph.pbtxt", as_text=True)
        tf.io.write_graph(graph_def, str(dest), "text_behind.pb", as_text=True)
        variables = {v.op.name: tuple(v.shape.as_list()) for v in tf.compat.v1.global_variables()}
        trainable = [v.op.name for v in tf.compat.v1.trainable_variables()]
    return Tf1GraphFiles(dest, meta.SerializeToString(), variables, trainable,
                         {k: v.op.name for k, v in saved_as.items()}, long_name)


@dataclass
class CallingGraph:
    graph_def: bytes       # a TF1 graph: a Defun called by op type, a switch_case's branches
    case: str              # the Case op's name
    branches: list[str]    # the functions it lists, in order
    defun: str             # the Defun's function name (the op type of its call)


@_reused
def calling_graph(dest) -> CallingGraph:
    from tensorflow.python.framework import function as tf_function
    graph = tf.Graph()
    with graph.as_default():
        @tf_function.Defun(tf.float32)
        def Twice(x):
            return x * 2.0
        x = tf.compat.v1.placeholder(tf.float32, [], name="x")
        Twice(x, name="call_twice")
        i = tf.compat.v1.placeholder(tf.int32, [], name="i")
        tf.switch_case(i, [lambda: x + 1.0, lambda: x - 1.0, lambda: x * 3.0], name="case")
    case = next(op for op in graph.get_operations() if op.type in ("Case", "StatelessCase"))
    return CallingGraph(graph.as_graph_def().SerializeToString(), case.name,
                        [f.name for f in case.get_attr("branches")],
                        graph.get_operation_by_name("call_twice").type)


@dataclass
class AttrGraph:
    graph_def: bytes       # a conv, consts of several sizes and dtypes, placeholders
    strides: list[int]     # the conv's strides as TensorFlow reads its attr


@_reused
def attr_graph(dest) -> AttrGraph:
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        tf.nn.conv2d(x, np.ones((3, 3, 3, 2), np.float32), strides=[1, 2, 2, 1], padding="SAME", name="conv")
        tf.constant(2.5, name="scalar")
        tf.constant(np.arange(8, dtype=np.int32).reshape(2, 4), name="eight")
        tf.constant(np.arange(9, dtype=np.int64), name="nine")
        tf.constant([b"ab", b"c"], name="strings")
        tf.compat.v1.placeholder(tf.float32, None, name="anything")
    return AttrGraph(graph.as_graph_def().SerializeToString(),
                     list(graph.get_operation_by_name("conv").get_attr("strides")))


# ------------------------------------------------------------------ Keras files


@dataclass
class KerasFiles:
    dir: Path              # tiny.keras, tiny.h5 (legacy layout), tiny.weights.h5, run/weights.epochNN.weights.h5
    weights: dict[str, np.ndarray]                 # weight path -> value at the end
    by_epoch: dict[int, dict[str, np.ndarray]]     # epoch -> weight path -> value then
    layers: list[tuple[str, str, list[str]]]       # (layer name, class, its weights' paths), in order
    slots: dict[str, np.ndarray]                   # optimizer variable path -> value
    trainable: int         # how many trainable weights
    params: int            # model.count_params()


@_reused
def keras_files(dest) -> KerasFiles:
    """A small Keras 3 CNN (conv, batch norm, conv without bias, dense) fitted three epochs with
    Adam, saved as .keras, legacy .h5 and .weights.h5, with a weights file per epoch."""
    _require_eager("keras_files")
    import keras
    dest = _folder(dest)
    run = dest / "run"
    run.mkdir(exist_ok=True)
    keras.utils.set_random_seed(3)
    inp = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv_a")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(2, 3, use_bias=False, name="conv_b")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, activation="relu", name="hidden")(x)
    out = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    model = keras.Model(inp, out, name="tiny_cnn")
    # named: Keras calls a second unnamed one in the same process "adam_1"
    model.compile(keras.optimizers.Adam(0.01, name="adam"), "sparse_categorical_crossentropy")
    by_epoch: dict[int, dict[str, np.ndarray]] = {}

    class EpochWeights(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            by_epoch[epoch + 1] = {w.path: np.array(w.numpy()) for w in self.model.weights}

    rng = np.random.default_rng(0)
    x, y = rng.random((16, 8, 8, 3), dtype=np.float32), rng.integers(0, 3, 16)
    saver = keras.callbacks.ModelCheckpoint(str(run / "weights.epoch{epoch:02d}.weights.h5"),
                                            save_weights_only=True)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[EpochWeights(), saver])
    model.save(dest / "tiny.keras")
    model.save(dest / "tiny.h5")                 # Keras' legacy HDF5: the Keras 2 layout
    model.save_weights(dest / "tiny.weights.h5")
    return KerasFiles(
        dest, {w.path: np.array(w.numpy()) for w in model.weights}, by_epoch,
        [(layer.name, type(layer).__name__, [w.path for w in layer.weights]) for layer in model.layers],
        {v.path: np.array(v.numpy()) for v in model.optimizer.variables},
        len(model.trainable_weights), model.count_params())


@dataclass
class KerasNested:
    dir: Path              # seq.keras, seq.h5, seq.weights.h5
    weights: dict[str, np.ndarray]                 # weight path -> value


@_reused
def keras_nested(dest) -> KerasNested:
    """A Sequential inside a Functional model (`block/inner_dense/kernel`) and an LSTM's cell
    (`lstm/lstm_cell/recurrent_kernel`), saved in every Keras file kind."""
    _require_eager("keras_nested")
    import keras
    dest = _folder(dest)
    keras.utils.set_random_seed(5)
    block = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="inner_dense")], name="block")
    inp = keras.Input((5, 4))
    x = keras.layers.LSTM(6, name="lstm")(inp)
    x = keras.layers.Dense(4, name="proj")(x)
    model = keras.Model(inp, block(x), name="seq")
    for name in ("seq.keras", "seq.h5", "seq.weights.h5"):
        (model.save_weights if name.endswith(".weights.h5") else model.save)(dest / name)
    return KerasNested(dest, {w.path: np.array(w.numpy()) for w in model.weights})


@dataclass
class KerasLoaded:
    weights: dict[str, np.ndarray]                 # weight path -> value, as Keras loads the file
    classes: dict[str, str]                        # layer name -> class


@_reused
def keras_loaded(dest, path: str) -> KerasLoaded:
    """What Keras itself loads from a model file someone else wrote (nothing is written to dest)."""
    import keras
    model = keras.models.load_model(path, compile=False)
    return KerasLoaded({w.path: np.array(w.numpy()) for w in model.weights},
                       {layer.name: type(layer).__name__ for layer in model.layers})


# ------------------------------------------------------------------ what trains


@dataclass
class ParamCheckpoints:
    tf1_frozen: Path       # TF1 Saver run: a trainable kernel [4, 3] and a non-trainable bn/moving_mean [3], Adam
    keras_bn: Path         # tf.train.Checkpoint of a Keras model with batch norm and its Adam, one step
    keras_trainable: int   # Keras' counts for that model
    keras_frozen: int
    saved_model: Path      # a tf.Module SavedModel: w [4, 3] and scale trainable, stats [3] not
    no_optimizer: Path     # tf.train.Checkpoint of a module alone


@_reused
def param_checkpoints(dest) -> ParamCheckpoints:
    """Checkpoints that tell in different ways which variables train."""
    _require_eager("param_checkpoints")
    dest = _folder(dest)
    tf1 = dest / "tf1_frozen"
    graph = tf.Graph()
    with graph.as_default():
        w = tf.compat.v1.get_variable("dense/kernel", [4, 3], initializer=tf.compat.v1.ones_initializer())
        tf.compat.v1.get_variable("bn/moving_mean", [3], trainable=False,
                                  initializer=tf.compat.v1.zeros_initializer())
        step = tf.compat.v1.train.get_or_create_global_step()
        train = tf.compat.v1.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(w), global_step=step)
        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(train)
            tf.compat.v1.train.Saver().save(sess, str(tf1 / "model.ckpt"), global_step=1)

    keras = tf.keras
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(),
                              keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(name="adam"), loss="mse")
    model.fit(tf.ones((8, 4)), tf.zeros((8, 2)), epochs=1, verbose=0)
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).save(str(dest / "keras_bn" / "ckpt"))

    module = tf.Module()
    module.w = tf.Variable(tf.ones([4, 3]), name="w")
    module.stats = tf.Variable(tf.zeros([3]), trainable=False, name="stats")
    module.scale = tf.Variable(2.0, name="scale")
    module.f = tf.function(lambda x: tf.matmul(x, module.w) * module.scale + module.stats,
                           input_signature=[tf.TensorSpec([None, 4])])
    tf.saved_model.save(module, str(dest / "sm"))

    alone = tf.Module()
    alone.w = tf.Variable(tf.ones([4, 3]))
    tf.train.Checkpoint(m=alone).save(str(dest / "alone" / "ckpt"))
    return ParamCheckpoints(tf1, dest / "keras_bn",
                            sum(int(tf.size(w)) for w in model.trainable_weights),
                            sum(int(tf.size(w)) for w in model.non_trainable_weights),
                            dest / "sm", dest / "alone")


# ------------------------------------------------------------------ a training process's events


@dataclass
class TrainedWithEvents:
    run: Path              # checkpoints, and train/ with tf.summary's event file
    histogram: np.ndarray  # the [k, 3] histogram of variable "a" at step 3, as TensorFlow reads it back


@_reused
def trained_with_events(dest) -> TrainedWithEvents:
    """tests/live_train.py in tf2ev mode, run to its end in its own process (4 saves)."""
    run = Path(dest).absolute() / "run"
    record = Path(dest).absolute() / "record"
    record.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("live_train.py")), "tf2ev",
                           str(run), str(record), "4"], capture_output=True, text=True, timeout=300)
    if proc.returncode:
        raise RuntimeError(f"live_train.py failed: {proc.stderr[-2000:]}")
    want = None
    for path in sorted((run / "train").iterdir()):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                if v.tag == "a" and event.step == 3:
                    want = tf.make_ndarray(v.tensor)
    if want is None:
        raise RuntimeError("the training process logged no histogram of a at step 3")
    return TrainedWithEvents(run, want)


# ------------------------------------------------------------------ optimizers under their own names


@dataclass
class NamedOptimizers:
    dir: Path               # a TF1 Saver run (checkpoint + .meta) whose optimizers have custom names
    optimizer_keys: set[str]  # checkpoint keys of what the optimizers own (`optimizer.variables()`)
    trainable_keys: set[str]  # checkpoint keys of the graph's trainable variables
    sizes: dict[str, int]     # checkpoint key -> number of elements


@_reused
def named_optimizers(dest) -> NamedOptimizers:
    """A GAN-like TF1 run: two Adams named `G_opt` (ref variables: ApplyAdam) and `D_opt`
    (resource variables: ResourceApplyAdam, its beta powers `beta1_power_1` read through
    ReadVariableOp and Cast), and a Momentum named `Push` updating embeddings sparsely
    (SparseApplyMomentum, ResourceSparseApplyMomentum), and an Adam named `E_opt` updating
    embeddings sparsely (its slots through Assign and (Resource)ScatterAdd ops under
    `E_opt/update_<variable>/`, no Apply op). Their slots (`gen/w/G_opt`,
    `emb_res/Push`) match no slot name TensorFlow's optimizers use by default. `scale`, a
    trainable variable none of them updates, is the model's. The Saver
    stores every variable under `ckpt/<name>`, so keys are not the op names."""
    dest = _folder(dest)
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        ones = v1.ones_initializer()
        gen = v1.get_variable("gen/w", [4, 3], initializer=ones, use_resource=False)
        disc = v1.get_variable("disc/w", [3, 2], initializer=ones, use_resource=True)
        emb_ref = v1.get_variable("emb_ref", [5, 2], initializer=ones, use_resource=False)
        emb_res = v1.get_variable("emb_res", [5, 2], initializer=ones, use_resource=True)
        scale = v1.get_variable("scale", [], initializer=ones, use_resource=False)
        adam_ref = v1.get_variable("adam_emb/ref", [4, 2], initializer=ones, use_resource=False)
        adam_res = v1.get_variable("adam_emb/res", [4, 2], initializer=ones, use_resource=True)
        x = tf.ones([2, 4])
        out = tf.matmul(tf.matmul(x, gen), disc)
        g_opt = v1.train.AdamOptimizer(0.1, name="G_opt")
        d_opt = v1.train.AdamOptimizer(0.1, name="D_opt")
        push = v1.train.MomentumOptimizer(0.1, 0.9, name="Push")
        g_step = g_opt.minimize(tf.reduce_sum(out * scale), var_list=[gen])
        d_step = d_opt.minimize(tf.reduce_sum(out * out), var_list=[disc])
        ids = tf.constant([0, 3])
        looked = tf.reduce_sum(tf.gather(emb_ref, ids)) + tf.reduce_sum(tf.gather(emb_res, ids))
        e_step = push.minimize(looked, var_list=[emb_ref, emb_res])
        e_opt = v1.train.AdamOptimizer(0.1, name="E_opt")
        a_step = e_opt.minimize(tf.reduce_sum(tf.gather(adam_ref, ids)) + tf.reduce_sum(tf.gather(adam_res, ids)),
                                var_list=[adam_ref, adam_res])
        everything = v1.global_variables()
        saver = v1.train.Saver({"ckpt/" + v.op.name: v for v in everything})
        with _session(graph) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run([g_step, d_step, e_step, a_step])
            saver.save(sess, str(dest / "model.ckpt"), global_step=1)
        owned = {"ckpt/" + v.op.name for opt in (g_opt, d_opt, push, e_opt) for v in opt.variables()}
        trainable = {"ckpt/" + v.op.name for v in v1.trainable_variables()}
        sizes = {"ckpt/" + v.op.name: int(np.prod(v.shape.as_list())) for v in everything}
    return NamedOptimizers(dest, owned, trainable, sizes)


# ------------------------------------------------------------------ a TF2 variable whose key moved


@dataclass
class MovedKeys:
    dir: Path              # model.ckpt-1 and model.ckpt-2, tf.train.Checkpoint.write
    keys: list[str]        # the key of `dense/kernel` in each
    values: list[np.ndarray]


@_reused
def moved_keys(dest) -> MovedKeys:
    """One variable named `dense/kernel` saved by two object graphs: under `model/w` in
    the first checkpoint, `net/layer/w` in the second (a model restructured between
    saves), so only its readable name follows it."""
    _require_eager("moved_keys")
    dest = _folder(dest)
    first, second = tf.Module(), tf.Module()
    first.w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="dense/kernel")
    second.layer = tf.Module()
    second.layer.w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3) * 2, name="dense/kernel")
    tf.train.Checkpoint(model=first).write(str(dest / "model.ckpt-1"))
    tf.train.Checkpoint(net=second).write(str(dest / "model.ckpt-2"))
    return MovedKeys(dest, ["model/w/.ATTRIBUTES/VARIABLE_VALUE", "net/layer/w/.ATTRIBUTES/VARIABLE_VALUE"],
                     [first.w.numpy(), second.layer.w.numpy()])


# ------------------------------------------------------------------ the V1 file format


@dataclass
class V1Format:
    prefix: Path                       # dest/model-1: one file, SaverDef.V1 (TensorFlow < 0.12)
    values: dict[str, np.ndarray]      # "plain" [60, 70] float32, "ints" [5, 100] int64


@_reused
def v1_format(dest) -> V1Format:
    """Two reference variables saved in the old single-file V1 format, big enough that
    a 256-byte chunk read takes many chunks."""
    dest = _folder(dest)
    values = {"plain": np.random.RandomState(3).standard_normal((60, 70)).astype(np.float32),
              "ints": np.arange(500, dtype=np.int64).reshape(5, 100)}
    graph = tf.Graph()
    with graph.as_default():
        made = [tf.compat.v1.Variable(values[k], name=k, use_resource=False) for k in values]
        saver = tf.compat.v1.train.Saver(made, write_version=tf.compat.v1.train.SaverDef.V1)
        with _session(graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            prefix = Path(saver.save(sess, str(dest / "model"), global_step=1))
    return V1Format(prefix, values)
