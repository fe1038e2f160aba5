"""`main.py scalars RUN`: the curves a run logged, as TensorFlow's own reader sees them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from . import tf_fixtures as fx
from .conftest import ROOT
from .test_events import tf_scalars


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tf):
    root = tmp_path_factory.mktemp("scalars_cli")
    return {"tf2": fx.summaries_tf2(root / "tf2"), "tf1": fx.summaries_tf1(root / "tf1")}


def scalars(*args):
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "scalars", *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("which", ["tf2", "tf1"])
def test_json_has_every_point_tensorflow_reads(runs, which):
    run = runs[which]
    code, out, err = scalars(run.dir, "--json")
    assert code == 0, err
    got = {(s["run"], s["tag"]): s["points"] for s in json.loads(out)["series"]}
    want = tf_scalars(run.dir)
    assert set(got) == set(want)
    for key, (steps, walls, values) in want.items():
        assert [p["step"] for p in got[key]] == steps, key
        assert [p["wall_time"] for p in got[key]] == walls, key
        assert [p["value"] for p in got[key]] == values, key
    # Strings and non-scalar tensors are said, not hidden.
    if which == "tf2":
        assert "skipped" in err


def test_the_table_and_the_tag_filter(runs):
    index = sorted(runs["tf2"].dir.glob("ckpt-*.index"))[0]      # any file of the run names it
    code, out, _err = scalars(index, "--tag", "^loss$")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["tag", "run", "points"]
    assert sorted(line.split()[1] for line in lines[1:]) == ["eval", "train"]
    assert all(line.split()[0] == "loss" for line in lines[1:])


def test_a_folder_without_events_and_a_bad_regex_are_errors(tmp_path):
    assert scalars(tmp_path)[0] == 2 and "no event files" in scalars(tmp_path)[2]
    assert scalars(tmp_path / "nothing")[0] == 2
    code, _out, err = scalars(tmp_path, "--tag", "(")
    assert code == 2 and "regular expression" in err


def test_a_damaged_record_is_a_problem(runs, tmp_path):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(runs["tf1"].dir, run)
    events = sorted(run.glob("events.out.tfevents.*"))[0]
    data = bytearray(events.read_bytes())
    data[len(data) // 2] ^= 0x40
    events.write_bytes(bytes(data))
    code, out, err = scalars(run, "--json")
    assert code == 1 and "problem:" in err
    assert json.loads(out)["series"]
