"""The bundle writer against TensorFlow: what we write, tf.train.load_checkpoint reads back
byte for byte, and TensorFlow's Saver restores; writing is atomic and never touches its
source."""

from __future__ import annotations

import hashlib
import os
import subprocess

import numpy as np
import pytest

from .conftest import require

tf = require("tensorflow")

from app.analysis import edit  # noqa: E402
from app.analysis.progress import Cancelled  # noqa: E402
from app.formats import dtypes  # noqa: E402
from app.formats.bundle import Bundle  # noqa: E402
from app.formats.bundle_writer import BundleWriter, plain  # noqa: E402
from app.formats.errors import CorruptDataError, FormatError, WriteError  # noqa: E402
from app.formats.model import load_graphs, open_checkpoint, open_path  # noqa: E402
from app.formats.run import read_state  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402
from .oracle import assert_same, tf_values  # noqa: E402
from .test_realdata import CHECKPOINTS  # noqa: E402


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("writer_src")
    return {
        "dtypes": fx.all_dtypes(root / "dtypes"),
        "v1": fx.v1_variants(root / "v1"),
        "keras": fx.tf2_keras(root / "keras"),
        "cnn": fx.cnn_epochs(root / "cnn", epochs=2, eval_dir=root / "cnn_eval"),
    }


def copy(src: str, dst, **spec) -> edit.WriteResult:
    """Open `src` as the app does and write it to `dst` through a plan."""
    model = open_path(src)
    reader = open_checkpoint(model.selected)
    try:
        graphs = load_graphs(model, model.selected)
    except FormatError:  # a broken graph beside good weights: the CLI goes on without it
        graphs = []
    try:
        plan = edit.plan_edit(reader, edit.EditSpec(**spec), graphs[0] if graphs else None)
        return edit.write_plan(plan, str(dst))
    finally:
        reader.close()


def assert_same_checkpoint(src: str, dst: str) -> int:
    ours, theirs = tf_values(tf, dst), tf_values(tf, src)
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        assert_same(ours[key], value, key)
    return len(theirs)


def tree_digest(folder) -> dict[str, str]:
    out = {}
    for root, _dirs, files in os.walk(folder):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, folder)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


# -- round trips ---------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["prefix", "exotic_prefix"])
def test_every_dtype_copies_byte_equal(built, tmp_path, which):
    src = str(getattr(built["dtypes"], which))
    result = copy(src, tmp_path / "out" / "copy")
    assert result.prefix == str(tmp_path / "out" / "copy")
    n = assert_same_checkpoint(src, result.prefix)
    assert n >= 15
    # and the declared dtypes are TensorFlow's, not their numpy storage types
    theirs = tf.train.load_checkpoint(result.prefix).get_variable_to_dtype_map()
    for key, name in {**built["dtypes"].dtype_names, **built["dtypes"].exotic_dtype_names}.items():
        if key in theirs:
            assert theirs[key].name == name, key


def test_variant_tensor_is_refused_with_a_reason(built, tmp_path):
    with pytest.raises(edit.PlanError, match="variant"):
        copy(str(built["dtypes"].variant_prefix), tmp_path / "out" / "v")
    assert not (tmp_path / "out").exists()


@pytest.mark.tf_session
@pytest.mark.parametrize("variant", ["sharded", "partitioned", "custom_names", "resource"])
def test_saver_checkpoints_copy_and_restore_through_their_graph(built, tmp_path, variant):
    ck = getattr(built["v1"], variant)
    dst = tmp_path / "out" / "model"
    result = copy(str(ck.prefix), dst)
    assert_same_checkpoint(str(ck.prefix), result.prefix)
    assert os.path.isfile(str(dst) + ".meta")  # nothing renamed: the graph is copied
    if variant == "partitioned":
        reader = Bundle(str(dst))
        assert reader.tensors["weights"].partitioned and len(reader.extents("weights")) == 3
        reader.close()
    graph = tf.Graph()
    config = tf.compat.v1.ConfigProto(device_count={"CPU": 2}, allow_soft_placement=True)
    with graph.as_default(), tf.compat.v1.Session(graph=graph, config=config) as sess:
        saver = tf.compat.v1.train.import_meta_graph(str(dst) + ".meta")
        saver.restore(sess, str(dst))
        by_name = {v.name.split(":")[0]: v for v in tf.compat.v1.global_variables()}
        if variant == "partitioned":
            for key, parts in built["v1"].partitions.items():
                got = np.concatenate(sess.run([by_name[p] for p, _ in parts]), axis=0)
                assert_same(got, ck.values[key], key)
        elif variant == "custom_names":
            for key, var in built["v1"].custom_names_map.items():
                assert_same(np.asarray(sess.run(by_name[var])), ck.values[key], key)
        else:
            for key, value in ck.values.items():
                assert_same(np.asarray(sess.run(by_name[key])), value, key)


def test_tf2_sliced_checkpoint_copies_and_restores(built, tmp_path):
    keras = built["keras"]
    dst = tmp_path / "out" / "ckpt"
    copy(str(keras.sharded_policy.prefix), dst)
    assert_same_checkpoint(str(keras.sharded_policy.prefix), str(dst))
    reader = Bundle(str(dst))
    for key in keras.sliced_keys:
        assert reader.tensors[key].partitioned
    reader.close()
    # a fresh module of the same structure, all zeros, restored by object path
    module = tf.Module(name="shardable")
    values = keras.sharded_policy.values
    by_attr = {}
    for key, value in values.items():
        attr = key.split("/")[0]
        setattr(module, attr, tf.Variable(np.zeros_like(value), name=attr))
        by_attr[attr] = key
    tf.train.Checkpoint(root=module).read(str(dst)).assert_consumed()
    for attr, key in by_attr.items():
        assert_same(getattr(module, attr).numpy(), values[key], key)


def _indexes(folder, name: str, values: dict) -> tuple[bytes, bytes]:
    """(ours, TensorFlow's) `.index` bytes of `values` (key -> array, keys in order), each
    writer given the tensors in that order."""
    keys = list(values)
    tf.raw_ops.SaveV2(prefix=str(folder / f"{name}-tf"), shape_and_slices=[""] * len(keys),
                      tensor_names=[k.encode("utf-8", "surrogateescape") for k in keys],
                      tensors=[tf.constant(values[k]) for k in keys])
    writer = BundleWriter(str(folder / f"{name}-ours"))
    for key in keys:
        v = np.asarray(values[key])
        writer.add(key, dtypes.BY_NAME[v.dtype.name], v.shape, plain([v.reshape(-1)]))
    writer.finish()
    return tuple((folder / f"{name}-{who}.index").read_bytes() for who in ("ours", "tf"))


def test_many_keys_span_several_index_blocks(tmp_path):
    prefix = str(tmp_path / "many")
    values = {f"layer_{i:05d}/" + "w" * (i % 40): np.full((i % 5,), i, np.int32) for i in range(15000)}
    writer = BundleWriter(prefix, max_shard_bytes=20_000)
    for key, value in values.items():
        writer.add(key, dtypes.BY_NAME["int32"], value.shape, plain([value]))
    files = writer.finish()
    assert sum(".data-" in f for f in files) > 1
    assert os.path.getsize(prefix + ".index") > 600_000  # several 256 KiB blocks
    # the same keys as TensorFlow writes them: every block, and the index's short keys
    ours, theirs = _indexes(tmp_path, "one", {k: values[k] for k in sorted(values)})
    assert ours == theirs
    theirs = tf_values(tf, prefix)
    assert set(theirs) == set(values)
    for key in list(values)[::211]:
        assert_same(theirs[key], values[key], key)


def test_index_block_keys_are_shortened_as_tensorflow_shortens_them(tmp_path):
    """Keys of 132 kB: two fill a block, so each pair below meets at a block edge, where
    the index names the block by a short key between the two, and the last block by a
    short key after its last."""
    big = 132_000
    keys = ["A" * big, "C" * big,
            "XXXX" + "e" * big, "f" * big,      # C | X: apart, the index says "D"; the block
            "g" * big, "h" * big,               #   starts with the bytes an empty block's
            "h" * big + "i", "m" * big + "ma",  #   last key would be taken for; f | g: one
            "m" * big + "mc", "\udcff" * 3]     #   apart; h | h…i: a prefix; m…ma | m…mc: a
    #   long common part (odd in length), then two apart; the last: 0xff bytes only
    names = [k.encode("utf-8", "surrogateescape") for k in keys]
    assert names == sorted(names)
    ours, theirs = _indexes(tmp_path, "edges", {k: np.float32(i) for i, k in enumerate(keys)})
    assert len(ours) > 5 * big and ours == theirs
    assert sorted(Bundle(str(tmp_path / "edges-ours")).tensors) == sorted(keys)
    # the last entry fills its block: no empty block after it
    ours, theirs = _indexes(tmp_path, "full", {"a" * big: np.float32(0), "b" * big: np.float32(1)})
    assert ours == theirs


def test_table_keys_must_come_in_order_once_each():
    from app.formats.table_writer import table_bytes
    with pytest.raises(ValueError, match="^table keys out of order or repeated: b'a' after b'b'$"):
        table_bytes([(b"b", b""), (b"a", b"")])
    with pytest.raises(ValueError, match="^table keys out of order or repeated: b'b' after b'b'$"):
        table_bytes([(b"a", b""), (b"b", b"1"), (b"b", b"2")])


def test_a_shard_that_cannot_be_made_is_a_write_error_naming_it(tmp_path):
    prefix = str(tmp_path / "gone" / "w")      # its folder does not exist
    writer = BundleWriter(prefix)
    with pytest.raises(WriteError) as err:
        writer.add("a", F32, (1,), plain([np.zeros(1, np.float32)]))
    assert err.value.path == prefix + ".data-partial-00000"
    assert err.value.problem == "cannot write: No such file or directory"
    writer.abort()


def test_empty_string_tensors_are_written_as_tensorflow_writes_them(tmp_path):
    prefix = str(tmp_path / "s")
    tf.raw_ops.SaveV2(prefix=str(tmp_path / "tf"), tensor_names=["e"], shape_and_slices=[""],
                      tensors=[tf.constant(np.zeros([0, 3], object), dtype=tf.string)])
    writer = BundleWriter(prefix)
    writer.add("e", dtypes.BY_NAME["string"], (0, 3), plain([np.zeros([0, 3], object)]))
    writer.add("w", dtypes.BY_NAME["string"], (2,), plain([np.array([b"ab", b""], object)]))
    writer.finish()
    # the lengths' crc is there even for no strings: 4 bytes, as in TensorFlow's own file
    assert Bundle(prefix).tensors["e"].nbytes == Bundle(str(tmp_path / "tf")).tensors["e"].nbytes
    theirs = tf_values(tf, prefix)
    assert theirs["e"].shape == (0, 3) and list(theirs["w"]) == [b"ab", b""]
    assert Bundle(prefix).read("e").shape == (0, 3)


def test_max_shard_size_splits_the_data(built, tmp_path):
    src = str(built["dtypes"].prefix)
    copy(src, tmp_path / "out" / "s", max_shard_bytes=200)
    shards = sorted(p.name for p in (tmp_path / "out").glob("s.data-*"))
    assert len(shards) > 3 and shards[-1].endswith(f"-of-{len(shards):05d}")
    assert_same_checkpoint(src, str(tmp_path / "out" / "s"))


def test_state_file_records_the_result(built, tmp_path):
    out = tmp_path / "out"
    copy(str(built["cnn"].checkpoints[0].prefix), out / "first")
    copy(str(built["cnn"].checkpoints[1].prefix), out / "second")
    listed, latest = read_state(str(out))
    assert latest == "second" and listed == ["first", "second"]
    assert tf.train.latest_checkpoint(str(out)) == str(out / "second")


def test_realdata_round_trip(realdata, tmp_path):
    """Every checkpoint of the real data, read then written unchanged: TensorFlow reads
    the same tensors (pre-0.11 checkpoints come out as bundles)."""
    done = 0
    for i, rel in enumerate(CHECKPOINTS):
        path = realdata / rel
        if not path.exists():
            continue
        model = open_path(str(path))
        ckpt = model.selected
        src = ckpt.prefix if ckpt.format == "bundle" else ckpt.data_files[0]
        if ckpt.format == "v1" and len(ckpt.data_files) > 1:
            src = ckpt.prefix + "-?????-of-%05d" % len(ckpt.data_files)
        try:
            theirs = tf_values(tf, src)
        except Exception:  # TensorFlow cannot read it either (a deliberately broken one)
            with pytest.raises((FormatError, edit.PlanError)):
                copy(str(path), tmp_path / f"bad{i}" / "ckpt")
            assert not (tmp_path / f"bad{i}").exists()
            continue
        dst = tmp_path / f"out{i}" / "ckpt"
        copy(str(path), dst)
        ours = tf_values(tf, str(dst))
        assert set(ours) == set(theirs), rel
        for key, value in theirs.items():
            if key != "_CHECKPOINTABLE_OBJECT_GRAPH":
                assert_same(ours[key], value, f"{rel}: {key}")
        done += 1
    assert done >= 10


# -- hostile -------------------------------------------------------------------------------

def test_output_inside_or_over_the_source_is_refused(built, tmp_path):
    ck = built["cnn"].checkpoints[-1]
    before = tree_digest(ck.dir)
    for dst in (ck.prefix, ck.dir / "stripped", ck.dir / "sub" / "model"):
        with pytest.raises(WriteError, match="inside the source's folder"):
            copy(str(ck.prefix), dst)
    assert tree_digest(ck.dir) == before


def test_an_existing_result_is_not_overwritten(built, tmp_path):
    src = str(built["cnn"].checkpoints[0].prefix)
    copy(src, tmp_path / "out" / "m")
    before = tree_digest(tmp_path / "out")
    with pytest.raises(WriteError, match="already exists"):
        copy(src, tmp_path / "out" / "m")
    assert tree_digest(tmp_path / "out") == before


@pytest.mark.parametrize("existing_folder", [False, True])
def test_cancel_halfway_leaves_nothing(built, tmp_path, existing_folder):
    src = built["dtypes"].prefix
    before = tree_digest(built["dtypes"].dir)
    out = tmp_path / "out"
    if existing_folder:
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    reader = Bundle(str(src))
    plan = edit.plan_edit(reader, edit.EditSpec())
    calls, seen = [0], []

    def cancelled():
        calls[0] += 1
        if calls[0] == 20:  # several tensors are written by then
            seen.extend(os.listdir(out if existing_folder else tmp_path))
            return True
        return False

    with pytest.raises(Cancelled):
        edit.write_plan(plan, str(out / "m"), cancelled=cancelled)
    reader.close()
    assert any(".partial-" in n for n in seen)  # it was under way, in its hidden folder
    assert sorted(os.listdir(tmp_path)) == (["out"] if existing_folder else [])
    if existing_folder:
        assert sorted(os.listdir(out)) == ["keep.txt"]
    assert tree_digest(built["dtypes"].dir) == before


def test_corrupt_source_leaves_nothing(built, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in built["cnn"].checkpoints[0].data_files + [built["cnn"].checkpoints[0].index]:
        (src / f.name).write_bytes(f.read_bytes())
    data = next(src.glob("*.data-*"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(CorruptDataError):
        copy(str(src / "epoch-0"), tmp_path / "out" / "m")
    assert not (tmp_path / "out").exists()


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB filesystem of its own: a real disk-full, not a simulated one."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip()}): disk-full untested")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_disk_full_leaves_nothing(tiny_tmpfs, tmp_path):
    prefix = tmp_path / "src" / "big"
    prefix.parent.mkdir()
    values = {f"w{i}": np.random.RandomState(i).standard_normal(8000).astype(np.float32)
              for i in range(4)}  # 128 KB: twice the filesystem
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=list(values), shape_and_slices=[""] * 4,
                      tensors=[tf.constant(v) for v in values.values()])
    for dst in (tiny_tmpfs / "m", tiny_tmpfs / "new" / "m"):
        with pytest.raises(WriteError, match="No space left") as err:
            copy(str(prefix), dst)
        assert os.listdir(tiny_tmpfs) == []
        # the file that did not fit, named where it was being written
        assert err.value.path.startswith(str(tiny_tmpfs) + os.sep) and ".data-" in err.value.path
        assert err.value.problem == "cannot write: No space left on device"
    # the same writes fit once a filter makes the result small
    copy(str(prefix), tiny_tmpfs / "m", keep=["^w0$"])
    assert set(tf_values(tf, str(tiny_tmpfs / "m"))) == {"w0"}


def test_missing_folders_above_the_result_are_made_whole_or_not_at_all(built, tmp_path):
    src = str(built["cnn"].checkpoints[0].prefix)
    copy(src, tmp_path / "a" / "b" / "c" / "m")
    assert sorted(os.listdir(tmp_path / "a" / "b" / "c")) == [
        "checkpoint", "m.data-00000-of-00001", "m.index", "m.meta"]
    assert os.listdir(tmp_path) == ["a"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteError, match="not a folder"):
        copy(src, tmp_path / "file" / "d" / "m")
    with pytest.raises(edit.PlanError):
        copy(src, tmp_path / "x" / "y" / "m", keep=["nothing matches"])
    assert sorted(os.listdir(tmp_path)) == ["a", "file"]


# -- staging, called directly: every way a move into place can go, and what it leaves ----------

from app.formats import staging  # noqa: E402


def _stage_one(prefix, values=None) -> staging.StagedCheckpoint:
    staged = staging.StagedCheckpoint(str(prefix))
    w = BundleWriter(staged.staged_prefix)
    for key, v in (values or {"v": np.arange(3, dtype=np.float32)}).items():
        w.add(key, dtypes.BY_NAME[v.dtype.name], v.shape, [(None, [v])])
    w.finish()
    return staged


def test_staged_commit_into_an_existing_run_keeps_its_list_and_moves_the_index_last(tmp_path, monkeypatch):
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "old-2"\n'
                                         'all_model_checkpoint_paths: "old-1"\n'
                                         'all_model_checkpoint_paths: "old-2"\n')
    with open(tmp_path / "old-2.meta", "wb") as f:
        f.write(b"")
    staged = _stage_one(tmp_path / "new")
    with open(staged.staged_prefix + ".meta", "wb") as f:
        f.write(b"graph")
    renamed = []
    real_rename = os.rename
    monkeypatch.setattr(os, "rename", lambda a, b: (renamed.append(os.path.basename(b)), real_rename(a, b)))
    final = staged.commit()
    monkeypatch.undo()
    assert renamed == ["new.data-00000-of-00001", "new.meta", "new.index"]
    assert final == [str(tmp_path / n) for n in renamed]
    assert read_state(str(tmp_path)) == (["old-1", "old-2", "new"], "new")
    assert sorted(os.listdir(tmp_path)) == sorted(["checkpoint", "old-2.meta", *renamed])
    assert_same(tf_values(tf, str(tmp_path / "new"))["v"], np.arange(3, dtype=np.float32), "v")


def test_staged_commit_replaces_a_state_file_that_does_not_parse(tmp_path):
    (tmp_path / "checkpoint").write_text("this is { not a state file")
    _stage_one(tmp_path / "m").commit()
    assert read_state(str(tmp_path)) == (["m"], "m")


def test_staged_commit_of_new_folders_returns_the_final_paths(tmp_path):
    staged = _stage_one(tmp_path / "a" / "b" / "m")
    assert os.listdir(tmp_path) == [os.path.basename(staged.staging)]
    final = staged.commit()
    assert sorted(final) == [str(tmp_path / "a" / "b" / n) for n in ("m.data-00000-of-00001", "m.index")]
    assert all(os.path.isfile(p) for p in final)
    assert os.listdir(tmp_path) == ["a"]
    assert read_state(str(tmp_path / "a" / "b")) == (["m"], "m")


def test_staged_abort_of_new_folders_leaves_no_folder(tmp_path):
    staged = _stage_one(tmp_path / "a" / "b" / "m")
    staged.abort()
    staged.abort()
    assert os.listdir(tmp_path) == []


def test_a_file_appearing_at_the_destination_is_not_replaced_and_nothing_is_left(tmp_path):
    staged = _stage_one(tmp_path / "m")
    (tmp_path / "m.index").write_bytes(b"theirs")
    with pytest.raises(WriteError) as e:
        staged.commit()
    assert e.value.path == str(tmp_path / "m.index")
    assert e.value.problem == "appeared while the result was written: not replaced"
    assert os.listdir(tmp_path) == ["m.index"] and (tmp_path / "m.index").read_bytes() == b"theirs"


def test_a_failing_state_file_move_takes_the_moved_files_back(tmp_path):
    (tmp_path / "checkpoint").mkdir()  # not a file: replacing it fails after the data moved
    staged = _stage_one(tmp_path / "m")
    with pytest.raises(WriteError) as e:
        staged.commit()
    assert e.value.path == str(tmp_path / "m")
    assert e.value.problem.startswith("cannot move the result into place: ")
    assert os.listdir(tmp_path) == ["checkpoint"]


def test_a_new_folder_appearing_meanwhile_is_not_merged_into(tmp_path):
    staged = _stage_one(tmp_path / "new" / "m")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "theirs").write_bytes(b"x")
    with pytest.raises(WriteError) as e:
        staged.commit()
    assert e.value.path == str(tmp_path / "new")
    assert e.value.problem.startswith("cannot move the result into place: ")
    assert os.listdir(tmp_path) == ["new"] and os.listdir(tmp_path / "new") == ["theirs"]


def test_a_staging_folder_that_cannot_be_made_is_a_write_error(tmp_path):
    prefix = tmp_path / ("m" * 245)  # the hidden folder's name passes the 255-byte limit
    with pytest.raises(WriteError) as e:
        staging.StagedCheckpoint(str(prefix))
    assert e.value.path.startswith(str(tmp_path / ("." + "m" * 245 + ".partial-")))
    assert e.value.problem.startswith("cannot write: ")
    assert os.listdir(tmp_path) == []


def test_destination_problems_name_what_is_wrong(tmp_path, monkeypatch):
    problem = staging.destination_problem
    assert problem(str(tmp_path) + "/") == "names a folder: give the result's prefix, e.g. out/model.ckpt"
    src = tmp_path / "src"
    src.mkdir()
    assert problem(str(src / "x"), [str(src)]) == (
        f"is inside the source's folder {src}: write the result elsewhere "
        "(an edit never changes the folder it reads from)")
    for existing in ("m.index", "m.meta", "m.data-00000-of-00001"):
        d = tmp_path / existing.replace(".", "_")
        d.mkdir()
        (d / existing).write_bytes(b"")
        assert problem(str(d / "m")) == f"{existing} already exists there: choose another name"
    both = tmp_path / "both"
    both.mkdir()
    (both / "m.index").write_bytes(b"")
    (both / "m.data-00000-of-00001").write_bytes(b"")
    assert problem(str(both / "m")) == "m.index already exists there: choose another name"
    monkeypatch.chdir(both)  # a bare name is in the current folder
    assert problem("m") == "m.index already exists there: choose another name"
    with pytest.raises(WriteError) as e:
        staging.StagedCheckpoint(str(both / "m"))
    assert e.value.path == str(both / "m") and "m.index already exists" in str(e.value)


# -- the writer and piece_regions, called directly --------------------------------------------

from app.formats.bundle_writer import piece_regions  # noqa: E402
from app.formats.reader import Region  # noqa: E402


def _pieces_out(pieces) -> list[list[int]]:
    return [np.concatenate([np.asarray(c) for c in chunks]).tolist() for _, chunks in pieces]


def test_piece_regions_splits_and_flattens_chunks_across_regions():
    regions = [Region((0, 0), (1, 3)), Region((1, 0), (1, 5)), Region((2, 0), (1, 1))]
    chunks = [np.arange(4).reshape(2, 2), np.arange(4, 9).reshape(1, 5)]
    pieces = piece_regions(regions, chunks)
    assert [r for r, _ in pieces] == regions
    assert _pieces_out(pieces) == [[0, 1, 2], [3, 4, 5, 6, 7], [8]]
    for c in (list(ch) for _, ch in piece_regions(regions, [np.arange(9)])):
        assert all(x.ndim == 1 for x in c)


@pytest.mark.parametrize("chunks,message", [
    ([np.arange(5)], "the chunks end before the regions do"),
    ([np.arange(10)], "the chunks hold more than the regions"),       # left over inside a chunk
    ([np.arange(9), np.arange(1)], "the chunks hold more than the regions"),  # a chunk too many
])
def test_piece_regions_refuses_chunks_that_do_not_fill_the_regions(chunks, message):
    regions = [Region((0,), (4,)), Region((4,), (5,))]
    with pytest.raises(ValueError) as e:
        _pieces_out(piece_regions(regions, chunks))
    assert str(e.value) == message


def test_empty_bundle_has_one_data_file_and_tensorflow_reads_it(tmp_path):
    w = BundleWriter(str(tmp_path / "e"))
    files = w.finish()
    assert files == [str(tmp_path / "e.data-00000-of-00001"), str(tmp_path / "e.index")]
    assert sorted(os.listdir(tmp_path)) == ["e.data-00000-of-00001", "e.index"]
    assert tf.train.load_checkpoint(str(tmp_path / "e")).get_variable_to_shape_map() == {}
    with pytest.raises(ValueError, match="^the bundle is finished$"):
        w.finish()
    w.abort()  # after finishing: removes what it wrote
    assert os.listdir(tmp_path) == []


def test_one_tensor_bundle_has_exactly_one_shard(tmp_path):
    w = BundleWriter(str(tmp_path / "m"))
    w.add("v", dtypes.BY_NAME["float32"], (2,), [(None, [np.ones(2, np.float32)])])
    assert w.finish() == [str(tmp_path / "m.data-00000-of-00001"), str(tmp_path / "m.index")]
    assert sorted(os.listdir(tmp_path)) == ["m.data-00000-of-00001", "m.index"]


def test_abort_before_finishing_removes_the_shards_and_ends_the_writer(tmp_path):
    w = BundleWriter(str(tmp_path / "m"))
    w.add("v", dtypes.BY_NAME["float32"], (2,), [(None, [np.ones(2, np.float32)])])
    assert os.listdir(tmp_path)
    w.abort()
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="^the bundle is finished$"):
        w.finish()


def test_an_index_that_appeared_is_a_write_error_not_overwritten(tmp_path):
    (tmp_path / "m.index").write_bytes(b"theirs")
    w = BundleWriter(str(tmp_path / "m"))
    with pytest.raises(WriteError) as e:
        w.finish()
    assert e.value.path == str(tmp_path / "m.index") and e.value.problem == "cannot write: File exists"
    assert (tmp_path / "m.index").read_bytes() == b"theirs"


def test_a_shard_that_cannot_take_its_name_is_a_write_error(tmp_path):
    (tmp_path / "m.data-00000-of-00001").mkdir()
    w = BundleWriter(str(tmp_path / "m"))
    w.add("v", dtypes.BY_NAME["float32"], (2,), [(None, [np.ones(2, np.float32)])])
    with pytest.raises(WriteError) as e:
        w.finish()
    assert e.value.path and e.value.path.startswith(str(tmp_path))
    assert e.value.problem.startswith("cannot write: ")
    w.abort()
    assert os.listdir(tmp_path) == ["m.data-00000-of-00001"]


def test_strings_from_lists_str_and_bytes_keep_every_byte(tmp_path):
    w = BundleWriter(str(tmp_path / "s"))
    w.add("s", dtypes.BY_NAME["string"], (3,), [(None, [[b"a\x00\x00", "h\u00e9"], [b""]])])
    with pytest.raises(ValueError, match=r"^t: 1 strings for 2 elements$"):
        w.add("t", dtypes.BY_NAME["string"], (2,), [(None, [[b"x"]])])
    w.finish()
    got = tf_values(tf, str(tmp_path / "s"))["s"]
    assert got.tolist() == [b"a\x00\x00", "h\u00e9".encode(), b""]


def test_varint_refuses_negative_numbers():
    from app.formats.table_writer import varint
    assert varint(300) == b"\xac\x02"
    with pytest.raises(ValueError, match="^varints are unsigned$"):
        varint(-1)


def test_new_folders_that_cannot_be_made_leave_no_hidden_folder(tmp_path):
    prefix = tmp_path / "new" / ("d" * 300) / "m"  # the staging folder is made, the too-long name not
    with pytest.raises(WriteError) as e:
        staging.StagedCheckpoint(str(prefix))
    assert e.value.problem.startswith("cannot write: ")
    assert os.listdir(tmp_path) == []


def test_a_state_file_that_does_not_fit_is_a_write_error_and_leaves_nothing(tiny_tmpfs):
    staged = _stage_one(tiny_tmpfs / "m")
    fd = os.open(tiny_tmpfs / "filler", os.O_WRONLY | os.O_CREAT)  # fill what is left
    try:
        for _ in range(1000):
            os.write(fd, b"\0" * 1024)
    except OSError:
        pass
    finally:
        os.close(fd)
    with pytest.raises(WriteError) as e:
        staged.commit()
    assert e.value.path == os.path.join(os.path.dirname(staged.staged_prefix), "checkpoint")
    assert e.value.problem == "cannot write: No space left on device"
    assert os.listdir(tiny_tmpfs) == ["filler"]


# -- the writer's contract, called directly --------------------------------------------------

F32, STR = dtypes.BY_NAME["float32"], dtypes.BY_NAME["string"]


def _region(starts, lengths):
    from app.formats.reader import Region
    return Region(tuple(starts), tuple(lengths))


MISUSE = [   # (what a caller does wrong, the message)
    (lambda w: w.add("", F32, (1,), plain([np.zeros(1, np.float32)])), "key '' is empty or added twice"),
    (lambda w: [w.add("a", F32, (1,), plain([np.zeros(1, np.float32)])) for _ in range(2)],
     "key 'a' is empty or added twice"),
    (lambda w: w.add("v", dtypes.BY_NAME["variant"], (), plain([])), "tensors of dtype variant cannot be written"),
    (lambda w: w.add("a", F32, (1,), []), "a: no pieces"),
    (lambda w: w.add("a", F32, (1,), [(None, [np.zeros(1, np.float32)])] * 2), "a: a plain tensor is one piece"),
    (lambda w: w.add("a", F32, (2,), plain([np.zeros(2, np.float64)])), "a: a chunk of float64 for a float32 tensor"),
    (lambda w: w.add("a", F32, (2,), plain([np.zeros(3, np.float32)])), r"a: more elements than its shape \[2\] holds"),
    (lambda w: w.add("a", F32, (2, 1), plain([np.zeros(1, np.float32)])), r"a: 1 elements written for shape \[2, 1\]"),
    (lambda w: w.add("s", STR, (2,), plain([np.array([b"x"], object)])), "s: 1 strings for 2 elements"),
    (lambda w: w.add("p", F32, (4,), [(_region([0], [2]), [np.zeros(2, np.float32)]),
                                      (None, [np.zeros(2, np.float32)])]),
     "p: every slice needs a region of the tensor's rank"),
    (lambda w: w.add("p", F32, (4,), [(_region([0, 0], [2, 1]), [np.zeros(2, np.float32)])]),
     "p: every slice needs a region of the tensor's rank"),
    (lambda w: w.add("p", F32, (4,), [(_region([2], [2]), [np.zeros(2, np.float32)])] * 2),
     "p: two slices with the same extents"),
    (lambda w: (w.finish(), w.add("b", F32, (1,), plain([np.zeros(1, np.float32)]))), "the bundle is finished"),
]


@pytest.mark.parametrize("misuse, message", MISUSE)
def test_writer_refuses_misuse_saying_what(tmp_path, misuse, message):
    writer = BundleWriter(str(tmp_path / "w"))
    with pytest.raises(ValueError, match=f"^{message}$"):
        misuse(writer)
    writer.abort()
    assert os.listdir(tmp_path) == []


def test_shards_fill_to_the_byte_and_empty_tensors_take_no_shard_of_their_own(tmp_path):
    with pytest.raises(ValueError, match="^max_shard_bytes must be positive$"):
        BundleWriter(str(tmp_path / "x"), max_shard_bytes=0)
    prefix = str(tmp_path / "s")
    writer = BundleWriter(prefix, max_shard_bytes=8)          # 1 byte would do as well
    values = {"e": np.zeros(0, np.float32), "a": np.float32([1]), "b": np.float32([2]),
              "c": np.float32([3]), "big": np.arange(4, dtype=np.float32)}
    for key in ("e", "big", "a", "b", "c"):      # e: 0 bytes; big (16) joins its still-empty shard
        writer.add(key, F32, values[key].shape, plain([values[key]]))
    files = writer.finish()
    shards = sorted(f for f in files if ".data-" in f)
    assert [os.path.basename(f) for f in shards] == [f"s.data-0000{i}-of-00003" for i in range(3)]
    assert [os.path.getsize(f) for f in shards] == [16, 8, 4]   # e+big, a+b, c
    theirs = tf_values(tf, prefix)
    for key, value in values.items():
        assert_same(theirs[key], value, key)
    BundleWriter(str(tmp_path / "one"), max_shard_bytes=1).abort()


def test_big_endian_chunks_and_undecodable_keys_are_written_as_tensorflow_reads_them(tmp_path):
    prefix = str(tmp_path / "be")
    value = np.array([[1.5, -2.25], [3e-5, 7e7]], np.float32)
    key = "caf\udce9/w"                 # a name whose bytes are not UTF-8 (b"caf\xe9/w")
    writer = BundleWriter(prefix)
    writer.add(key, F32, value.shape, plain([value.astype(">f4").reshape(-1)]))
    writer.add("i", dtypes.BY_NAME["int64"], (2,), plain([np.array([1, -2], ">i8")]))
    writer.finish()
    theirs = tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=[b"caf\xe9/w", b"i"],
                                  shape_and_slices=["", ""], dtypes=[tf.float32, tf.int64])
    np.testing.assert_array_equal(theirs[0].numpy(), value)
    assert theirs[1].numpy().tolist() == [1, -2]
    ours = Bundle(prefix)
    assert set(ours.tensors) == {key, "i"}
    np.testing.assert_array_equal(ours.read(key), value)
    np.testing.assert_array_equal(ours.read("i"), [1, -2])
