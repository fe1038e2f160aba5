"""The document model without Qt: what it reads, which events it emits, in which order,
and how the current item follows a change of checkpoint — with lanes that run inline."""

from __future__ import annotations

import shutil

from app.document import Document, Selection
from app.formats.bundle import Bundle

from .conftest import ROOT

SAMPLE = ROOT / "resources" / "sample_run"


def recorder(doc):
    log = []
    for name in ("opening", "opened", "open_failed", "checkpoint_changed", "graph_changed",
                 "checkpoints_changed", "selection_changed", "notice"):
        getattr(doc, name).connect(lambda *args, n=name: log.append((n, args)))
    return log


def test_opening_reads_the_run_and_says_so_once():
    doc = Document(str(SAMPLE))
    log = recorder(doc)
    doc.open()
    assert [n for n, _ in log] == ["opening", "opened"]
    loaded = log[1][1][0]
    assert loaded is doc.loaded and doc.checkpoint.step == 5
    assert len(loaded.model.checkpoints) == 6 and len(loaded.tensors) == 15
    # Adam's slots, its beta powers and the step are not the model's parameters.
    assert "170 parameters (all trainable)   ·   343 in optimizer state" in doc.status_text()


def test_the_selected_variable_follows_a_change_of_checkpoint():
    doc = Document(str(SAMPLE))
    doc.open()
    doc.select_tensor("conv/kernel", origin="variables")
    assert doc.selection.key == "conv/kernel" and doc.selection.op == "conv/kernel"
    log = recorder(doc)
    before = doc.loaded
    first = doc.loaded.model.checkpoints[0]
    doc.select_checkpoint(first.prefix)
    # The state shown until then was not changed under the panels: a new one replaced it.
    assert before.checkpoint.step == 5 and doc.loaded is not before
    assert [n for n, _ in log] == ["checkpoint_changed", "selection_changed"]
    assert doc.checkpoint.step == 0
    # The same variable, now read from epoch-0, byte for byte what the file holds.
    assert doc.loaded.reader.read("conv/kernel").tobytes() == \
        Bundle(first.prefix).read("conv/kernel").tobytes()
    assert log[1][1][0].key == "conv/kernel" and log[1][1][0].origin == ""


def test_selecting_an_op_finds_its_checkpoint_key_and_the_same_item_is_not_announced_twice():
    doc = Document(str(SAMPLE))
    doc.open()
    log = recorder(doc)
    doc.select_op("conv/kernel", origin="tree")
    doc.select_op("conv/kernel", origin="details")
    assert [n for n, _ in log] == ["selection_changed"]
    assert doc.selection.key == "conv/kernel"
    doc.select_op("conv/Conv2D")
    assert doc.selection.key is None and doc.selection.op == "conv/Conv2D"


def test_a_computed_value_is_an_item_of_its_own():
    import numpy as np
    doc = Document(str(SAMPLE))
    doc.open()
    seen = []
    doc.selection_changed.connect(seen.append)
    delta = np.arange(4.0)
    doc.select_value("Δ conv/bias", delta, origin="compare")
    doc.select_value("Δ conv/bias", delta, origin="compare")      # the same array: once
    doc.select_value("Δ conv/bias", delta.copy(), origin="compare")
    assert len(seen) == 2 and seen[0].value is delta and seen[0].key is None


def test_a_changed_checkpoint_list_is_one_event(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SAMPLE, run)
    doc = Document(str(run))
    doc.open()
    log = recorder(doc)
    fewer = doc.loaded.model.checkpoints[2:]
    doc.set_checkpoints(fewer)
    assert log == [("checkpoints_changed", (fewer,))]
    assert doc.loaded.model.checkpoints == fewer


def test_a_model_that_cannot_be_read_fails_with_its_name(tmp_path):
    bad = tmp_path / "broken.index"
    bad.write_bytes(b"not a table" * 20)
    doc = Document(str(bad))
    log = recorder(doc)
    doc.open()
    assert [n for n, _ in log] == ["opening", "open_failed"]
    assert "broken.index" in log[1][1][0] and doc.loaded is None


def test_verify_tells_the_result(tmp_path):
    doc = Document(str(SAMPLE))
    doc.open()
    log = recorder(doc)
    doc.verify()
    (name, (text, details, error)), = log
    assert name == "notice" and not error and "all 90 tensors in 6 checkpoint(s) are intact" in text


def test_selection_identity():
    a = Selection(key="k", op="o")
    assert a.same_item(Selection(key="k", op="o", origin="elsewhere"))
    assert not a.same_item(Selection(key="k"))
    assert Selection().empty and not a.empty


def test_a_tab_is_named_by_what_identifies_the_model(tmp_path):
    from app.formats.model import Model
    from app.formats.run import Checkpoint
    assert Model(str(tmp_path / "mnist"), "run", str(tmp_path / "mnist")).title == "mnist"
    assert Model("", "run", str(tmp_path / "mnist" / "logdir")).title == "mnist/logdir"
    assert Model("", "savedmodel", str(tmp_path / "half_plus_two" / "00000123")).title == "half_plus_two/00000123"
    assert Model("", "graph", "", graph_path=str(tmp_path / "inception" / "model.pb")).title == "inception/model.pb"
    assert Model("", "graph", "", graph_path=str(tmp_path / "x" / "inception_v3.pb")).title == "inception_v3.pb"
    assert Checkpoint(prefix=str(tmp_path / "run") + "/").name == "run/"


def test_a_broken_keras_or_a_tflite_file_gets_one_plain_message(tmp_path):
    for name, head, says in (
            ("emotion_model.hdf5", b"\x89HDF\r\n\x1a\n", "an HDF5 file that cannot be opened, truncated or corrupt"),
            ("m.tflite", b"\x1c\x00\x00\x00TFL3", "not a TensorFlow checkpoint, graph or SavedModel"),
            ("m.keras", b"PK\x03\x04", "a broken or truncated .keras archive")):
        path = tmp_path / name
        path.write_bytes(head + bytes(200))
        doc = Document(str(path))
        log = recorder(doc)
        doc.open()
        assert [n for n, _ in log] == ["opening", "open_failed"], name
        message = log[1][1][0]
        assert says in message and name in message
