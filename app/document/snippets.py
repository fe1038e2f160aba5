"""Python a user can paste to get the same value with TensorFlow: what "Copy Python" copies."""

from __future__ import annotations

from ..analysis.loading import Loaded


def restore_snippet(loaded: Loaded, key: str) -> str:
    """Code that restores `loaded`'s model and fetches tensor `key`: through the graph and
    a session where a `.meta` holds the variable, else the checkpoint reader, else (a
    frozen graph) by importing the GraphDef."""
    prefix = loaded.checkpoint.prefix if loaded.checkpoint else None
    graph = loaded.graph
    op = next((name for name, k in (graph.checkpoint_keys().items() if graph else []) if k == key), None)
    if loaded.checkpoint is not None and loaded.checkpoint.meta and op and graph.format == "metagraph":
        return (
            "import tensorflow as tf\n\n"
            "tf.compat.v1.disable_eager_execution()\n"
            "with tf.compat.v1.Session() as sess:\n"
            f"    saver = tf.compat.v1.train.import_meta_graph({loaded.checkpoint.meta!r})\n"
            f"    saver.restore(sess, {prefix!r})\n"
            f"    value = sess.run(sess.graph.get_tensor_by_name({op + ':0'!r}))\n"
            "print(value.shape, value.dtype)\n")
    if loaded.checkpoint is not None and loaded.checkpoint.format == "keras":
        if prefix.lower().endswith(".keras"):   # the weights are a member of the zip
            return ("import zipfile\n\nimport h5py\n\n"
                    f"with zipfile.ZipFile({prefix!r}) as z, z.open('model.weights.h5') as member, \\\n"
                    "        h5py.File(member, 'r') as f:\n"
                    f"    value = f[{key!r}][()]\n"
                    "print(value.shape, value.dtype)\n")
        return ("import h5py\n\n"
                f"with h5py.File({prefix!r}, 'r') as f:\n"
                f"    value = f[{key!r}][()]\n"
                "print(value.shape, value.dtype)\n")
    if prefix is not None:
        return ("import tensorflow as tf\n\n"
                f"reader = tf.train.load_checkpoint({prefix!r})\n"
                f"value = reader.get_tensor({key!r})\n"
                "print(value.shape, value.dtype)\n")
    return ("import tensorflow as tf\n\n"
            "graph_def = tf.compat.v1.GraphDef()\n"
            f"with open({graph.source!r}, 'rb') as f:\n"
            "    graph_def.ParseFromString(f.read())\n"
            "with tf.Graph().as_default() as graph:\n"
            "    tf.compat.v1.import_graph_def(graph_def, name='')\n"
            "    with tf.compat.v1.Session(graph=graph) as sess:\n"
            f"        value = sess.run(graph.get_tensor_by_name({key + ':0'!r}))\n")
