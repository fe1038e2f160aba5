"""How a folder becomes a run of checkpoints (app/formats/run.py): which files make a
checkpoint, in which order, with which graph, size and time, which one is the latest, and
what the state file may and may not change. The checkpoints are TensorFlow's own
(resources/sample_run, written by a TF1 Saver); V1 files are tables made here."""

from __future__ import annotations

import os
import shutil

import pytest

from app.formats.errors import FormatError
from app.formats.keras import HDF5_MAGIC
from app.formats.run import STATE_FILE, Checkpoint, RunFolder, read_state, step_of

from .conftest import ROOT
from .tablewriter import table_bytes

SAMPLE = ROOT / "resources" / "sample_run"


def _copy_bundle(src_prefix, dest_prefix, meta: bool = False) -> None:
    """One of the sample's TensorFlow checkpoints under another name."""
    shutil.copy(f"{src_prefix}.index", f"{dest_prefix}.index")
    shutil.copy(f"{src_prefix}.data-00000-of-00001", f"{dest_prefix}.data-00000-of-00001")
    if meta:
        shutil.copy(SAMPLE / "epoch-0.meta", f"{dest_prefix}.meta")


def _v1(path) -> None:
    """A file with the table format's magic that is no bundle index: a V1 checkpoint."""
    path.write_bytes(table_bytes([(b"", b"")]))


@pytest.fixture
def sample(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SAMPLE, run)
    return run


def _by_name(run: RunFolder) -> dict[str, Checkpoint]:
    return {c.name: c for c in run.checkpoints}


@pytest.mark.parametrize("prefix,step", [
    ("/r/model.ckpt-1000", 1000), ("/r/epoch-7", 7), ("/r/epoch_3", 3), ("/r/step12", None),
    ("/r/model.ckpt", None), ("/r-4/final", None), ("/r/ckpt-0", 0), ("/r/weights.epoch01.h5", 1),
    ("/r/ckpt-12.keras", 12), ("/r/best.weights.h5", None)])
def test_a_checkpoints_step_is_the_number_its_name_ends_in(prefix, step):
    assert step_of(prefix) == step


def test_the_sample_run_in_step_order_with_its_files_graph_and_latest(sample):
    run = RunFolder(str(sample))
    assert [c.name for c in run.checkpoints] == [f"epoch-{i}" for i in range(6)]
    assert [c.step for c in run.checkpoints] == list(range(6))
    assert run.problems == [] and run.notes == []
    for c in run.checkpoints:
        assert c.format == "bundle" and c.on_disk
        assert c.index == f"{c.prefix}.index"
        assert c.data_files == [f"{c.prefix}.data-00000-of-00001"]
        # the one .meta the Saver wrote (with epoch-0) describes every checkpoint's graph
        assert c.meta == str(sample / "epoch-0.meta")
        assert c.size == os.path.getsize(c.index) + os.path.getsize(c.data_files[0]) == 540 + 2056
    assert [c.latest for c in run.checkpoints] == [False] * 5 + [True]


def test_steps_sort_as_numbers_and_unnumbered_checkpoints_come_last(tmp_path):
    src = SAMPLE / "epoch-0"
    for name in ("ckpt-10", "ckpt-9", "ckpt-100", "final", "best", "ckpt-0"):
        _copy_bundle(src, tmp_path / name)
    run = RunFolder(str(tmp_path))
    assert [c.name for c in run.checkpoints] == ["ckpt-0", "ckpt-9", "ckpt-10", "ckpt-100", "best", "final"]
    assert [c.step for c in run.checkpoints] == [0, 9, 10, 100, None, None]
    # no state file: the highest step is the latest
    assert [c.name for c in run.checkpoints if c.latest] == ["ckpt-100"]


def test_without_steps_the_newest_checkpoint_is_the_latest(tmp_path):
    for name, when in (("older", 1_000_000), ("newest", 3_000_000), ("middle", 2_000_000)):
        _copy_bundle(SAMPLE / "epoch-0", tmp_path / name)
        for f in tmp_path.glob(f"{name}.*"):
            os.utime(f, (when, when))
    os.utime(tmp_path / "newest.index", (3_000_100, 3_000_100))
    run = RunFolder(str(tmp_path))
    c = _by_name(run)
    assert [n for n, x in c.items() if x.latest] == ["newest"]
    assert c["newest"].mtime == 3_000_100           # the newest of its files
    assert c["older"].mtime == 1_000_000


def test_the_state_files_latest_wins_over_the_highest_step(sample):
    (sample / STATE_FILE).write_text('model_checkpoint_path: "epoch-2"\n'
                                     'all_model_checkpoint_paths: "epoch-1"\n')
    run = RunFolder(str(sample))
    assert [c.name for c in run.checkpoints if c.latest] == ["epoch-2"]
    assert run.notes == [] and run.problems == []


def test_a_latest_that_is_gone_falls_back_to_the_highest_step_on_disk(sample):
    (sample / STATE_FILE).write_text('model_checkpoint_path: "epoch-9"\n')
    run = RunFolder(str(sample))
    c = _by_name(run)
    assert not c["epoch-9"].on_disk and not c["epoch-9"].latest
    assert c["epoch-9"].data_files == [] and c["epoch-9"].size == 0 and c["epoch-9"].mtime is None
    assert [n for n, x in c.items() if x.latest] == ["epoch-5"]
    assert run.notes == ["the state file lists epoch-9, which is not on disk"]
    assert [x.name for x in run.checkpoints][-1] == "epoch-9"


def test_read_state_adds_the_latest_to_the_list_once(sample):
    (sample / STATE_FILE).write_text('model_checkpoint_path: "epoch-3"\n'
                                     'all_model_checkpoint_paths: "epoch-1"\n'
                                     'all_model_checkpoint_paths: "epoch-2"\n')
    assert read_state(str(sample)) == (["epoch-1", "epoch-2", "epoch-3"], "epoch-3")
    (sample / STATE_FILE).write_text('all_model_checkpoint_paths: "epoch-1"\n'
                                     'model_checkpoint_path: "epoch-1"\n')
    assert read_state(str(sample)) == (["epoch-1"], "epoch-1")
    (sample / STATE_FILE).write_text('all_model_checkpoint_paths: "epoch-4"\n')
    assert read_state(str(sample)) == (["epoch-4"], None)


def test_a_garbage_state_file_is_a_problem_and_the_disk_is_listed(sample):
    (sample / STATE_FILE).write_bytes(b"\xff\xfe not { a state file")
    with pytest.raises(FormatError, match="checkpoint state file does not parse") as e:
        read_state(str(sample))
    assert e.value.path == str(sample / STATE_FILE)
    run = RunFolder(str(sample))
    assert [c.name for c in run.checkpoints] == [f"epoch-{i}" for i in range(6)]
    assert run.problems == [f"{sample / STATE_FILE}: checkpoint state file does not parse (garbage or not a "
                            "state file); listing the checkpoints found on disk"]
    assert [c.name for c in run.checkpoints if c.latest] == ["epoch-5"]


def test_an_oversized_state_file_is_refused_unread(sample):
    with open(sample / STATE_FILE, "wb") as f:
        f.write(b"\xff")              # read, it would not parse: refused, it says so
        f.truncate((16 << 20) + 1)
    with pytest.raises(FormatError, match="too large"):
        read_state(str(sample))
    run = RunFolder(str(sample))
    assert len(run.problems) == 1 and "too large" in run.problems[0]


def test_a_folder_named_like_the_state_file_is_no_state_file(sample):
    (sample / STATE_FILE).unlink()
    (sample / STATE_FILE).mkdir()
    run = RunFolder(str(sample))
    assert run.problems == [] and run.notes == []
    assert len(run.checkpoints) == 6


def test_a_data_file_without_its_index_is_a_problem(sample):
    (sample / "epoch-3.index").unlink()
    (sample / STATE_FILE).unlink()
    run = RunFolder(str(sample))
    assert "epoch-3" not in _by_name(run)
    assert run.problems == ["epoch-3.data-00000-of-00001: data file without its .index; cannot be read"]


def test_a_folder_that_cannot_be_listed_says_so(tmp_path):
    with pytest.raises(FormatError, match="cannot list folder") as e:
        RunFolder(str(tmp_path / "absent"))
    assert e.value.path == str(tmp_path / "absent")


def test_every_data_shard_of_a_checkpoint_and_a_missing_one_named_as_expected(tmp_path):
    _copy_bundle(SAMPLE / "epoch-0", tmp_path / "a-1")
    (tmp_path / "a-1.data-00000-of-00001").rename(tmp_path / "a-1.data-00000-of-00002")
    (tmp_path / "a-1.data-00001-of-00002").write_bytes(b"12345")
    (tmp_path / "ab-1.data-00000-of-00001").write_bytes(b"x")    # another prefix's
    shutil.copy(SAMPLE / "epoch-0.index", tmp_path / "b-2.index")  # its data is missing
    run = RunFolder(str(tmp_path))
    c = _by_name(run)
    assert c["a-1"].data_files == [str(tmp_path / "a-1.data-00000-of-00002"),
                                   str(tmp_path / "a-1.data-00001-of-00002")]
    assert c["a-1"].size == 540 + 2056 + 5
    assert c["b-2"].data_files == [str(tmp_path / "b-2.data-00000-of-00001")]
    assert c["b-2"].size == 540        # what is there is counted; the missing shard is not
    assert run.problems == ["ab-1.data-00000-of-00001: data file without its .index; cannot be read"]


def test_each_checkpoint_finds_its_own_or_the_nearest_earlier_graph_of_its_run(tmp_path):
    for step in (0, 5, 10, 20):
        _copy_bundle(SAMPLE / "epoch-0", tmp_path / f"model.ckpt-{step}", meta=step in (5, 20))
    run = RunFolder(str(tmp_path))
    metas = {c.name: os.path.basename(c.meta) for c in run.checkpoints}
    assert metas == {"model.ckpt-0": "model.ckpt-5.meta",      # none before it: the first
                     "model.ckpt-5": "model.ckpt-5.meta",
                     "model.ckpt-10": "model.ckpt-5.meta",
                     "model.ckpt-20": "model.ckpt-20.meta"}
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "model.ckpt-1.meta")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "model.ckpt.meta")     # no step: never "nearest"
    metas = {c.name: os.path.basename(c.meta) for c in RunFolder(str(tmp_path)).checkpoints}
    assert metas["model.ckpt-10"] == "model.ckpt-5.meta"     # the nearest below, not the first
    assert metas["model.ckpt-0"] == "model.ckpt-1.meta"      # none below: the lowest step


def test_a_graph_without_a_step_comes_after_those_with_one(tmp_path):
    _copy_bundle(SAMPLE / "epoch-0", tmp_path / "model_5")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "model.meta")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "model-7.meta")
    assert RunFolder(str(tmp_path)).checkpoints[0].meta == str(tmp_path / "model-7.meta")


def test_a_graph_of_another_run_is_taken_only_when_it_is_the_only_one(tmp_path):
    _copy_bundle(SAMPLE / "epoch-0", tmp_path / "fine-3")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "pretrain-1.meta")
    assert RunFolder(str(tmp_path)).checkpoints[0].meta == str(tmp_path / "pretrain-1.meta")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "other.meta")
    assert RunFolder(str(tmp_path)).checkpoints[0].meta is None


def test_an_unnumbered_checkpoint_takes_the_first_graph_of_its_name(tmp_path):
    _copy_bundle(SAMPLE / "epoch-0", tmp_path / "model")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "model-7.meta")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "model-3.meta")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "other-1.meta")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "model.meta")
    assert RunFolder(str(tmp_path)).checkpoints[0].meta == str(tmp_path / "model.meta")
    (tmp_path / "model.meta").unlink()
    # "model" has no step: it counts as step 0, below every graph of the run, so the lowest
    assert RunFolder(str(tmp_path)).checkpoints[0].meta == str(tmp_path / "model-3.meta")


def test_v1_files_single_and_sharded_found_by_their_magic(tmp_path):
    _v1(tmp_path / "model.ckpt-100")
    _v1(tmp_path / "model.ckpt-200-00000-of-00002")
    _v1(tmp_path / "model.ckpt-200-00001-of-00002")
    (tmp_path / "notes").write_text("not a table")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "model.ckpt-200.meta")
    run = RunFolder(str(tmp_path))
    assert [c.name for c in run.checkpoints] == ["model.ckpt-100", "model.ckpt-200"]
    v100, v200 = run.checkpoints
    assert v100.format == v200.format == "v1" and v100.index is None
    assert v100.data_files == [str(tmp_path / "model.ckpt-100")]
    assert v200.prefix == str(tmp_path / "model.ckpt-200")
    assert v200.data_files == [str(tmp_path / "model.ckpt-200-00000-of-00002"),
                               str(tmp_path / "model.ckpt-200-00001-of-00002")]
    assert v200.size == 2 * os.path.getsize(tmp_path / "model.ckpt-100")
    assert v200.meta == str(tmp_path / "model.ckpt-200.meta")
    assert v200.latest and not v100.latest
    assert run.problems == []


def test_a_v1_shard_finds_the_graph_its_shard_names_share(tmp_path):
    _v1(tmp_path / "model-00000-of-00001")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "model.meta")
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "zzz.meta")
    (c,) = RunFolder(str(tmp_path)).checkpoints
    assert c.format == "v1" and c.meta == str(tmp_path / "model.meta")


def test_a_state_files_v1_pattern_names_the_sharded_checkpoint(tmp_path):
    _v1(tmp_path / "model.ckpt-100")
    _v1(tmp_path / "model.ckpt-200-00000-of-00002")
    _v1(tmp_path / "model.ckpt-200-00001-of-00002")
    (tmp_path / STATE_FILE).write_text(
        'model_checkpoint_path: "/train/machine/model.ckpt-200-?????-of-00002"\n'
        'all_model_checkpoint_paths: "/train/machine/model.ckpt-100"\n')
    run = RunFolder(str(tmp_path))
    assert [c.name for c in run.checkpoints] == ["model.ckpt-100", "model.ckpt-200"]
    assert all(c.on_disk for c in run.checkpoints)
    assert [c.name for c in run.checkpoints if c.latest] == ["model.ckpt-200"]
    assert run.notes == []


def test_a_v1_pattern_matching_nothing_is_listed_as_not_on_disk(tmp_path):
    _v1(tmp_path / "model.ckpt-100")
    (tmp_path / STATE_FILE).write_text('model_checkpoint_path: "model.ckpt-300-?????-of-00002"\n')
    run = RunFolder(str(tmp_path))
    gone = [c for c in run.checkpoints if not c.on_disk]
    assert [c.prefix for c in gone] == [str(tmp_path / "model.ckpt-300-?????-of-00002")]
    assert [c.name for c in run.checkpoints if c.latest] == ["model.ckpt-100"]


def test_v1_probing_skips_what_cannot_be_v1_and_stops_after_200_files(tmp_path):
    # 199 unknown files are probed; none of the others counts, so the V1 file is the 200th.
    for i in range(199):
        (tmp_path / f"f{i:03d}").write_bytes(b"x")
    (tmp_path / "a.index").write_bytes(b"")
    (tmp_path / "a.meta").write_bytes(b"")
    (tmp_path / "a.data-00000-of-00001").write_bytes(b"")
    (tmp_path / "events.out.tfevents.1.host").write_bytes(b"")
    (tmp_path / STATE_FILE).write_text("")
    (tmp_path / "sub").mkdir()
    for ext in (".index", ".meta", ".pb", ".pbtxt", ".json", ".txt", ".npy", ".npz", ".h5", ".hdf5", ".keras",
                ".py", ".md", ".csv", ".png", ".jpg", ".tflite", ".onnx", ".zip", ".gz", ".log"):
        _v1(tmp_path / f"table{ext}")     # table magic, but names V1 saves never have
    _v1(tmp_path / "zz.ckpt-7")
    run = RunFolder(str(tmp_path))
    assert [(c.name, c.format) for c in run.checkpoints if c.format == "v1"] == [("zz.ckpt-7", "v1")]
    (tmp_path / "f199").write_bytes(b"x")     # one more probe: the V1 file is not reached
    assert [c.name for c in RunFolder(str(tmp_path)).checkpoints if c.format == "v1"] == []


def test_keras_files_are_the_runs_epochs(tmp_path):
    for name in ("weights.epoch02.h5", "weights.epoch10.h5", "weights.epoch01.h5"):
        (tmp_path / name).write_bytes(HDF5_MAGIC + b"\0" * 8)
    (tmp_path / "WEIGHTS.EPOCH03.H5").write_bytes(HDF5_MAGIC + b"\0" * 8)
    (tmp_path / "fake.h5").write_bytes(b"not hdf5")
    (tmp_path / "dir.h5").mkdir()
    (tmp_path / "weights.bin").write_bytes(HDF5_MAGIC + b"\0" * 8)    # HDF5, not named as Keras names it
    shutil.copy(SAMPLE / "epoch-0.meta", tmp_path / "graph.meta")      # no Keras file's graph
    run = RunFolder(str(tmp_path))
    assert [(c.name, c.step, c.format) for c in run.checkpoints] == [
        ("weights.epoch01.h5", 1, "keras"), ("weights.epoch02.h5", 2, "keras"),
        ("WEIGHTS.EPOCH03.H5", 3, "keras"), ("weights.epoch10.h5", 10, "keras")]
    for c in run.checkpoints:
        assert c.index == c.prefix and c.data_files == [c.prefix] and c.meta is None
        assert c.size == 16          # the file counted once
    assert run.checkpoints[-1].latest


def test_a_prefix_ending_in_a_separator_is_named_by_its_folder(tmp_path):
    assert Checkpoint(str(tmp_path / "run") + os.sep).name == "run/"
    assert Checkpoint(str(tmp_path / "run" / "ckpt-3")).name == "ckpt-3"


def test_a_v1_file_named_like_a_bundle_prefix_leaves_the_bundle(tmp_path):
    _copy_bundle(SAMPLE / "epoch-0", tmp_path / "model-1")
    _v1(tmp_path / "model-1")
    (c,) = RunFolder(str(tmp_path)).checkpoints
    assert (c.format, c.index) == ("bundle", str(tmp_path / "model-1.index"))


def test_state_file_paths_of_other_machines_resolve_to_their_names_here(sample):
    (sample / STATE_FILE).write_text('model_checkpoint_path: "C:\\\\Users\\\\me\\\\run\\\\epoch-4"\n'
                                     'all_model_checkpoint_paths: "/srv/train/run/epoch-3/"\n'
                                     'all_model_checkpoint_paths: "epoch-2"\n')
    run = RunFolder(str(sample))
    assert run.notes == [] and all(c.on_disk for c in run.checkpoints)
    assert [c.name for c in run.checkpoints if c.latest] == ["epoch-4"]


def test_a_relative_path_below_the_folder_is_kept_where_it_is(sample):
    (sample / "sub").mkdir()
    _copy_bundle(SAMPLE / "epoch-0", sample / "sub" / "ckpt-3")
    _v1(sample / "sub" / "old.ckpt-9")
    (sample / STATE_FILE).write_text('model_checkpoint_path: "sub/ckpt-3"\n'
                                     'all_model_checkpoint_paths: "sub/old.ckpt-9"\n'
                                     'all_model_checkpoint_paths: "sub/gone-4"\n')
    run = RunFolder(str(sample))
    gone = sorted(c.prefix for c in run.checkpoints if not c.on_disk)
    # found in its own place (a subfolder is not this run's: listed, not read); a name that
    # is nowhere is looked for here
    assert gone == [str(sample / "gone-4"), str(sample / "sub" / "ckpt-3"), str(sample / "sub" / "old.ckpt-9")]
    assert [c.name for c in run.checkpoints if c.latest] == ["epoch-5"]


def test_what_a_note_says_of_a_checkpoint_outside_the_folder(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(SAMPLE, run)
    _copy_bundle(SAMPLE / "epoch-0", tmp_path / "best-7")
    _copy_bundle(SAMPLE / "epoch-0", tmp_path / "best-8")
    (run / STATE_FILE).write_text(f'model_checkpoint_path: "{tmp_path}/best-7"\n'
                                  'all_model_checkpoint_paths: "../best-8"\n')
    notes = RunFolder(str(run)).notes
    assert notes == [
        f"the state file lists ../best-8 ({tmp_path}/best-8), outside this folder: not followed (looked for "
        "best-8 here, which is not on disk)",
        f"the state file lists {tmp_path}/best-7, outside this folder: not followed (looked for best-7 here, "
        "which is not on disk)"]
