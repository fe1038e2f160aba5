"""Run outputs as a person reads them (app.analysis.outputs): what an output is, the top-k
classes (TensorFlow's top_k and softmax as the oracle), labels files in their forms,
where a model's labels are found, token ids decoded and images scaled for display."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from app.analysis import outputs

from .conftest import require

tf = require("tensorflow")


# -- labels ---------------------------------------------------------------------------------

def write(path, text: str, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return str(path)


def test_labels_fit_an_output_as_they_are_shifted_or_not_at_all():
    labels = outputs.Labels("/m/labels.txt", ["cat", "dog", "fox"])
    assert labels.fit(3) == (["cat", "dog", "fox"], "labels from labels.txt")
    assert labels.fit(4) == (["(background)", "cat", "dog", "fox"],
                             "labels from labels.txt (index 0: background)")
    assert labels.fit(2) == (None, "labels.txt has 3 labels, the output 2 scores: not used")
    assert labels.fit(5)[0] is None
    many = outputs.Labels("/m/l.txt", ["x"] * 1500)
    assert many.fit(2000) == (None, "l.txt has 1,500 labels, the output 2,000 scores: not used")
    for first in ("background", " Background ", "__background__", "None"):
        bg = outputs.Labels("/m/l.txt", [first, "cat", "dog"])
        assert bg.fit(2) == (["cat", "dog"], "labels from l.txt (its first line, background, skipped)")
    assert outputs.Labels("/m/l.txt", ["bird", "cat", "dog"]).fit(2)[0] is None


def test_read_labels_plain_and_numbered_lines(tmp_path):
    plain = write(tmp_path / "a.txt", "\ufeffcat\n  dog \nsea lion\n\n\n")
    assert outputs.read_labels(plain).names == ["cat", "dog", "sea lion"]
    assert outputs.read_labels(plain).path == plain
    numbered = write(tmp_path / "b.txt", "0 tench\n1: goldfish\n2,great white shark\n")
    assert outputs.read_labels(numbered).names == ["tench", "goldfish", "great white shark"]
    synsets = write(tmp_path / "c.txt", "n01440764 tench\nn01443537 goldfish\n")
    assert outputs.read_labels(synsets).names == ["tench", "goldfish"]
    # numbers that are the labels themselves stay, and so does a mostly unnumbered file
    digits = write(tmp_path / "d.txt", "0\n1\n2\n")
    assert outputs.read_labels(digits).names == ["0", "1", "2"]
    mixed = [f"{i} class{i}" for i in range(9)] + ["plain"]   # 9 of 10: 90%, numbered
    assert outputs.read_labels(write(tmp_path / "e.txt", "\n".join(mixed))).names == \
        [f"class{i}" for i in range(9)] + ["plain"]
    fewer = [f"{i} class{i}" for i in range(8)] + ["plain", "other"]   # 80%: left as is
    assert outputs.read_labels(write(tmp_path / "f.txt", "\n".join(fewer))).names == fewer
    # only the first 50 lines decide
    late = [f"{i} c{i}" for i in range(50)] + ["free text"] * 100
    assert outputs.read_labels(write(tmp_path / "g.txt", "\n".join(late))).names[:2] == ["c0", "c1"]
    assert outputs.read_labels(write(tmp_path / "empty.txt", "\n\n")).names == []


def test_read_labels_json(tmp_path):
    assert outputs.read_labels(write(tmp_path / "a.json", '["cat", ["n1", "dog"], 3]')).names == \
        ["cat", "dog", "3"]
    doc = {"0": "cat", "2": ["n2", "fox"], "name": "ignored", "-1": "ignored too"}
    assert outputs.read_labels(write(tmp_path / "b.JSON", json.dumps(doc))).names == ["cat", "1", "fox"]
    for bad in ('{"a": "b"}', "{}", json.dumps({str(outputs.MAX_CLASSES): "x"})):
        with pytest.raises(ValueError, match="not a labels object"):
            outputs.read_labels(write(tmp_path / "c.json", bad))
    with pytest.raises(ValueError, match="not a labels list"):
        outputs.read_labels(write(tmp_path / "e.json", '"cat"'))


def test_read_labels_refuses_huge_files(tmp_path, monkeypatch):
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(outputs.MAX_LABEL_BYTES + 1)   # sparse: nothing written
    with pytest.raises(ValueError, match="64 MB is too large"):
        outputs.read_labels(str(big))
    lines = tmp_path / "lines.txt"
    lines.write_text("x\n" * (outputs.MAX_CLASSES + 1))
    with pytest.raises(ValueError, match="more than 1,048,576 lines"):
        outputs.read_labels(str(lines))
    # the limits themselves are allowed (smaller limits: the same rule, quicker)
    monkeypatch.setattr(outputs, "MAX_LABEL_BYTES", 8)
    monkeypatch.setattr(outputs, "MAX_CLASSES", 3)
    assert outputs.read_labels(write(tmp_path / "eight.txt", "a\nb\ncd\n\n")).names == ["a", "b", "cd"]
    with pytest.raises(ValueError, match="too large"):
        outputs.read_labels(write(tmp_path / "nine.txt", "a\nb\ncd\n\n\n"))
    with pytest.raises(ValueError, match="more than 3 lines"):
        outputs.read_labels(write(tmp_path / "four.txt", "a\nb\nc\nd"))
    monkeypatch.setattr(outputs, "MAX_LABEL_BYTES", 100)
    assert outputs.read_labels(write(tmp_path / "n.json", '{"2": "c"}')).names == ["0", "1", "c"]
    with pytest.raises(ValueError, match="not a labels object"):
        outputs.read_labels(write(tmp_path / "m.json", '{"3": "d"}'))


def test_find_labels_where_a_model_keeps_them(tmp_path):
    model = tmp_path / "exported"
    (model / "assets").mkdir(parents=True)
    (model / "variables").mkdir()
    assert outputs.find_labels(str(model)) is None
    write(tmp_path / "class_names.txt", "a\n")            # beside the SavedModel's folder
    assert outputs.find_labels(str(model)) == str(tmp_path / "class_names.txt")
    write(model / "imagenet_classes.txt", "a\n")          # in its folder
    assert outputs.find_labels(str(model)) == str(model / "imagenet_classes.txt")
    write(model / "assets" / "vocab.txt", "[PAD]\n")      # a vocabulary is not labels
    write(model / "assets" / "notes.txt", "x\n")
    (model / "assets" / "labels_dir.txt").mkdir()          # a folder is not a file
    assert outputs.find_labels(str(model)) == str(model / "imagenet_classes.txt")
    assert outputs.find_labels(str(model), vocabulary=True) == str(model / "assets" / "vocab.txt")
    write(model / "assets" / "synset_words.txt", "a\n")
    write(model / "assets" / "my_classes.txt", "a\n")
    assert outputs.find_labels(str(model)) == str(model / "assets" / "my_classes.txt")  # shortest
    write(model / "assets" / "labels_imagenet_1k.txt", "a\n")   # labels* first, however long
    assert outputs.find_labels(str(model)) == str(model / "assets" / "labels_imagenet_1k.txt")
    # a file of the model, or its variables folder: the same places
    assert outputs.find_labels(str(model / "variables")) == str(model / "assets" / "labels_imagenet_1k.txt")
    write(model / "saved_model.pb", "")
    assert outputs.find_labels(str(model / "saved_model.pb")) == \
        str(model / "assets" / "labels_imagenet_1k.txt")
    # a file's folder: the folder beside it is not searched
    alone = tmp_path / "alone"
    alone.mkdir()
    write(alone / "frozen.pb", "")
    assert outputs.find_labels(str(alone / "frozen.pb")) is None
    write(alone / "b.labels", "a\n")
    write(alone / "a_labels.json", "[]")
    assert outputs.find_labels(str(alone / "frozen.pb")) == str(alone / "b.labels")
    assert outputs.find_labels(str(alone / "missing" / "x.pb")) is None


# -- what an output is ------------------------------------------------------------------------

def test_kind_of_outputs():
    f = np.float32
    assert outputs.kind(None) is None
    assert outputs.kind(np.array(["a", "b"], dtype=object)) is None
    assert outputs.kind(np.array([0.5], f)) is None
    assert outputs.kind(np.array([0.3, 0.7], f)) == "scores"
    assert outputs.kind([[0.1, 0.2, 0.7]]) == "scores"                 # a batch of one
    assert outputs.kind(np.zeros(outputs.MAX_CLASSES, f)) == "scores"
    assert outputs.kind(np.zeros(outputs.MAX_CLASSES + 1, f)) is None
    for c in (1, 3, 4):
        assert outputs.kind(np.zeros((1, 4, 4, c), f)) == "image"
        assert outputs.kind(np.zeros((4, 4, c), np.uint8)) == "image"
    assert outputs.kind(np.zeros((4, 4, 2), f)) is None
    assert outputs.kind(np.zeros((3, 4, 3), f)) is None
    assert outputs.kind(np.zeros((4, 3, 3), np.uint8)) is None
    assert outputs.kind(np.zeros((4, 4, 5), np.uint8)) is None
    assert outputs.kind(np.zeros((4, 4, 3), np.int32)) is None
    assert outputs.kind(np.zeros((2, 2), f)) == "heatmap"
    assert outputs.kind(np.zeros((5, 1), f)) is None
    assert outputs.kind(np.zeros((2, 2, 2, 2), f)) is None
    assert outputs.kind(np.array([101, 2023, 102], np.int64)) == "tokens"
    assert outputs.kind(np.array([[101, 102]], np.int32)) == "tokens"
    assert outputs.kind(np.array([[1, 2], [3, 4]], np.int32)) is None
    assert outputs.kind(np.array([True, False])) is None
    assert outputs.without_batch(np.zeros((1, 3))).shape == (3,)
    assert outputs.without_batch(np.zeros((2, 3))).shape == (2, 3)
    assert outputs.without_batch(np.zeros(1)).shape == (1,)


def test_is_probability():
    assert outputs.is_probability(np.array([0.0, 1.0]))
    assert outputs.is_probability(np.array([0.25, 0.25, 0.5], np.float32))
    assert outputs.is_probability(np.array([0.5, 0.5009]))
    assert not outputs.is_probability(np.array([0.5, 0.5011]))
    assert not outputs.is_probability(np.array([0.5, 0.6]))
    assert not outputs.is_probability(np.array([-0.01, 1.01]))
    assert not outputs.is_probability(np.array([1.5, -0.5]))
    assert not outputs.is_probability(np.array([0.5, np.nan]))
    assert not outputs.is_probability(np.array([0.0, 0.0]))


def test_top_k_of_logits_is_tensorflows():
    logits = np.array([[1.0, 3.0, -2.0, 3.0, 0.5, 2.0]], np.float32)
    ranked = outputs.top_k(logits, 4, labels=["a", "b", "c", "d", "e"])
    top = tf.math.top_k(logits[0], k=4)
    soft = tf.nn.softmax(logits[0].astype(np.float64)).numpy()
    assert [r.index for r in ranked] == top.indices.numpy().tolist() == [1, 3, 5, 0]
    assert [r.score for r in ranked] == top.values.numpy().tolist()
    assert [r.label for r in ranked] == ["b", "d", None, "a"]   # 5 labels: index 5 has none
    for r in ranked:
        assert r.probability == pytest.approx(soft[r.index], rel=1e-12)
    assert len(outputs.top_k(logits, 0)) == 1 and len(outputs.top_k(logits, -3)) == 1
    assert len(outputs.top_k(logits, 10)) == 6


def test_top_k_of_probabilities_nan_and_inf():
    probs = np.array([0.1, 0.6, 0.3])
    ranked = outputs.top_k(probs, 2)
    assert [(r.index, r.score, r.probability) for r in ranked] == [(1, 0.6, None), (2, 0.3, None)]
    with_nan = np.array([np.nan, 2.0, 1.0])
    ranked = outputs.top_k(with_nan, 3)
    assert [r.index for r in ranked] == [1, 2, 0]   # NaN last
    assert ranked[-1].probability == 0.0
    assert ranked[0].probability == pytest.approx(np.exp(1) / (np.exp(1) + 1), rel=1e-12)
    inf = outputs.top_k(np.array([0.0, np.inf, 1.0]), 2)
    assert [r.index for r in inf] == [1, 2] and all(r.probability is None for r in inf)
    # a batch of several: the first row; a map: its first row too
    assert [r.index for r in outputs.top_k(np.array([[0.0, 5.0], [9.0, 0.0]]), 1)] == [1]
    assert [r.index for r in outputs.top_k(np.arange(24.0).reshape(2, 3, 4)[::-1], 1)] == [11]
    assert outputs.top_k(np.float64(3.0), 2)[0].index == 0


def test_decode_tokens():
    vocab = ["[PAD]", "[CLS]", "play", "##ing", "\u2581the", "\u2581cat", "<pad>", "##s"]
    assert outputs.decode_tokens([[1, 2, 3, 0, 0]], vocab) == "[CLS] playing"
    assert outputs.decode_tokens(np.array([4, 5, 7, 6]), vocab) == "the cats"
    assert outputs.decode_tokens([7, 2, 99, -1], vocab) == "##s play [99?] [-1?]"
    assert outputs.decode_tokens([8], vocab) == "[8?]"


def test_image_of_scales_from_the_values_range():
    def img(values, dtype=np.float32):
        return np.array(values, dtype).reshape(1, 1, -1)
    assert outputs.image_of(img([0.0, 0.5, 1.0])).ravel().tolist() == [0, 127, 255]
    assert outputs.image_of(img([-1.0, 0.0, 1.0])).ravel().tolist() == [0, 127, 255]
    assert outputs.image_of(img([0.0, 2.0, 255.0])).ravel().tolist() == [0, 2, 255]
    assert outputs.image_of(img([-2.0, 0.0, 2.0])).ravel().tolist() == [0, 127, 255]
    assert outputs.image_of(img([10.0, 300.0, 590.0])).ravel().tolist() == [0, 127, 255]
    assert outputs.image_of(img([7.0, 7.0, 7.0]) - 300).ravel().tolist() == [0, 0, 0]
    assert outputs.image_of(img([np.nan, 1.0, 0.5])).ravel().tolist() == [0, 255, 127]
    ints = outputs.image_of(img([-5, 100, 300], np.int32))
    assert ints.dtype == np.uint8 and ints.ravel().tolist() == [0, 100, 255]
    batch = outputs.image_of(np.ones((1, 4, 4, 3), np.float32))
    assert batch.shape == (4, 4, 3) and batch.dtype == np.uint8 and (batch == 255).all()


# -- edges of the rules above, each where a slightly different rule would answer otherwise ------

def test_read_labels_edges(tmp_path):
    # bytes that are not UTF-8 become U+FFFD, the rest of the file still reads
    broken = tmp_path / "bytes.txt"
    broken.write_bytes(b"cat\n\xff dog\nfox\n")
    assert outputs.read_labels(str(broken)).names == ["cat", "\ufffd dog", "fox"]
    # JSON: the path is kept; a one-element list entry is its label, as is the last of three
    listed = write(tmp_path / "l.json", '[["cat"], ["n1", "x", "dog"]]')
    assert outputs.read_labels(listed).names == ["cat", "dog"]
    assert outputs.read_labels(listed).path == listed
    mapped = write(tmp_path / "m.json", '{"0": ["cat"], "1": ["n1", "x", "dog"]}')
    assert outputs.read_labels(mapped).names == ["cat", "dog"]
    assert outputs.read_labels(mapped).path == mapped
    # keys that only look like indexes are not read as one
    odd = write(tmp_path / "o.json", '{"0": "a", " 1": "b", "2-": "c", "X3": "d", "-4": "e"}')
    assert outputs.read_labels(odd).names == ["a"]
    # the first 50 lines decide: 44 numbered there is under 90%, a 51st numbered line does not count
    lines = [f"{i} c{i}" if i >= 6 else f"free {i}" for i in range(51)]
    assert sum(ln[0].isdigit() for ln in lines[:50]) == 44
    assert outputs.read_labels(write(tmp_path / "a.txt", "\n".join(lines))).names == lines
    # 45 of the first 50 is 90%: numbered, however many lines follow
    lines = [f"{i} c{i}" if i >= 5 else f"free {i}" for i in range(50)] + ["free"] * 3
    assert outputs.read_labels(write(tmp_path / "b.txt", "\n".join(lines))).names[5] == "c5"


def test_find_a_vocabulary_beside_labels(tmp_path):
    write(tmp_path / "labels.txt", "a\n")
    write(tmp_path / "vocab.txt", "[PAD]\n")
    assert outputs.find_labels(str(tmp_path)) == str(tmp_path / "labels.txt")
    assert outputs.find_labels(str(tmp_path), vocabulary=True) == str(tmp_path / "vocab.txt")


def test_kind_of_one_value_is_none():
    assert outputs.kind(np.array([7], np.int64)) is None
    assert outputs.kind(np.array([[7]], np.int32)) is None
    assert outputs.kind(np.array([7.0], np.float32)) is None


def test_is_probability_limits():
    # a score above 1 is no probability, even when the sum is within the tolerance
    assert not outputs.is_probability(np.array([1.0005, 0.0]))
    # the sum is taken in float64: float32's own sum of these rounds to 1.00005
    s = np.array([0.5, 0.5, 0.000999995], np.float32)
    assert float(s.astype(np.float64).sum()) - 1 < 1e-3 <= float(s.sum()) - 1
    assert outputs.is_probability(s)


def test_top_k_default_ties_in_long_vectors_and_large_logits():
    logits = np.array([1.0, 3.0, -2.0, 3.0, 0.5, 2.0, 0.0], np.float32)
    assert [r.index for r in outputs.top_k(logits)] == [1, 3, 5, 0, 4]   # k = 5
    rng = np.random.RandomState(0)
    ties = rng.randint(0, 3, size=40).astype(np.float32)
    top = tf.math.top_k(ties, k=12)
    assert [r.index for r in outputs.top_k(ties, 12)] == top.indices.numpy().tolist()
    big = np.array([500.0, 499.0, 420.0], np.float64)
    soft = tf.nn.softmax(big).numpy()
    for r in outputs.top_k(big, 3):
        assert r.probability == pytest.approx(soft[r.index], rel=1e-12)


def test_decode_tokens_padding_inside_and_pieces_after_several_words():
    vocab = ["[PAD]", "[CLS]", "play", "##ing", "\u2581the", "\u2581cat", "<pad>", "##s"]
    assert outputs.decode_tokens([1, 0, 2, 6, 5], vocab) == "[CLS] play cat"
    assert outputs.decode_tokens([1, 4, 2, 3], vocab) == "[CLS] the playing"


@pytest.mark.parametrize("values, expected", [
    ([0.0, 1.5, 2.0], [0, 1, 2]),              # above 1: already 0..255
    ([-1.0, 0.0, 0.5], [0, 127, 191]),         # -1..1, with -1 itself
    ([-0.5, 0.0, 0.5], [63, 127, 191]),        # within -1..1
    ([-0.5, 0.0, 1.0], [63, 127, 255]),        # up to 1 itself
    ([-2.0, 0.0, 1.0], [0, 170, 255]),         # below -1: its own range
    ([-0.5, 0.0, 2.0], [0, 51, 255]),          # above 1 with negatives: its own range
    ([0.0, 2.0, 200.0], [0, 2, 200]),          # 0..255 from 0 itself
    ([10.0, 20.0, 255.0], [10, 20, 255]),      # up to 255 itself
    ([10.0, 100.0, 256.0], [0, 93, 255]),      # past 255: its own range
])
def test_image_of_range_limits(values, expected):
    img = np.array(values, np.float32).reshape(1, 1, -1)
    assert outputs.image_of(img).ravel().tolist() == expected
