"""Benchmark remote runs: reading a VGG-16 run in S3 by range vs downloading it first.

Usage, from the repository root (after `make_models.py --only vgg16`):

    .venv/bin/python tests/bench/bench_remote.py [--out tests/bench/out] [--latency 0.05]
        [--mbit 100] [--skip-big]

A moto S3 server on 127.0.0.1 holds `out/vgg16` twice (`model.ckpt-1` and a byte-identical
`model.ckpt-2`, for the diff); a throttling relay in front of it (tests/remote_servers.py)
adds `--latency` to every request and shares `--mbit` among all answers. Both sides of
every comparison go through that same relay with s3fs; the baseline is what a user does
without range reads: download the checkpoint files, then open them locally.

Rows: list the run + statistics of `vgg_16/conv1/conv1_1/weights`; statistics of
`vgg_16/fc6/weights` (411 MB: here the link is the limit, so the figure is MB/s against the
link's); diff of the two checkpoints; a second open (listing + the small tensor's
statistics) from the disk cache vs a local open. Bytes are what crossed the relay.

Known limits: moto's S3 server builds the whole object for every range request (its
_handle_range_header slices the full value), so many ranges of one 553 MB object cost it
far more than one whole download; the web-server row of fc6 shows the reader against a
server that reads only the range. A full run needs a few GB of memory for moto and about
10–15 minutes on a quiet 2-core machine; `--skip-big` keeps the first and last rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import subprocess  # noqa: E402

from tests.remote_servers import S3_ENV  # noqa: E402

SMALL = "vgg_16/conv1/conv1_1/weights"
BIG = "vgg_16/fc6/weights"


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


class Servers:
    """moto's S3 server and the throttling relay, in a child process (their work must not
    share this process's interpreter lock with the reader being measured)."""

    def __init__(self, latency: float, rate: float, web_folder: str):
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "remote_servers.py"),
                                      str(latency), str(rate), web_folder], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
        words = self.proc.stdout.readline().split()
        if not words or words[0] != "READY":
            raise SystemExit("the S3 server did not start")
        self.endpoint, self.url, self.web = words[1], words[2], words[3]

    @property
    def counted(self) -> int:
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


class Meter:
    """Seconds, bytes through the relay and requests made by the reader, for one step."""

    def __init__(self, proxy):
        self.proxy = proxy

    def __enter__(self):
        from app.formats import remote
        self.t = time.perf_counter()
        self.b = self.proxy.counted
        self.r = remote.counters["requests"]
        return self

    def __exit__(self, *exc):
        from app.formats import remote
        self.seconds = time.perf_counter() - self.t
        self.bytes = self.proxy.counted - self.b
        self.requests = remote.counters["requests"] - self.r


def fresh(cache_dir: str | None) -> None:
    """A new reader state (no listings, no connections) over `cache_dir`; the S3 client is
    made before the clock starts, as the baseline's is (its start-up is the SDK's, not the
    link's, and either way of working pays it once)."""
    from app.formats import remote
    if cache_dir is not None:
        os.environ["CKPT_BROWSER_CACHE_DIR"] = cache_dir
    remote.reset()
    remote.connect("s3://vgg/")


def lazy_small(url: str):
    from app.cli.common import tensor_statistics
    from app.formats.model import load_graphs, open_checkpoint, open_path
    model = open_path(url)
    load_graphs(model)
    reader = open_checkpoint(model.selected)
    return tensor_statistics(reader, SMALL, 64)[1]


def local_small(folder: str):
    return lazy_small(folder)


def stats_of(path: str, name: str):
    from app.cli.common import tensor_statistics
    from app.formats.model import open_checkpoint, open_path
    model = open_path(path)
    return tensor_statistics(open_checkpoint(model.selected), name, 64)[1]


def diff_of(a: str, b: str):
    from app.analysis import compare
    from app.cli.common import open_weights_at
    _, ra = open_weights_at(a, [], "to compare")
    _, rb = open_weights_at(b, [], "to compare")
    return compare.diff(ra, rb)


def download(fs, keys: list[str], dest: str) -> int:
    os.makedirs(dest, exist_ok=True)
    for k in keys:
        fs.get(k, os.path.join(dest, os.path.basename(k)))
    return sum(os.path.getsize(os.path.join(dest, os.path.basename(k))) for k in keys)


def _say(rows, row) -> None:
    rows.append(row)
    print("  " + _row(*row), flush=True)   # as it comes: a long run keeps what it measured


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "tests", "bench", "out"))
    p.add_argument("--latency", type=float, default=0.05, help="seconds added to each request")
    p.add_argument("--mbit", type=float, default=100.0, help="link bandwidth, Mbit/s")
    p.add_argument("--skip-big", action="store_true", help="leave out fc6 and the diff (slow)")
    args = p.parse_args(argv)
    vgg = os.path.join(args.out, "vgg16")
    if not os.path.isfile(os.path.join(vgg, "model.ckpt-1.index")):
        print(f"no VGG-16 checkpoint in {vgg}: run tests/bench/make_models.py --only vgg16")
        return 2
    rate = args.mbit * 1e6 / 8
    work = tempfile.mkdtemp(prefix="bench-remote-")
    rows = []
    try:
        servers = Servers(args.latency, rate, vgg)
        try:
            endpoint = servers.endpoint
            os.environ.update(S3_ENV, AWS_ENDPOINT_URL=endpoint)
            import s3fs
            setup = s3fs.S3FileSystem()
            setup.mkdir("vgg")
            files = sorted(os.listdir(vgg))
            for f in files:   # one PUT each (the test server's multipart uploads are flaky)
                with open(os.path.join(vgg, f), "rb") as fh:
                    data = fh.read()
                setup.pipe_file(f"vgg/run/{f}", data, chunksize=1 << 31)
                if f.startswith("model.ckpt-1."):   # a second checkpoint for the diff: same bytes
                    setup.pipe_file(f"vgg/run/{f.replace('ckpt-1.', 'ckpt-2.')}", data, chunksize=1 << 31)
                del data
            proxy = servers
            os.environ["AWS_ENDPOINT_URL"] = servers.url
            s3fs.S3FileSystem.clear_instance_cache()
            fs = s3fs.S3FileSystem()
            url = "s3://vgg/run/"
            sizes = {os.path.basename(d["name"]): d["size"] for d in fs.ls("vgg/run", detail=True)}
            small_need = sizes["model.ckpt-1.index"] + sizes["model.ckpt-1.meta"] + 3 * 3 * 3 * 64 * 4
            print(f"link: {args.mbit:g} Mbit/s, +{args.latency * 1000:g} ms per request; "
                  f"checkpoint {mb(sum(v for k, v in sizes.items() if 'ckpt-1' in k))}")

            # 1. list + small tensor statistics, by range vs download first
            fresh(os.path.join(work, "cache1"))
            with Meter(proxy) as lazy:
                s_lazy = lazy_small(url + "model.ckpt-2")
            keys = ["vgg/run/checkpoint"] + [f"vgg/run/{k}" for k in sizes if k.startswith("model.ckpt-2.")]
            with Meter(proxy) as dl:
                download(fs, keys, os.path.join(work, "dl1"))
                s_local = local_small(os.path.join(work, "dl1", "model.ckpt-2.index"))
            assert s_lazy.to_json() == s_local.to_json()
            _say(rows, ("list + stats of conv1_1/weights", lazy, dl))
            print(f"  bytes the job needs: {mb(small_need)} (index + .meta + the tensor)")

            if not args.skip_big:
                # 2. fc6 statistics by range, against the link's own speed
                with Meter(proxy) as big:
                    stats_of(url + "model.ckpt-2", BIG)
                _say(rows, ("stats of fc6/weights (411 MB), S3 server", big, None))
                print(f"  fc6 from S3: {mb(big.bytes / big.seconds)}/s through a {mb(rate)}/s link "
                      f"({big.bytes / big.seconds / rate:.0%} of it); the test S3 server builds the "
                      "whole object for every range request")
                # the same from a web server that reads just the range from disk
                fresh(os.path.join(work, "cache2"))
                with Meter(proxy) as web:
                    stats_of(servers.web + "/model.ckpt-1", BIG)
                _say(rows, ("stats of fc6/weights (411 MB), web server", web, None))
                print(f"  fc6 from a web server: {mb(web.bytes / web.seconds)}/s "
                      f"({web.bytes / web.seconds / rate:.0%} of the link)")
                # 3. diff of two checkpoints by range vs download both + diff
                fresh(os.path.join(work, "cache3"))
                with Meter(proxy) as rd:
                    diff_of(url + "model.ckpt-1", url + "model.ckpt-2")
                with Meter(proxy) as dd:
                    keys = [f"vgg/run/{k}" for k in sizes if k.startswith(("model.ckpt-1.", "model.ckpt-2."))]
                    download(fs, keys, os.path.join(work, "dl3"))
                    diff_of(os.path.join(work, "dl3", "model.ckpt-1"), os.path.join(work, "dl3", "model.ckpt-2"))
                _say(rows, ("diff of two checkpoints", rd, dd))
                shutil.rmtree(os.path.join(work, "dl3"), ignore_errors=True)

            # 4. second open from the cache vs a local open
            fresh(os.path.join(work, "cache1"))
            with Meter(proxy) as again:
                lazy_small(url + "model.ckpt-2")
            fresh(None)
            with Meter(proxy) as local:
                local_small(os.path.join(work, "dl1", "model.ckpt-2.index"))
            _say(rows, ("second open + stats (cache vs local)", again, local))
        finally:
            servers.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("| job | by range: s | MB | requests | baseline: s | MB | ratio (time) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(_row(*row))
    return 0


def _row(name, a, b) -> str:
    base = f"{b.seconds:.2f} | {b.bytes / 1e6:,.1f} | {a.seconds / b.seconds:.3f}" if b else "– | – | –"
    return f"| {name} | {a.seconds:.2f} | {a.bytes / 1e6:,.2f} | {a.requests} | {base} |"


if __name__ == "__main__":
    sys.exit(main())
