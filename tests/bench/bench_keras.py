"""Keras files: our reader against the paths a user would otherwise take, in one run.

    .venv/bin/python tests/bench/bench_keras.py [--params M] [--repeat N]

Builds (once, in tests/bench/out/keras/) a Keras 3 model of about M million float32
parameters (default 60: embedding + dense stack), saved as `.keras` (stored zip, as Keras
writes it), legacy `.h5` and `.weights.h5`. Then, per file, in fresh processes:

- list:  open and list every weight (our reader) vs `keras.saving.load_model` (what a user
         does to see the weights), and h5py walking the file;
- read:  every weight's values: ours vs `load_model` + `w.numpy()` for every weight;
- stats: `main.py stats` of the largest weight (streamed in slabs) vs numpy on Keras' copy.

Prints a markdown table of median seconds and ratios (theirs / ours). Each side imports
what it needs in its own process, so import costs count for both (TensorFlow's included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "bench" / "out" / "keras"
PY = sys.executable


def build(params_m: float) -> None:
    marker = OUT / f"built-{params_m:g}"
    if marker.exists():
        return
    OUT.mkdir(parents=True, exist_ok=True)
    code = f"""
import os; os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, numpy as np
keras.utils.set_random_seed(0)
vocab = int({params_m} * 1e6 * 0.6 / 256)
inp = keras.Input((16,), dtype="int32", name="ids")
x = keras.layers.Embedding(vocab, 256, name="embed")(inp)
x = keras.layers.GlobalAveragePooling1D()(x)
for i in range(6):
    x = keras.layers.Dense(1536 if i < 5 else 256, activation="relu", name=f"dense_{{i}}")(x)
out = keras.layers.Dense(1000, name="logits")(x)
m = keras.Model(inp, out, name="bench")
m.save("{OUT}/model.keras"); m.save("{OUT}/model.h5"); m.save_weights("{OUT}/model.weights.h5")
print(m.count_params())
"""
    subprocess.run([PY, "-c", code], check=True)
    marker.write_text("")


def timed(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat + 1):  # the first run warms the page cache
        t = time.perf_counter()
        subprocess.run([PY, "-c", code], check=True, cwd=ROOT, capture_output=True,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


OURS_LIST = """
from app.formats.keras import KerasFile
r = KerasFile({path!r}); n = len(r.tensors); r.close()
"""
OURS_READ = """
from app.formats.keras import KerasFile
r = KerasFile({path!r})
total = sum(r.read(k).nbytes for k in r.tensors); r.close()
"""
KERAS_LOAD = """
import keras
m = keras.saving.load_model({path!r}, compile=False)
n = len(m.weights)
"""
KERAS_LOAD_WEIGHTS = """
import keras
from app.formats.keras import KerasFile   # the architecture of a weights-only file
m = keras.saving.load_model({model!r}, compile=False)
m.load_weights({path!r})
total = sum(w.numpy().nbytes for w in m.weights)
"""
KERAS_READ = """
import keras
m = keras.saving.load_model({path!r}, compile=False)
total = sum(w.numpy().nbytes for w in m.weights)
"""
H5PY_WALK = """
import h5py, zipfile
p = {path!r}
f = h5py.File(zipfile.ZipFile(p).open("model.weights.h5")) if p.endswith(".keras") else h5py.File(p)
names = []
f.visititems(lambda n, o: names.append(n))
"""
OURS_STATS = "import sys; from app.cli import main; sys.exit(main(['stats', {path!r}, 'embed/embeddings']))"
NUMPY_STATS = """
import keras, numpy as np
m = keras.saving.load_model({path!r}, compile=False)
a = m.get_layer("embed").weights[0].numpy()
s = (a.min(), a.max(), a.mean(), a.std(), np.histogram(a, 100))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", type=float, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    build(args.params)
    rows = []
    for name in ("model.keras", "model.h5"):
        path = str(OUT / name)
        rows.append((name, "list weights", timed(OURS_LIST.format(path=path), args.repeat),
                     "keras load_model", timed(KERAS_LOAD.format(path=path), args.repeat)))
        rows.append((name, "list weights", rows[-1][2], "h5py walk",
                     timed(H5PY_WALK.format(path=path), args.repeat)))
        rows.append((name, "read every weight", timed(OURS_READ.format(path=path), args.repeat),
                     "load_model + numpy()", timed(KERAS_READ.format(path=path), args.repeat)))
        rows.append((name, "stats of the embedding", timed(OURS_STATS.format(path=path), args.repeat),
                     "load_model + numpy", timed(NUMPY_STATS.format(path=path), args.repeat)))
    path = str(OUT / "model.weights.h5")
    rows.append(("model.weights.h5", "read every weight", timed(OURS_READ.format(path=path), args.repeat),
                 "load_model(.keras) + load_weights",
                 timed(KERAS_LOAD_WEIGHTS.format(path=path, model=str(OUT / "model.keras")), args.repeat)))
    size = os.path.getsize(OUT / "model.keras") / 1e6
    print(f"\nKeras model of {args.params:g} M parameters ({size:.0f} MB .keras), median of "
          f"{args.repeat} runs, each in a fresh process\n")
    print("| file | job | ours (s) | baseline | baseline (s) | baseline / ours |")
    print("|---|---|---:|---|---:|---:|")
    for file, job, ours, what, theirs in rows:
        print(f"| {file} | {job} | {ours:.2f} | {what} | {theirs:.2f} | {theirs / ours:.1f}× |")


if __name__ == "__main__":
    main()
