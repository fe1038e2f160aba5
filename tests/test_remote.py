"""Runs in object storage and on web servers: every command gives, on the URL, the output
it gives on a local copy; faults give clear errors, never bad data, never a hang."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from .conftest import ROOT, require

# before gcsfs is imported: its bucket-type probe speaks gRPC, which the emulator does not
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
tf = require("tensorflow")
require("s3fs")
require("moto")

from app.cli import main as cli_main  # noqa: E402
from app.formats import cache, remote  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402
from .remote_servers import S3_ENV, gcs_server, s3_server, web_server  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("remote_runs")
    cnn = fx.cnn_epochs(base / "cnn", epochs=3)
    dtypes = fx.all_dtypes(base / "dtypes")
    logs = fx.summaries_tf2(base / "logs")
    for made in (cnn, dtypes, logs):   # a mutation run's fixture cache builds them elsewhere
        if made.dir != base / made.dir.name:
            shutil.copytree(made.dir, base / made.dir.name, copy_function=shutil.copy2)
    return base, cnn, dtypes


@pytest.fixture(scope="module")
def s3(runs, tmp_path_factory):
    """A bucket holding the runs, and a local copy made from it (with the objects' times,
    as a sync tool keeps them)."""
    base, cnn, dtypes = runs
    with pytest.MonkeyPatch.context() as env, s3_server() as endpoint:   # env restored after
        for k, v in {**S3_ENV, "AWS_ENDPOINT_URL": endpoint,
                     "CKPT_BROWSER_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}.items():
            env.setenv(k, v)
        remote.reset()
        import s3fs
        fs = s3fs.S3FileSystem()
        fs.mkdir("runs")
        fs.put(str(base) + "/", "runs/", recursive=True)
        copy = tmp_path_factory.mktemp("copy")
        fs.get("runs/", str(copy) + "/", recursive=True)
        for d in fs.find("runs", detail=True).values():
            local = copy / d["name"][len("runs/"):]
            t = d["LastModified"].timestamp()
            os.utime(local, (t, t))
        remote.reset()
        try:
            yield copy, "s3://runs"
        finally:
            remote.reset()


def run_cli(capsys, *args):
    code = cli_main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


COMMANDS = [
    ("inspect", "{cnn}"),
    ("inspect", "{cnn}", "--json"),
    ("inspect", "{cnn}/epoch-1.index"),
    ("inspect", "{cnn}/epoch-2"),
    ("inspect", "{dtypes}"),
    ("stats", "{cnn}", "conv/kernel"),
    ("stats", "{cnn}@1", "dense/kernel", "--json"),
    ("verify", "{cnn}"),
    ("verify", "{dtypes}"),
    ("diff", "{cnn}@0", "{cnn}@2"),
    ("diff", "{cnn}@0", "{cnn}@2", "--json"),
    ("trend", "{cnn}", "dense/kernel"),
    ("trend", "{cnn}", "conv/bias", "--json"),
    ("watch", "{cnn}", "--timeout", "0", "--interval", "0.1"),
    ("scalars", "{logs}"),
    ("scalars", "{logs}", "--json"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c).replace("{", "").replace("}", ""))
def test_every_command_same_on_s3_as_on_local_copy(s3, capsys, command):
    copy, url = s3
    local = [a.format(cnn=copy / "cnn", dtypes=copy / "dtypes", logs=copy / "logs") for a in command]
    far = [a.format(cnn=f"{url}/cnn", dtypes=f"{url}/dtypes", logs=f"{url}/logs") for a in command]
    want = run_cli(capsys, *local)
    got = run_cli(capsys, *far)
    assert got[0] == want[0], got[2]
    text = [s.replace(f"{url}/", str(copy) + "/") for s in got[1:]]
    assert text[0] == want[1]
    assert text[1] == want[2]


def test_dump_same_bytes(s3, capsys, tmp_path):
    copy, url = s3
    # the folder holds three unrelated checkpoints, and the copy's times have whole seconds:
    # which is "latest" depends on the clock, so the test names the one it dumps
    local = run_cli(capsys, "dump", copy / "dtypes" / "dtypes.index", "-o", tmp_path / "a")
    assert local[0] == 0, local[2]
    far = run_cli(capsys, "dump", f"{url}/dtypes/dtypes.index", "-o", tmp_path / "b")
    assert far[0] == 0, far[2]
    a, b = np.load(tmp_path / "a.npz", allow_pickle=True), np.load(tmp_path / "b.npz", allow_pickle=True)
    assert sorted(a.files) == sorted(b.files) and len(a.files) > 5
    for k in a.files:
        assert a[k].dtype == b[k].dtype, k
        if a[k].dtype == object:
            assert a[k].tolist() == b[k].tolist(), k
        else:
            assert a[k].tobytes() == b[k].tobytes(), k


def test_listing_is_lazy_and_second_look_is_cached(s3, capsys):
    _, url = s3
    remote.counters.update(requests=0, bytes=0)
    assert run_cli(capsys, "inspect", f"{url}/cnn")[0] == 0
    data = sum(os.path.getsize(p) for p in (s3[0] / "cnn").glob("*.data-*"))
    assert remote.counters["bytes"] < data   # listing read indexes and the graph, no tensor bytes
    assert run_cli(capsys, "stats", f"{url}/cnn", "dense/kernel")[0] == 0
    before = dict(remote.counters)
    assert run_cli(capsys, "stats", f"{url}/cnn", "dense/kernel")[0] == 0
    assert remote.counters["bytes"] == before["bytes"]   # the range came from the cache


def test_missing_package_names_the_extra():
    # In a process of its own: where gcsfs was imported once, fsspec keeps its class, so
    # hiding the module here would let the lookup reach out to the real service.
    code = ("import sys; sys.modules['gcsfs'] = None\n"
            "from app.cli import main\n"
            "sys.exit(main(['inspect', 'gs://bucket/run/']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert re.search(r"gs://bucket/run.*gcsfs.*checkpoint-browser\[gcs\]", done.stderr), done.stderr
    assert "Traceback" not in done.stderr


# -- a web server honouring Range, with faults ---------------------------------------------

@pytest.fixture
def web(runs, tmp_path, monkeypatch):
    base = runs[0]
    monkeypatch.setenv("CKPT_BROWSER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CKPT_BROWSER_REMOTE_TIMEOUT", "2")
    monkeypatch.setattr(remote, "BACKOFF", 0.05)
    remote.reset()
    with web_server(base) as (url, faults):
        yield base, url, faults
    remote.reset()


def test_http_index_url_and_folder_match_local(web, capsys):
    base, url, _ = web
    for local, far in [(base / "cnn" / "epoch-2.index", f"{url}/cnn/epoch-2.index"),
                       (base / "cnn", f"{url}/cnn/")]:
        want = run_cli(capsys, "inspect", local)
        got = run_cli(capsys, "inspect", far)
        assert got[0] == want[0] == 0, got[2]
        # fsspec's web filesystem gives no Last-Modified: times show as '-'
        dated = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "-", want[1])
        assert got[1].replace(f"{url}/", str(base) + "/") == dated
    want = run_cli(capsys, "stats", base / "cnn", "conv/kernel")
    got = run_cli(capsys, "stats", f"{url}/cnn/", "conv/kernel")
    assert got[:2] == want[:2]


def test_wrong_bytes_are_caught_and_never_cached(web, capsys):
    base, url, faults = web
    faults.corrupt = ".data-"
    code, out, err = run_cli(capsys, "stats", f"{url}/cnn/epoch-2.index", "dense/kernel")
    assert code == 2 and "crc32c" in err and f"{url}/cnn/epoch-2.data-00000-of-00001" in err
    assert "mean" not in out
    faults.corrupt = ""
    ranges = faults.ranges
    code, out, err = run_cli(capsys, "stats", f"{url}/cnn/epoch-2.index", "dense/kernel")
    assert code == 0 and faults.ranges > ranges   # fetched anew: the bad bytes were not kept
    ranges = faults.ranges
    assert run_cli(capsys, "stats", f"{url}/cnn/epoch-2.index", "dense/kernel")[0] == 0
    assert faults.ranges == ranges                # the good ones were


def test_dropped_connection_and_short_body_are_retried(web, capsys):
    base, url, faults = web
    want = run_cli(capsys, "stats", base / "cnn", "dense/kernel")
    faults.drop_next = 2
    faults.truncate_next = 1
    got = run_cli(capsys, "stats", f"{url}/cnn/", "dense/kernel")
    assert got[:2] == want[:2], got[2]
    assert faults.drop_next == 0 and faults.truncate_next == 0


def test_always_short_body_is_a_clear_error(web, capsys):
    _, url, faults = web
    assert run_cli(capsys, "inspect", f"{url}/cnn/")[0] == 0
    faults.truncate_next = -1
    code, out, err = run_cli(capsys, "stats", f"{url}/cnn/", "dense/kernel")
    assert code == 2 and f"{url}/cnn/epoch-2.data-00000-of-00001" in err and "cannot read" in err


def test_forbidden_mid_run_names_url_without_secret(web, capsys):
    _, url, faults = web
    secret = "X-Amz-Signature=0123456789abcdef"
    faults.forbid_after = 4
    code, out, err = run_cli(capsys, "stats", f"{url}/cnn/epoch-2.index?{secret}", "dense/kernel")
    assert code == 2 and "403" in err and f"{url}/cnn/" in err
    assert "0123456789abcdef" not in err + out


def test_slow_server_times_out_instead_of_hanging(web, capsys):
    _, url, faults = web
    faults.latency = 5.0    # longer than the 2 s timeout set for these tests
    t = time.monotonic()
    code, out, err = run_cli(capsys, "inspect", f"{url}/cnn/epoch-2.index")
    assert code == 2 and "no answer within 2 s" in err and url in err
    assert time.monotonic() - t < 60   # bounded: attempts × timeout, not forever
    faults.latency = 0.0


def test_cache_is_bounded_and_clears(web, capsys, monkeypatch):
    _, url, _ = web
    assert run_cli(capsys, "verify", f"{url}/cnn/")[0] == 0
    used, files = cache.usage()
    assert used > 0 and files > 0
    cache.set_limit(used // 3)
    try:
        assert cache.usage()[0] <= used // 3
    finally:
        cache.set_limit(None)
    cache.clear()
    assert cache.usage() == (0, 0)


def test_corrupt_index_is_reported_and_not_kept(web, capsys):
    _, url, faults = web
    faults.corrupt = ".index"
    code, out, err = run_cli(capsys, "inspect", f"{url}/cnn/epoch-2.index")
    assert code == 2 and "checksum" in err and f"{url}/cnn/epoch-2.index" in err
    faults.corrupt = ""
    code, out, err = run_cli(capsys, "inspect", f"{url}/cnn/epoch-2.index")
    assert code == 0, err    # read anew, not answered from a cache of bad bytes


def test_cancel_stops_a_slow_fetch_within_a_second(web):
    import threading
    from app.formats import location
    from app.formats.errors import Cancelled
    from app.formats.model import open_path
    _, url, faults = web
    model = open_path(f"{url}/cnn/epoch-2.index")   # listing while the server is quick
    faults.latency = 1.5                            # every answer now takes 1.5 s (under the 2 s timeout)
    stop = threading.Event()
    outcome = {}

    def work():
        try:
            with location.cancel_when(stop.is_set):
                from app.formats.model import open_checkpoint
                reader = open_checkpoint(model.selected)
                for _ in range(20):
                    reader.read("dense/kernel")
                    remote.reset()  # fetch again: each read waits on the slow server
            outcome["result"] = "finished"
        except Cancelled:
            outcome["result"] = "cancelled"
            outcome["at"] = time.monotonic()
    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.5)
    asked = time.monotonic()
    stop.set()
    t.join(timeout=5)
    faults.latency = 0.0
    assert outcome.get("result") == "cancelled"
    assert outcome["at"] - asked < 1.0


@pytest.fixture(scope="module")
def gcs(runs, tmp_path_factory):
    require("gcsfs")
    require("gcp_storage_emulator")
    base = runs[0]
    with pytest.MonkeyPatch.context() as env, gcs_server("gruns") as host:   # env restored after
        env.setenv("STORAGE_EMULATOR_HOST", host)
        env.setenv("CKPT_BROWSER_CACHE_DIR", str(tmp_path_factory.mktemp("gcache")))
        remote.reset()
        import gcsfs
        fs = gcsfs.GCSFileSystem(token="anon")
        fs.put(str(base / "cnn") + "/", "gruns/cnn/", recursive=True)
        copy = tmp_path_factory.mktemp("gcopy")
        fs.get("gruns/cnn/", str(copy / "cnn") + "/", recursive=True)
        for d in fs.find("gruns/cnn", detail=True).values():
            t = d["mtime"].timestamp()
            os.utime(copy / d["name"][len("gruns/"):], (t, t))
        remote.reset()
        try:
            yield copy, "gs://gruns"
        finally:
            remote.reset()


@pytest.mark.parametrize("command", [("inspect", "{cnn}"), ("stats", "{cnn}", "dense/kernel"),
                                     ("diff", "{cnn}@0", "{cnn}@2"), ("verify", "{cnn}")],
                         ids=lambda c: c[0])
def test_commands_same_on_gcs_emulator(gcs, capsys, command):
    copy, url = gcs
    want = run_cli(capsys, *[a.format(cnn=copy / "cnn") for a in command])
    got = run_cli(capsys, *[a.format(cnn=f"{url}/cnn") for a in command])
    assert got[0] == want[0], got[2]
    assert got[1].replace(f"{url}/", str(copy) + "/") == want[1]
    assert got[2].replace(f"{url}/", str(copy) + "/") == want[2]


@pytest.mark.tf_session
def test_run_on_a_remote_model_uses_local_copies_of_its_files(s3, capsys):
    copy, url = s3
    args = ["run", None, "--fetch", "dense/bias:0", "--json"]
    args[1] = copy / "cnn"
    want = run_cli(capsys, *args)
    args[1] = f"{url}/cnn"
    got = run_cli(capsys, *args)
    assert got[0] == want[0] == 0, got[2]
    # the same values (the rest of the output holds timings)
    assert [r["fetches"] for r in json.loads(got[1])["results"]] == \
        [r["fetches"] for r in json.loads(want[1])["results"]]
    files = os.path.join(cache.folder(), "files")
    names = sorted(n for d in os.listdir(files) for n in os.listdir(os.path.join(files, d)))
    assert "epoch-2.index" in names and "epoch-0.meta" in names
    assert "epoch-1.index" not in names          # exactly the files of the checkpoint run


def test_a_run_opened_once_reopens_offline(web, capsys):
    _, url, faults = web
    want = run_cli(capsys, "stats", f"{url}/cnn/", "dense/kernel")
    assert want[0] == 0
    remote.reset()                  # a new session…
    faults.drop_next = 10 ** 6      # …with the server unreachable
    got = run_cli(capsys, "stats", f"{url}/cnn/", "dense/kernel")
    assert got == want
    code, out, err = run_cli(capsys, "stats", f"{url}/cnn/", "conv/bias")   # never fetched
    assert code == 2 and "cannot read" in err and url in err
