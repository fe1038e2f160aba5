"""A small training loop that saves a checkpoint every ~200 ms, for tests/test_live.py.

    python tests/live_train.py MODE RUN_FOLDER RECORD_FOLDER SAVES

MODE: tf1 (Saver), tf1s (Saver(sharded=True) over two CPU devices: two data shards),
tf2 (CheckpointManager) or tf2ev (tf2, and `tf.summary` writes a scalar "loss" = 1/step and
a histogram "a" of variable a into RUN_FOLDER/train at each step, flushed before the save).
All keep 3 checkpoints. After each save the values saved are
written to RECORD_FOLDER/step-N.npz (outside the run), so that a test can compare what it
read during the run with what TensorFlow wrote. A save that fails (the test may delete the
folder under it) is recorded in RECORD_FOLDER/failed-N and the loop goes on.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

mode, run, record, saves = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base_a = np.linspace(-1.0, 1.0, 1000, dtype=np.float32)
base_b = np.arange(300 * 30, dtype=np.float32).reshape(300, 30) / 1000.0


def record_step(step, values):
    np.savez(os.path.join(record, f"step-{step}.npz"), **values)


def save_or_note(step, save):
    try:
        save()
    except Exception as e:  # the folder was pulled away mid-save: a hostile test
        with open(os.path.join(record, f"failed-{step}"), "w") as f:
            f.write(repr(e))
        return False
    return True


if mode in ("tf1", "tf1s"):
    tf.compat.v1.disable_eager_execution()
    with tf.Graph().as_default():
        with tf.device("/cpu:0"):
            a = tf.compat.v1.get_variable("a", initializer=tf.zeros([1000]))
        with tf.device("/cpu:1"):
            b = tf.compat.v1.get_variable("b", initializer=tf.zeros([300, 30]))
        step_ph = tf.compat.v1.placeholder(tf.float32, [])
        update = [a.assign(base_a * step_ph), b.assign(base_b * step_ph)]
        saver = tf.compat.v1.train.Saver(max_to_keep=3, sharded=(mode == "tf1s"))
        config = tf.compat.v1.ConfigProto(device_count={"CPU": 2})
        with tf.compat.v1.Session(config=config) as s:
            for step in range(1, saves + 1):
                va, vb = s.run(update, {step_ph: float(step)})
                if save_or_note(step, lambda: saver.save(
                        s, os.path.join(run, "model.ckpt"), global_step=step)):
                    record_step(step, {"a": va, "b": vb})
                time.sleep(0.2)
else:
    a = tf.Variable(tf.zeros([1000]))
    b = tf.Variable(tf.zeros([300, 30]))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(a=a, b=b), run, max_to_keep=3)
    writer = tf.summary.create_file_writer(os.path.join(run, "train")) if mode == "tf2ev" else None
    for step in range(1, saves + 1):
        a.assign(base_a * step)
        b.assign(base_b * step)
        if writer is not None:
            with writer.as_default(step=step):
                tf.summary.scalar("loss", 1.0 / step)
                tf.summary.histogram("a", a)
            writer.flush()
        if save_or_note(step, lambda: manager.save(checkpoint_number=step)):
            record_step(step, {"a": a.numpy(), "b": b.numpy()})
        time.sleep(0.2)
