"""Build the inputs for the reader benchmarks (needs TensorFlow; run on demand).

Usage, from the repository root:

    .venv/bin/python tests/bench/make_models.py [--out DIR] [--force] [--only vgg16|bigraph]

Two models are written into the cache folder (default ``tests/bench/out/``, which is
git-ignored).  A model that is already there is reused unless ``--force`` is given.

``vgg16/``
    A TF1 checkpoint with the exact variable names and shapes of TF-slim's VGG-16
    (``vgg_16/conv1/conv1_1/weights`` ... ``vgg_16/fc8/biases`` plus ``global_step``):
    138,357,544 float32 parameters in one ~553 MB data file, filled with random values.
    The forward graph (conv/relu/pool on a ``[None, 224, 224, 3]`` placeholder) is built
    too, so ``model.ckpt-1.meta`` looks like a real one.

``bigraph/``
    ``model.meta`` only: a deep transformer training graph (embedding, N post-LN
    encoder layers, tied-embedding LM loss, gradient clipping, Adam).  N is chosen by
    calibration so that the graph has about ``--target-nodes`` (95,000) nodes.  Hidden
    sizes are tiny, so the graph builds quickly and no checkpoint is written.

Each model is built in a temporary sibling folder and renamed into place at the end,
so an interrupted run never leaves a half-written model that would later be reused.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ logging quiet

import tensorflow as tf  # noqa: E402  (after the environment tweak on purpose)

tf1 = tf.compat.v1

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")

VGG_PREFIX = "model.ckpt-1"
VGG_FILES = (
    "checkpoint",
    VGG_PREFIX + ".index",
    VGG_PREFIX + ".data-00000-of-00001",
    VGG_PREFIX + ".meta",
)
BIGRAPH_FILES = ("model.meta", "info.json")


# --------------------------------------------------------------------------- helpers


def _is_complete(folder: str, names: tuple[str, ...]) -> bool:
    return all(os.path.isfile(os.path.join(folder, n)) for n in names)


def _fresh_tmp(folder: str) -> str:
    """An empty temporary folder next to ``folder`` (removed first if left over)."""
    tmp = folder + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    return tmp


def _publish(tmp: str, folder: str) -> None:
    """Replace ``folder`` by the finished ``tmp`` folder."""
    shutil.rmtree(folder, ignore_errors=True)
    os.rename(tmp, folder)


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


# --------------------------------------------------------------------------- VGG-16

# (block, number of 3x3 convolutions, output channels) as in TF-slim's vgg_16.
VGG_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
# Fully connected layers written as convolutions, as TF-slim does:
# (name, kernel size, padding, output channels).
VGG_FC = (("fc6", 7, "VALID", 4096), ("fc7", 1, "VALID", 4096), ("fc8", 1, "VALID", 1000))


def _vgg_variable(name: str, shape: list[int], fan_in: int):
    """A TF1 (reference) variable initialised with cheap in-graph random numbers.

    Weights use He-normal scaling; biases get small random values rather than zeros so
    that their statistics are not degenerate either.
    """
    stddev = math.sqrt(2.0 / fan_in) if name == "weights" else 0.01
    return tf1.get_variable(
        name, shape=shape, dtype=tf.float32,
        initializer=tf1.random_normal_initializer(stddev=stddev),
    )


def _vgg_conv(x, scope: str, ksize: int, out_ch: int, padding: str, relu: bool = True):
    in_ch = int(x.shape[-1])
    with tf1.variable_scope(scope):
        w = _vgg_variable("weights", [ksize, ksize, in_ch, out_ch], ksize * ksize * in_ch)
        b = _vgg_variable("biases", [out_ch], ksize * ksize * in_ch)
        y = tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding=padding)
        y = tf.nn.bias_add(y, b)
        return tf.nn.relu(y) if relu else y


def build_vgg16(folder: str) -> None:
    """Write the TF-slim style VGG-16 checkpoint into ``folder``."""
    tmp = _fresh_tmp(folder)
    graph = tf.Graph()
    with graph.as_default():
        images = tf1.placeholder(tf.float32, [None, 224, 224, 3], name="input")
        global_step = tf1.train.get_or_create_global_step()
        x = images
        with tf1.variable_scope("vgg_16"):
            for block, n_convs, channels in VGG_BLOCKS:
                with tf1.variable_scope(f"conv{block}"):
                    for i in range(1, n_convs + 1):
                        x = _vgg_conv(x, f"conv{block}_{i}", 3, channels, "SAME")
                x = tf.nn.max_pool2d(x, 2, 2, "VALID", name=f"pool{block}")
            for name, ksize, padding, channels in VGG_FC:
                x = _vgg_conv(x, name, ksize, channels, padding, relu=(name != "fc8"))
            logits = tf.squeeze(x, [1, 2], name="fc8/squeezed")
        tf.nn.softmax(logits, name="predictions")

        n_params = sum(v.shape.num_elements() for v in tf1.trainable_variables())
        print(f"  vgg16: {len(tf1.trainable_variables())} trainable variables, "
              f"{n_params:,} float32 parameters")

        # Relative paths in the `checkpoint` file keep the folder movable (we rename it).
        saver = tf1.train.Saver(save_relative_paths=True)
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            sess.run(global_step.assign(1))
            saver.save(sess, os.path.join(tmp, "model.ckpt"), global_step=1)
    _publish(tmp, folder)


# --------------------------------------------------------------------------- big graph

# Tiny sizes: the benchmark is about the number of nodes, not about their values.
TX_VOCAB, TX_SEQ, TX_DIM, TX_HEADS, TX_FFN = 1000, 16, 64, 4, 128


def _dense(x, out_dim: int, scope: str):
    """[batch, seq, in] -> [batch, seq, out] with a kernel and a bias variable."""
    in_dim = int(x.shape[-1])
    with tf1.variable_scope(scope):
        kernel = tf1.get_variable("kernel", [in_dim, out_dim],
                                  initializer=tf1.truncated_normal_initializer(stddev=0.02))
        bias = tf1.get_variable("bias", [out_dim], initializer=tf1.zeros_initializer())
        flat = tf.reshape(x, [-1, in_dim])
        y = tf.nn.bias_add(tf.matmul(flat, kernel), bias)
        return tf.reshape(y, tf.concat([tf.shape(x)[:-1], [out_dim]], axis=0))


def _layer_norm(x, scope: str):
    dim = int(x.shape[-1])
    with tf1.variable_scope(scope):
        gamma = tf1.get_variable("gamma", [dim], initializer=tf1.ones_initializer())
        beta = tf1.get_variable("beta", [dim], initializer=tf1.zeros_initializer())
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + 1e-12) * gamma + beta


def _split_heads(x):
    """[batch, seq, dim] -> [batch, heads, seq, dim / heads]."""
    shape = tf.shape(x)
    x = tf.reshape(x, [shape[0], shape[1], TX_HEADS, TX_DIM // TX_HEADS])
    return tf.transpose(x, [0, 2, 1, 3])


def _encoder_layer(x, mask_bias, index: int, dropout: float):
    with tf1.variable_scope(f"layer_{index:03d}"):
        with tf1.variable_scope("attention"):
            with tf1.variable_scope("self"):
                q = _split_heads(_dense(x, TX_DIM, "query"))
                k = _split_heads(_dense(x, TX_DIM, "key"))
                v = _split_heads(_dense(x, TX_DIM, "value"))
                scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(TX_DIM // TX_HEADS))
                probs = tf.nn.dropout(tf.nn.softmax(scores + mask_bias), rate=dropout)
                context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])
                context = tf.reshape(context, tf.shape(x))
            with tf1.variable_scope("output"):
                attn = tf.nn.dropout(_dense(context, TX_DIM, "dense"), rate=dropout)
                x = _layer_norm(x + attn, "LayerNorm")
        with tf1.variable_scope("intermediate"):
            hidden = tf.nn.gelu(_dense(x, TX_FFN, "dense"), approximate=True)
        with tf1.variable_scope("output"):
            ffn = tf.nn.dropout(_dense(hidden, TX_DIM, "dense"), rate=dropout)
            return _layer_norm(x + ffn, "LayerNorm")


def _transformer_graph(n_layers: int) -> tf.Graph:
    """A BERT-like encoder with an LM loss and an Adam training step, in a new graph."""
    graph = tf.Graph()
    with graph.as_default():
        tokens = tf1.placeholder(tf.int32, [None, TX_SEQ], name="input_ids")
        mask = tf1.placeholder(tf.float32, [None, TX_SEQ], name="input_mask")
        labels = tf1.placeholder(tf.int32, [None, TX_SEQ], name="labels")
        global_step = tf1.train.get_or_create_global_step()
        with tf1.variable_scope("bert"):
            with tf1.variable_scope("embeddings"):
                table = tf1.get_variable(
                    "word_embeddings", [TX_VOCAB, TX_DIM],
                    initializer=tf1.truncated_normal_initializer(stddev=0.02))
                positions = tf1.get_variable(
                    "position_embeddings", [TX_SEQ, TX_DIM],
                    initializer=tf1.truncated_normal_initializer(stddev=0.02))
                x = tf.nn.embedding_lookup(table, tokens) + positions
                x = tf.nn.dropout(_layer_norm(x, "LayerNorm"), rate=0.1)
            # Padding mask as an additive bias on the attention scores.
            mask_bias = (1.0 - mask[:, tf.newaxis, tf.newaxis, :]) * -10000.0
            with tf1.variable_scope("encoder"):
                for i in range(n_layers):
                    x = _encoder_layer(x, mask_bias, i, dropout=0.1)
        with tf1.variable_scope("cls/predictions"):
            flat = tf.reshape(x, [-1, TX_DIM])
            logits = tf.matmul(flat, table, transpose_b=True)  # tied output embedding
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.reshape(labels, [-1]), logits=logits)
            loss = tf.reduce_mean(losses, name="loss")
        tf1.summary.scalar("loss", loss)

        optimizer = tf1.train.AdamOptimizer(learning_rate=1e-4)
        grads_and_vars = optimizer.compute_gradients(loss)
        grads, variables = zip(*grads_and_vars)
        grads, _ = tf.clip_by_global_norm(grads, clip_norm=1.0)
        train_op = optimizer.apply_gradients(zip(grads, variables), global_step=global_step,
                                             name="train_op")
        tf1.add_to_collection(tf1.GraphKeys.TRAIN_OP, train_op)
    return graph


def _node_count(graph: tf.Graph) -> int:
    return len(graph.as_graph_def().node)


def build_bigraph(folder: str, target_nodes: int) -> None:
    """Write ``model.meta`` (and ``info.json``) for a graph of about ``target_nodes``."""
    tmp = _fresh_tmp(folder)
    # The node count is affine in the number of layers: measure two small graphs and
    # solve for the layer count that lands closest to the target.
    n1, n2 = _node_count(_transformer_graph(1)), _node_count(_transformer_graph(2))
    per_layer, base = n2 - n1, 2 * n1 - n2
    n_layers = max(1, round((target_nodes - base) / per_layer))
    print(f"  bigraph: {base} fixed nodes + {per_layer} per layer -> {n_layers} layers")

    t0 = time.perf_counter()
    graph = _transformer_graph(n_layers)
    print(f"  bigraph: graph built in {time.perf_counter() - t0:.1f} s")
    path = os.path.join(tmp, "model.meta")
    # No device was ever set, so clear_devices is not needed -- and it would be harmful:
    # it sends TensorFlow down a node-by-node export path that is quadratic in the
    # node count (~10 minutes instead of ~2 seconds for this graph).
    meta = tf1.train.export_meta_graph(filename=path, graph=graph)
    info = {
        "layers": n_layers,
        "nodes": len(meta.graph_def.node),
        "meta_bytes": os.path.getsize(path),
        "tensorflow": tf.__version__,
    }
    with open(os.path.join(tmp, "info.json"), "w") as f:
        json.dump(info, f, indent=2)
    _publish(tmp, folder)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="cache folder (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    parser.add_argument("--only", choices=("vgg16", "bigraph"), help="build just one model")
    parser.add_argument("--target-nodes", type=int, default=95_000,
                        help="approximate node count of bigraph (default: %(default)s)")
    args = parser.parse_args(argv)

    # Plain TF1 semantics: graph mode, reference variables (VariableV2), v1 control flow.
    tf1.disable_v2_behavior()
    os.makedirs(args.out, exist_ok=True)

    vgg_dir = os.path.join(args.out, "vgg16")
    if args.only in (None, "vgg16"):
        if not args.force and _is_complete(vgg_dir, VGG_FILES):
            print(f"vgg16: reusing {vgg_dir}")
        else:
            print(f"vgg16: building into {vgg_dir}")
            t0 = time.perf_counter()
            build_vgg16(vgg_dir)
            print(f"vgg16: done in {time.perf_counter() - t0:.1f} s")
        data = os.path.join(vgg_dir, VGG_PREFIX + ".data-00000-of-00001")
        print(f"  data file {_mb(os.path.getsize(data))}, "
              f"meta {_mb(os.path.getsize(os.path.join(vgg_dir, VGG_PREFIX + '.meta')))}")

    big_dir = os.path.join(args.out, "bigraph")
    if args.only in (None, "bigraph"):
        if not args.force and _is_complete(big_dir, BIGRAPH_FILES):
            print(f"bigraph: reusing {big_dir}")
        else:
            print(f"bigraph: building into {big_dir}")
            t0 = time.perf_counter()
            build_bigraph(big_dir, args.target_nodes)
            print(f"bigraph: done in {time.perf_counter() - t0:.1f} s")
        with open(os.path.join(big_dir, "info.json")) as f:
            info = json.load(f)
        print(f"  {info['nodes']:,} nodes ({info['layers']} layers), "
              f".meta {_mb(info['meta_bytes'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
