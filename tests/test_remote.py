"""Runs in object storage and on web servers: every command gives, on the URL, the output
it gives on a local copy; faults give clear errors, never bad data, never a hang."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat as stat_mode
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import crc32c
import numpy as np
import pytest

from .conftest import require, run_python

# before gcsfs is imported: its bucket-type probe speaks gRPC, which the emulator does not
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
tf = require("tensorflow")
require("s3fs")
require("moto")

from app.cli import main as cli_main  # noqa: E402
from app.formats import cache, remote  # noqa: E402
from app.formats.crc import mask_crc  # noqa: E402
from app.formats.errors import Cancelled, FormatError  # noqa: E402

from . import tf_fixtures as fx  # noqa: E402
from .remote_servers import S3_ENV, gcs_server, s3_server, serving, web_server  # noqa: E402


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


def test_a_fresh_listing_sees_what_was_written_since(s3):
    """A run still being written: asking again (fresh) shows the new file, though the
    storage SDK keeps listings of its own."""
    _, url = s3
    import s3fs
    writer = s3fs.S3FileSystem(skip_instance_cache=True)   # another client, as a trainer is
    before = remote.listing(f"{url}/logs", fresh=True)
    try:
        writer.pipe("runs/logs/late.txt", b"x" * 5)
        assert "late.txt" not in before
        after = remote.listing(f"{url}/logs", fresh=True)
        assert set(after) == set(before) | {"late.txt"} and after["late.txt"].size == 5
    finally:
        writer.rm("runs/logs/late.txt")
    assert "late.txt" not in remote.listing(f"{url}/logs", fresh=True)
    top = remote.listing(url, fresh=True)["cnn"]       # a folder: no size, whatever S3 says
    assert top.is_dir and top.size is None


def test_the_timeout_setting_and_its_default(monkeypatch):
    monkeypatch.delenv("CKPT_BROWSER_REMOTE_TIMEOUT", raising=False)
    assert remote.timeout() == 20.0
    monkeypatch.setenv("CKPT_BROWSER_REMOTE_TIMEOUT", "2.5")
    assert remote.timeout() == 2.5
    monkeypatch.setenv("CKPT_BROWSER_REMOTE_TIMEOUT", "soon")
    assert remote.timeout() == 20.0


def test_a_public_bucket_is_read_without_credentials(s3, monkeypatch, tmp_path):
    """No credentials anywhere: the SDK says so, and the read goes on anonymously."""
    copy, url = s3
    import s3fs
    s3fs.S3FileSystem(skip_instance_cache=True).chmod("runs/cnn/checkpoint", acl="public-read")
    for k in S3_ENV:
        monkeypatch.delenv(k)
    for k, v in {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
                 "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    remote.reset()
    try:
        want = (copy / "cnn" / "checkpoint").read_bytes()
        assert remote.read_range(f"{url}/cnn/checkpoint", 0, len(want)) == want
    finally:
        remote.reset()


@pytest.mark.parametrize("url, problem", [
    ("nosuchstore://b/f.index", "no filesystem knows nosuchstore:// URLs"),
    ("ckptabsent://b/f.index", "ckptabsent:// URLs need the optional package for it: install the "
                               "fsspec package that serves ckptabsent://"),
])
def test_a_scheme_without_a_filesystem_says_what_to_install(quiet_cache, url, problem):
    import fsspec
    # a scheme fsspec knows, served by a package that is not installed
    fsspec.register_implementation("ckptabsent", "ckpt_absent_package.FileSystem", clobber=True)
    with pytest.raises(FormatError) as err:
        remote.read_range(url, 0, 4)
    assert (err.value.path, err.value.problem) == (url.rsplit("/", 1)[0], problem)


def test_missing_package_names_the_extra():
    # In a process of its own: where gcsfs was imported once, fsspec keeps its class, so
    # hiding the module here would let the lookup reach out to the real service.
    code = ("import sys; sys.modules['gcsfs'] = None\n"
            "from app.cli import main\n"
            "sys.exit(main(['inspect', 'gs://bucket/run/']))")
    done = run_python(code)
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


def _seconds_to_cancel(body, start_after: float) -> float:
    """Run `body` in a thread under location.cancel_when, ask it to stop after
    `start_after` seconds, and return how long it took to end with Cancelled."""
    from app.formats import location
    stop = threading.Event()
    outcome = {}

    def work():
        try:
            with location.cancel_when(stop.is_set):
                body()
            outcome["result"] = "finished"
        except Cancelled:
            outcome["result"] = "cancelled"
            outcome["at"] = time.monotonic()
    t = threading.Thread(target=work)
    t.start()
    time.sleep(start_after)
    asked = time.monotonic()
    stop.set()
    t.join(timeout=5)
    assert outcome.get("result") == "cancelled"
    return outcome["at"] - asked


def test_cancel_stops_a_slow_fetch_within_a_second(web):
    from app.formats.model import open_checkpoint, open_path
    _, url, faults = web
    model = open_path(f"{url}/cnn/epoch-2.index")   # listing while the server is quick
    faults.latency = 1.5                            # every answer now takes 1.5 s (under the 2 s timeout)

    def reads():
        reader = open_checkpoint(model.selected)
        for _ in range(20):
            reader.read("dense/kernel")
            remote.reset()  # fetch again: each read waits on the slow server
    try:
        assert _seconds_to_cancel(reads, 0.5) < 1.0
    finally:
        faults.latency = 0.0


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


# -- byte-level contracts of remote.py and cache.py, on small hand-made files -------------
# Ranges checked and kept, heads and tails, whole local copies and mirrored folders, on
# servers that behave like real ones do: honouring Range or not, giving sizes or not.

def _crc(data: bytes) -> int:
    return mask_crc(crc32c.crc32c(data))


def _bytes(n: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


@pytest.fixture
def quiet_cache(tmp_path, monkeypatch):
    """A cache folder of its own, short timeouts and backoff, a fresh remote state."""
    monkeypatch.setenv("CKPT_BROWSER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CKPT_BROWSER_REMOTE_TIMEOUT", "2")
    monkeypatch.setattr(remote, "BACKOFF", 0.01)
    remote.reset()
    yield tmp_path
    cache.set_limit(None)
    remote.reset()


@pytest.fixture
def files_web(quiet_cache):
    """A web server (honouring Range, with faults) of a folder of small files."""
    root = quiet_cache / "served"
    root.mkdir()
    with web_server(root) as (url, faults):
        yield root, url, faults


class _PlainHandler(BaseHTTPRequestHandler):
    """Serves a folder as some real servers do: `honour_range` False sends the whole file
    (200) whatever was asked; `sized` False announces no length; the next `bad_next`
    answers have one byte flipped in their middle. `gets` counts GETs."""
    root = ""
    token = ""           # set: answers `refusal` to requests whose query string lacks it, and to
    refusal = 403        # folder pages (as a signature made for one file, or nginx without autoindex)
    pages = False        # folder pages as nginx writes them ("../" first, then the entries)
    honour_range = True
    sized = True
    bad_next = 0
    gets = 0

    def log_message(self, *args):
        pass

    def _path(self):
        """The file asked for; else None, the answer (refusal, folder page, 404) sent."""
        path = os.path.join(self.root, self.path.split("?")[0].lstrip("/"))
        if self.token and (self.token not in self.path.partition("?")[2] or os.path.isdir(path)):
            self.send_error(self.refusal)
            return None
        if self.pages and os.path.isdir(path):
            links = ['<a href="../">../</a>', '<a href="https://example.invalid/x.index">mirror</a>']
            links += [f'<a href="{n}/">{n}/</a>' if os.path.isdir(os.path.join(path, n)) else
                      f'<a href="{n}">{n}</a>' for n in sorted(os.listdir(path))]
            body = ("<html><body><pre>" + "\n".join(links) + "</pre></body></html>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)
            return None
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        return path

    def do_HEAD(self):
        path = self._path()
        if path is None:
            return
        self.send_response(200)
        if self.sized:
            self.send_header("Content-Length", str(os.path.getsize(path)))
        self.end_headers()

    def do_GET(self):
        path = self._path()
        if path is None:
            return
        cls = type(self)
        cls.gets += 1
        with open(path, "rb") as f:
            body = bytearray(f.read())
        status, rng = 200, self.headers.get("Range")
        if rng and self.honour_range:
            lo, _, hi = rng.removeprefix("bytes=").partition("-")
            body = body[int(lo): min(int(hi), len(body) - 1) + 1]
            status = 206
        if cls.bad_next > 0 and body:
            cls.bad_next -= 1
            body[len(body) // 2] ^= 0xFF
        self.send_response(status)
        if self.sized or status == 206:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(bytes(body))


@contextlib.contextmanager
def _plain_server(folder, **behaviour):
    handler = type("Handler", (_PlainHandler,), {"root": str(folder), **behaviour})
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield url, handler


def test_checked_ranges_are_kept_apart_and_reread_offline(files_web):
    root, url, faults = files_web
    a, b = _bytes(4096, 1), _bytes(4096, 2)   # same size, same (unknown) time
    (root / "a.bin").write_bytes(a)
    (root / "b.bin").write_bytes(b)
    wanted = [("a.bin", 100, 500), ("a.bin", 600, 500), ("a.bin", 100, 700), ("b.bin", 100, 500)]
    for name, off, size in wanted:
        before = faults.ranges
        want = (a if name == "a.bin" else b)[off:off + size]
        assert remote.read_range(f"{url}/{name}", off, size, _crc(want)) == want, (name, off, size)
        assert faults.ranges == before + 1, (name, off, size)   # good bytes: one request
    # bytes without a checksum to check them are never kept
    before = faults.ranges
    assert remote.read_range(f"{url}/a.bin", 0, 10) == a[:10]
    assert remote.read_range(f"{url}/a.bin", 0, 10) == a[:10]
    assert faults.ranges == before + 2
    # each checked range was kept under its own file, offset and size: all answer offline
    faults.drop_next = 10 ** 6
    for name, off, size in wanted:
        src = a if name == "a.bin" else b
        assert remote.read_range(f"{url}/{name}", off, size, _crc(src[off:off + size])) == \
            src[off:off + size], (name, off, size)
    assert faults.ranges == before + 2


def test_a_bad_answer_is_fetched_once_more_and_never_kept(quiet_cache):
    data = _bytes(8192, 3)
    (quiet_cache / "d.bin").write_bytes(data)
    with _plain_server(quiet_cache) as (url, server):
        want = data[1000:3000]
        server.bad_next = 1                       # the first answer is damaged on the way
        got = remote.read_range(f"{url}/d.bin", 1000, 2000, _crc(want))
        assert got == want and server.gets == 2 and server.bad_next == 0
        assert remote.read_range(f"{url}/d.bin", 1000, 2000, _crc(want)) == want
        assert server.gets == 2                   # the good second answer was kept
        want = data[5000:6000]
        server.bad_next = 2                       # damaged twice: handed on for the caller to report
        got = remote.read_range(f"{url}/d.bin", 5000, 1000, _crc(want))
        damaged = bytearray(want)
        damaged[500] ^= 0xFF
        assert got == bytes(damaged) and server.gets == 4
        assert remote.read_range(f"{url}/d.bin", 5000, 1000, _crc(want)) == want
        assert server.gets == 5                   # the bad bytes were not kept


def test_a_server_that_ignores_range_still_gives_the_asked_bytes(quiet_cache):
    data = _bytes(5000, 4)
    (quiet_cache / "w.bin").write_bytes(data)
    with _plain_server(quiet_cache, honour_range=False) as (url, server):
        u = f"{url}/w.bin"
        assert remote.read_head(u, 64) == data[:64]
        assert remote.read_tail(u, 64) == data[-64:]
        assert remote.read_range(u, 10, 100) == data[10:110]
        server.bad_next = 1
        # the flipped byte is the file's middle one, inside this range
        assert remote.read_range(u, 2400, 200, _crc(data[2400:2600])) == data[2400:2600]
        assert server.gets == 5 and server.bad_next == 0


def test_a_server_that_gives_no_sizes_still_gives_heads_and_tails(quiet_cache):
    data = _bytes(3000, 5)
    (quiet_cache / "u.bin").write_bytes(data)
    with _plain_server(quiet_cache, sized=False) as (url, _):
        u = f"{url}/u.bin"
        assert remote.stat(u).size is None       # what makes this case
        assert remote.read_tail(u, 40) == data[-40:]
        assert remote.read_head(u, 40) == data[:40]


def test_a_web_folder_page_lists_its_files_whatever_else_it_links(quiet_cache):
    run = quiet_cache / "run"
    (run / "sub").mkdir(parents=True)
    (run / "a.index").write_bytes(b"i" * 30)
    (run / "a.data").write_bytes(b"d" * 70)
    with _plain_server(quiet_cache, pages=True) as (url, _):
        found = remote.listing(f"{url}/run", fresh=True)
        assert sorted(found) == ["a.data", "a.index", "sub"]
        assert found["sub"].is_dir and not found["a.index"].is_dir
        assert remote.stat(f"{url}/run/a.data").size == 70


@pytest.mark.parametrize("refusal", [401, 403])
def test_a_signed_url_carries_its_query_to_the_file_and_its_neighbours(quiet_cache, refusal):
    a, b = _bytes(300, 6), _bytes(200, 7)
    (quiet_cache / "a.index").write_bytes(a)
    (quiet_cache / "a.data").write_bytes(b)
    with _plain_server(quiet_cache, token="sig=abc", refusal=refusal) as (url, _):
        opened = remote.register(f"{url}/a.index?sig=abc")   # as pasted: the file, signed
        assert opened == f"{url}/a.index"
        assert remote.read_range(opened, 10, 50) == a[10:60]
        assert remote.read_range(f"{url}/a.data", 0, 200) == b      # its neighbour too
        with pytest.raises(FormatError, match=rf"access denied \({refusal}\)"):   # elsewhere: not carried
            remote.read_range(f"{url}/other/a.data", 0, 10)


def test_heads_and_tails_ask_only_what_they_need(files_web):
    root, url, faults = files_web
    data = _bytes(1000, 6)
    (root / "f.bin").write_bytes(data)
    (root / "empty.bin").write_bytes(b"")
    f, empty = f"{url}/f.bin", f"{url}/empty.bin"
    assert remote.read_head(f, 5000) == data      # more than the file holds
    assert remote.read_tail(f, 5000) == data
    remote.counters.update(requests=0, bytes=0)
    assert remote.read_tail(f, 100) == data[-100:]
    assert remote.read_head(f, 100) == data[:100]
    assert remote.counters == {"requests": 2, "bytes": 200}   # the tail, the head, no more
    for n in (0, 10):
        assert remote.read_head(empty, n) == b"" and remote.read_tail(empty, n) == b""
    assert remote.read_head(f, 0) == b"" and remote.read_tail(f, 0) == b""
    assert remote.counters["requests"] == 2       # nothing to ask for: no request
    # a file read whole and confirmed answers heads and tails from the cache
    assert remote.read_whole(f, 1 << 20) == data
    remote.confirm(f)
    ranges = faults.ranges
    assert remote.read_tail(f, 10) == data[-10:]
    assert remote.read_head(f, 10) == data[:10]
    assert faults.ranges == ranges


def _mode(path) -> int:
    return stat_mode.S_IMODE(os.stat(path).st_mode)


def test_local_copy_reports_progress_and_is_reused_while_unchanged(files_web, monkeypatch):
    root, url, faults = files_web
    monkeypatch.setattr(remote, "PART_BYTES", 1 << 20)
    big = _bytes(3 << 20, 7)
    (root / "a").mkdir()
    (root / "b").mkdir()
    (root / "a" / "x.bin").write_bytes(big)
    (root / "b" / "x.bin").write_bytes(b"another file of the same name")
    (root / "empty.bin").write_bytes(b"")
    reports = []
    with remote.cancel_when(lambda: False, lambda fraction, text: reports.append((fraction, text))):
        path = remote.local_copy(f"{url}/a/x.bin")
    assert reports == [(k / 3, f"copying x.bin: {k} of 3 MB") for k in (1, 2, 3)]
    with open(path, "rb") as f:
        assert f.read() == big
    files = os.path.join(cache.folder(), "files")
    assert os.path.basename(path) == "x.bin" and os.path.dirname(os.path.dirname(path)) == files
    assert _mode(os.path.dirname(path)) == 0o700          # downloaded models stay private
    assert os.stat(path).st_mtime == remote.stat(f"{url}/a/x.bin").mtime
    assert sorted(os.listdir(os.path.dirname(path))) == ["x.bin"]   # no piece left over
    # the same name in another folder is another copy
    other = remote.local_copy(f"{url}/b/x.bin")
    assert other != path and open(other, "rb").read() == b"another file of the same name"
    assert open(remote.local_copy(f"{url}/empty.bin"), "rb").read() == b""
    # reused while the copy keeps the remote size and time…
    ranges = faults.ranges
    assert remote.local_copy(f"{url}/a/x.bin") == path and faults.ranges == ranges
    # …fetched anew when it does not: another size, or a time a millisecond off
    mtime = os.stat(path).st_mtime
    with open(path, "r+b") as f:
        f.truncate(100)
    os.utime(path, (mtime, mtime))
    assert open(remote.local_copy(f"{url}/a/x.bin"), "rb").read() == big
    for off in (0.5, 0.001):
        with open(path, "r+b") as f:
            f.write(b"\0" * 16)
        os.utime(path, (mtime + off, mtime + off))
        assert open(remote.local_copy(f"{url}/a/x.bin"), "rb").read() == big, off
    assert faults.ranges == ranges + 9


def test_local_copy_in_a_plain_thread_and_after_a_failure(files_web):
    root, url, faults = files_web
    data = _bytes(5000, 8)
    (root / "t.bin").write_bytes(data)
    (root / "cut.bin").write_bytes(data)
    done = {}

    def work():   # a thread that never entered cancel_when
        try:
            done["path"] = remote.local_copy(f"{url}/t.bin")
        except BaseException as e:
            done["error"] = e
    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert "error" not in done, done.get("error")
    assert open(done["path"], "rb").read() == data
    faults.truncate_next = -1     # every answer cut short: the copy fails
    with pytest.raises(FormatError) as err:
        remote.local_copy(f"{url}/cut.bin")
    assert f"{url}/cut.bin" in str(err.value)
    assert sorted(os.listdir(os.path.dirname(done["path"]))) == ["t.bin"]   # nothing half-written


def test_local_copy_from_s3_keeps_the_object_time(quiet_cache, monkeypatch):
    with s3_server() as endpoint:
        for k, v in {**S3_ENV, "AWS_ENDPOINT_URL": endpoint}.items():
            monkeypatch.setenv(k, v)
        import s3fs
        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        fs.mkdir("copies")
        fs.pipe("copies/run/w.bin", b"weights" * 100)
        remote.reset()
        url = "s3://copies/run/w.bin"
        path = remote.local_copy(url)
        mtime = remote.stat(url).mtime
        assert mtime > 0 and os.stat(path).st_mtime == pytest.approx(mtime, abs=1e-6)
        requests = remote.counters["requests"]
        assert remote.local_copy(url) == path and open(path, "rb").read() == b"weights" * 100
        assert remote.counters["requests"] == requests    # unchanged: the copy is reused


def test_mirror_copies_wanted_files_down_to_depth_skipping_hidden_folders(files_web):
    root, url, faults = files_web
    layout = {"run/a.txt": b"a", "run/skip.bin": b"s", "run/sub1/b.txt": b"b",
              "run/sub1/sub2/c.txt": b"c", "run/sub1/sub2/sub3/d.txt": b"d",
              "run/.hidden/e.txt": b"e", "other/f.txt": b"f"}
    for rel, data in layout.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    wanted = lambda name: name.endswith(".txt")   # noqa: E731
    local = remote.mirror(f"{url}/run", wanted, 2)
    found = {os.path.relpath(os.path.join(d, n), local): open(os.path.join(d, n), "rb").read()
             for d, _, names in os.walk(local) for n in names}
    assert found == {"a.txt": b"a", os.path.join("sub1", "b.txt"): b"b",
                     os.path.join("sub1", "sub2", "c.txt"): b"c"}
    assert os.path.dirname(local) == os.path.join(cache.folder(), "files")
    for d in (local, os.path.join(local, "sub1"), os.path.join(local, "sub1", "sub2")):
        assert _mode(d) == 0o700, d
    other = remote.mirror(f"{url}/other", wanted, 2)   # another folder: a tree of its own
    assert other != local and os.listdir(other) == ["f.txt"]
    ranges = faults.ranges
    assert remote.mirror(f"{url}/run", wanted, 2) == local and faults.ranges == ranges


def test_cache_usage_counts_every_file_and_a_zero_limit_empties_it(quiet_cache):
    cache.put("one", b"x")
    cache.put("two", b"yyyy")
    cache.put("three", b"zzzzzzzzz")
    assert cache.usage() == (14, 3)
    assert cache.get("one") == b"x"         # now the most recently used, and one byte
    cache.set_limit(0)
    assert cache.usage() == (0, 0)
    cache.put("four", b"w")                 # nothing is kept at a zero limit
    assert cache.usage() == (0, 0) and cache.get("four") is None


def test_cancel_is_noticed_within_a_tenth_of_a_second(files_web):
    root, url, faults = files_web
    (root / "slow.bin").write_bytes(b"slow" * 10)
    faults.latency = 1.5                    # under the 2 s timeout: only the cancel ends it
    try:
        assert _seconds_to_cancel(lambda: remote.read_range(f"{url}/slow.bin", 0, 10), 0.3) < 0.5
    finally:
        faults.latency = 0.0


def test_connect_asks_the_server_nothing(files_web):
    _, url, faults = files_web
    remote.connect(f"{url}/run/model.index")
    assert faults.requests == 0


def test_a_url_with_undecodable_bytes_is_a_clear_error(files_web):
    # a command line's bytes that are not UTF-8 arrive as lone surrogates
    _, url, _ = files_web
    local = remote.mirror(f"{url}/r\udcff", lambda name: True, 1)   # no such folder: nothing
    assert not os.path.exists(local)
    with pytest.raises(FormatError, match="not found"):
        remote.local_copy(f"{url}/r\udcff/x.index")


def test_cache_drops_least_recently_used_first_and_leaves_pieces_alone(quiet_cache):
    for i in range(5):
        cache.put(f"k{i}", bytes([i]) * 100)
        os.utime(cache.path_of(f"k{i}"), (1000 + i, 1000 + i))   # k0 the oldest
    piece = cache.new_file()                # being written: neither counted nor removed
    with open(piece, "wb") as f:
        f.write(b"p" * 700)
    runner = os.path.join(cache.folder(), "files")   # the runner's copies live below
    os.makedirs(runner)
    os.symlink(piece, os.path.join(cache.folder(), "elsewhere"))   # not the cache's: left alone
    with open(os.path.join(runner, "model.meta"), "wb") as f:
        f.write(b"m" * 900)
    assert cache.usage() == (500, 5)
    cache.set_limit(350)                    # two must go: the two oldest
    assert [cache.get(f"k{i}") is not None for i in range(5)] == [False, False, True, True, True]
    assert cache.usage() == (300, 3) and os.path.getsize(piece) == 700
    assert os.path.isfile(os.path.join(runner, "model.meta"))
    big = cache.new_file()                  # more than half the limit: dropped, not kept
    with open(big, "wb") as f:
        f.write(b"b" * 200)
    cache.commit(big, "big")
    assert not os.path.exists(big) and cache.get("big") is None and cache.usage() == (300, 3)
    cache.clear()
    assert cache.usage() == (0, 0) and os.path.getsize(piece) == 700


def test_cache_size_setting_bounds_and_pieces_being_written(quiet_cache, monkeypatch):
    monkeypatch.setenv("CKPT_BROWSER_CACHE_MB", "1.5")
    assert cache.limit() == 3 << 19                 # 1.5 MB, in bytes
    monkeypatch.delenv("CKPT_BROWSER_CACHE_MB")
    assert cache.limit() == cache.DEFAULT_LIMIT
    cache.set_limit(1000)                           # one entry may take half of it
    cache.put("half", b"h" * 500)
    cache.put("more", b"m" * 501)
    assert cache.get("half") == b"h" * 500 and cache.get("more") is None
    piece = cache.new_file()                        # a piece being written…
    assert os.path.dirname(piece) == cache.folder() and _mode(cache.folder()) == 0o700
    with open(piece, "wb") as f:
        f.write(b"p" * 500)
    assert cache.usage() == (500, 1)                # …is not counted until committed
    cache.commit(piece, "piece")
    assert cache.get("piece") == b"p" * 500 and cache.usage() == (1000, 2)


# -- file times as each storage reports them -----------------------------------------------

@contextlib.contextmanager
def _on_filesystem(monkeypatch, cache_dir, cls):
    """URLs of `cls.protocol` served by the fsspec filesystem `cls`, with a cache folder
    and remote state of their own."""
    import fsspec
    fsspec.register_implementation(cls.protocol, cls, clobber=True)
    monkeypatch.setenv("CKPT_BROWSER_CACHE_DIR", str(cache_dir))
    remote.reset()
    try:
        yield
    finally:
        remote.reset()


def _times_listing(monkeypatch, cache_dir, entries: list[dict]) -> dict[int, float]:
    """The times remote.listing gives for a folder whose filesystem lists `entries` (with
    the time keys S3, GCS, local files and web servers use): file number -> time."""
    import fsspec

    class Times(fsspec.AbstractFileSystem):
        protocol = "ckpttimes"

        def ls(self, path, detail=True, **kwargs):
            return [dict(e, name=f"{path.rstrip('/')}/f{i}", type="file", size=1)
                    for i, e in enumerate(entries)]
    with _on_filesystem(monkeypatch, cache_dir, Times):
        found = remote.listing("ckpttimes://bucket/run", fresh=True)
    return {int(name[1:]): e.mtime for name, e in found.items()}


def test_file_times_under_every_key_and_form(monkeypatch, tmp_path):
    from datetime import datetime, timedelta, timezone
    t = datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc)
    entries = [
        {"mtime": 1234.5},                                    # local, sftp: seconds
        {"LastModified": t},                                  # S3: a datetime
        {"updated": "2024-01-02T03:04:05.500000Z"},           # GCS: ISO text ending in Z
        {"last_modified": "2024-01-02T05:04:05.5+02:00"},     # web servers, with an offset
        {"last_commit": 99},                                  # an int
        {"mtime": "not a time", "updated": "2024-01-02T03:04:05.5Z"},   # a bad key: the next one
        {"mtime": None, "LastModified": 7.0},                 # an empty key: the next one
        {"mtime": 1.0, "LastModified": t},                    # the first key that has a time wins
        {"size_only": 3},                                     # none: no time
        {"LastModified": t + timedelta(hours=1)},
    ]
    got = _times_listing(monkeypatch, tmp_path / "cache", entries)
    ts = t.timestamp()
    assert got == {0: 1234.5, 1: ts, 2: ts, 3: ts, 4: 99.0, 5: ts, 6: 7.0, 7: 1.0, 8: 0.0,
                   9: ts + 3600}


# -- what each storage SDK's failure tells the user ----------------------------------------

class _ClientResponseError(Exception):
    """As aiohttp and the cloud SDKs fail on an HTTP status: `.status` holds it."""

    def __init__(self, status: int, text: str = ""):
        super().__init__(text or f"{status}, message='status {status}'")
        self.status = status


class HttpError(Exception):                 # gcsfs's: the status in `.code`
    def __init__(self, code: int):
        super().__init__(f"{code}: error")
        self.code = code


class HTTPStatusError(Exception):           # as requests-based SDKs give it: `.status_code`
    def __init__(self, status_code: int):
        super().__init__(f"status {status_code}")
        self.status_code = status_code


class PartialCredentialsError(Exception):   # named as botocore names it
    pass


class ReadTimeoutError(Exception):          # botocore's: no builtin TimeoutError
    pass


def _not_found_because(cause: BaseException) -> FileNotFoundError:
    """fsspec's web filesystem turns any failed HEAD into FileNotFoundError, from its cause."""
    try:
        raise FileNotFoundError("https://host/f") from cause
    except FileNotFoundError as e:
        return e


def _raised_from(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


DENIED = ("access denied (403): check your credentials (the storage SDK's environment "
          "variables or config files) or that the object is public")
FAULTS = [   # (what the filesystem raises, tries made, the message the user reads)
    (lambda: FileNotFoundError("no such key"), 1, "not found on the server (404): check the URL"),
    (lambda: _ClientResponseError(404), 1, "not found on the server (404): check the URL"),
    (lambda: _not_found_because(_ClientResponseError(404)), 1,
     "not found on the server (404): check the URL"),
    (lambda: _not_found_because(FileNotFoundError("gone")), 1,
     "not found on the server (404): check the URL"),
    (lambda: _not_found_because(ConnectionResetError("connection reset by peer")), 4,
     "cannot read (connection reset by peer): check the network and the address"),
    (lambda: _not_found_because(_ClientResponseError(403, "Forbidden")), 4, DENIED),
    (lambda: _not_found_because(ReadTimeoutError("read timed out")), 4,
     "no answer within 3.5 s: check the network or the address"),
    (lambda: _raised_from(_ClientResponseError(403), ConnectionResetError("reset")), 1, DENIED),
    (lambda: PermissionError("no"), 1, DENIED),
    (lambda: _ClientResponseError(401), 1, DENIED.replace("403", "401")),
    (lambda: _ClientResponseError(403), 1, DENIED),
    (lambda: PartialCredentialsError("key id without its secret"), 4,
     "no credentials found for this store: set them the SDK's usual way"),
    (lambda: ReadTimeoutError("read timed out"), 4,
     "no answer within 3.5 s: check the network or the address"),
    (lambda: TimeoutError(), 4,
     "no answer within 3.5 s: check the network or the address"),
    (lambda: _ClientResponseError(503, "503, message='Slow Down'\nrequest id 12"), 4,
     "cannot read (503, message='Slow Down'): check the network and the address"),
    (lambda: _ClientResponseError(429, "too many requests"), 4,
     "cannot read (too many requests): check the network and the address"),
    (lambda: HttpError(401), 1, DENIED.replace("403", "401")),
    (lambda: OSError("Forbidden: gruns/cnn/epoch-1.index\nno access"), 1, DENIED),   # gcsfs's 403
    (lambda: HTTPStatusError(404), 1, "not found on the server (404): check the URL"),
    (lambda: _ClientResponseError(408, "request timeout"), 4,
     "cannot read (request timeout): check the network and the address"),
    (lambda: _ClientResponseError(500, "internal error"), 4,
     "cannot read (internal error): check the network and the address"),
    (lambda: _ClientResponseError(499, "closed"), 1,
     "cannot read (closed): check the network and the address"),
    (lambda: _ClientResponseError(400, "bad request"), 1,
     "cannot read (bad request): check the network and the address"),
    (lambda: b"ab", 4, "cannot read (got 2 bytes where 4 were asked): check the network and the address"),
    (lambda: b"abcdef", 4,
     "cannot read (got 6 bytes where 4 were asked): check the network and the address"),
    (lambda: OSError("disk gone"), 4, "cannot read (disk gone): check the network and the address"),
    (lambda: ConnectionError("x" * 300 + "\nmore"), 4,      # the first line, cut at 200 characters
     f"cannot read ({'x' * 200}): check the network and the address"),
    (lambda: ConnectionAbortedError(), 4,
     "cannot read (ConnectionAbortedError): check the network and the address"),
]


@pytest.mark.parametrize("fault, tries, problem", FAULTS)
def test_each_kind_of_failure_has_its_own_message(monkeypatch, tmp_path, fault, tries, problem):
    """A file listed fine whose bytes fail as S3, GCS and web filesystems fail: the message
    says what to check, and only a failure that may pass is tried again."""
    import fsspec
    calls = []

    class Faulty(fsspec.AbstractFileSystem):
        protocol = "ckptfaulty"

        def ls(self, path, detail=True, **kwargs):
            return [{"name": f"{path.rstrip('/')}/f", "type": "file", "size": 10, "mtime": 1.0}]

        def cat_file(self, path, start=None, end=None, **kwargs):
            calls.append(path)
            answer = fault()
            if isinstance(answer, bytes):   # a server that sends too few or too many
                return answer
            raise answer
    monkeypatch.setenv("CKPT_BROWSER_REMOTE_TIMEOUT", "3.5")
    monkeypatch.setattr(remote, "BACKOFF", 0.0)
    with _on_filesystem(monkeypatch, tmp_path / "cache", Faulty), pytest.raises(FormatError) as err:
        remote.read_range("ckptfaulty://bucket/run/f", 0, 4)
    assert str(err.value) == f"ckptfaulty://bucket/run/f: {problem}"
    assert err.value.path == "ckptfaulty://bucket/run/f"
    assert len(calls) == tries


@contextlib.contextmanager
def _silent_server():
    """A loopback server that takes connections and reads requests, never answering;
    yields (its URL, the list of connections it took)."""
    import socket
    taken, stop = [], threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            taken.append(conn)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", taken
    finally:
        stop.set()
        thread.join(5)
        for conn in taken:
            conn.close()
        listener.close()


@pytest.mark.parametrize("scheme, setting, tries, within", [
    ("s3", "AWS_ENDPOINT_URL", remote.ATTEMPTS, 6 * remote.ATTEMPTS),
    ("s3a", "AWS_ENDPOINT_URL", remote.ATTEMPTS, 6 * remote.ATTEMPTS),
    # gcsfs's own six tries, with its backoff of 1, 2, 4, 8 and 16 s (and a second at random)
    pytest.param("gs", "STORAGE_EMULATOR_HOST", 6, 75, marks=pytest.mark.slow)])
def test_an_endpoint_that_never_answers_gives_up_after_our_tries(quiet_cache, monkeypatch, scheme, setting,
                                                                 tries, within):
    """An endpoint that takes connections and never answers: each try waits the configured
    timeout once, on one connection; S3's own 60 s and retries are replaced by ours, GCS
    (no timeout at all of its own) keeps its retries instead of ours."""
    if scheme == "gs":
        require("gcsfs")
    with _silent_server() as (endpoint, taken):
        for k, v in {**S3_ENV, setting: endpoint}.items():
            monkeypatch.setenv(k, v)
        remote.reset()
        remote.connect(f"{scheme}://bucket")     # the SDK's start-up, not timed
        t = time.monotonic()
        with pytest.raises(FormatError) as err:
            remote.read_range(f"{scheme}://bucket/run/model.index", 0, 4)
        took = time.monotonic() - t
    assert str(err.value) == (f"{scheme}://bucket/run: no answer within 2 s: check the network, the "
                              f"address or the endpoint ({setting})")
    assert len(taken) == tries and 2 * tries - 1 < took < within
