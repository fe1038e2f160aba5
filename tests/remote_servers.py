"""Servers on 127.0.0.1 for the remote-run tests and benchmark: moto's S3 server, and a
web server honouring Range whose faults a test switches on (latency, dropped connections,
short bodies, wrong bytes, 403)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@contextlib.contextmanager
def s3_server():
    """moto's S3 API on a free port; yields its endpoint URL (for AWS_ENDPOINT_URL)."""
    from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its buckets in the process: start empty, whatever ran before (or in the
    # process this one was forked from)
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"),
                           timeout=10).close()
    try:
        yield endpoint
    finally:
        server.stop()


class Faults:
    """What the web server does wrong now; tests set these between commands."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.latency = 0.0           # seconds before each answer
        self.drop_next = 0           # close the connection without an answer, this many times
        self.truncate_next = 0       # send half the body, this many times (or -1: always)
        self.corrupt = ""            # flip a byte in every ranged answer of paths holding this
        self.forbid_after = None     # answer 403 once this many requests were served
        self.requests = 0
        self.ranges = 0


class _Handler(SimpleHTTPRequestHandler):
    faults: Faults

    def log_message(self, *args):
        pass

    def _fault_gate(self) -> bool:
        f = self.faults
        f.requests += 1
        if f.latency:
            time.sleep(f.latency)
        if f.drop_next > 0:
            f.drop_next -= 1
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        if f.forbid_after is not None and f.requests > f.forbid_after:
            self.send_error(403, "Forbidden")
            return False
        return True

    def do_HEAD(self):
        if self._fault_gate():
            super().do_HEAD()

    def do_GET(self):
        if not self._fault_gate():
            return
        path = self.translate_path(self.path)
        rng = self.headers.get("Range")
        if os.path.isdir(path) or not rng or not os.path.isfile(path):
            return super().do_GET()
        self.faults.ranges += 1
        size = os.path.getsize(path)
        lo, _, hi = rng.removeprefix("bytes=").partition("-")
        start = int(lo)
        end = min(int(hi) if hi else size - 1, size - 1)
        with open(path, "rb") as fh:
            fh.seek(start)
            body = bytearray(fh.read(end - start + 1))
        if self.faults.corrupt and self.faults.corrupt in self.path and body:
            body[len(body) // 2] ^= 0xFF
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.faults.truncate_next:
            self.faults.truncate_next -= self.faults.truncate_next > 0
            self.wfile.write(bytes(body[: len(body) // 2]))
            self.close_connection = True
            return
        self.wfile.write(bytes(body))


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass   # connections the faults cut are expected, not worth a traceback


@contextlib.contextmanager
def web_server(folder):
    """A web server of `folder` on a free port, honouring Range; yields (base URL, Faults)."""
    faults = Faults()
    handler = type("Handler", (_Handler,), {"faults": faults})
    with serving(_QuietServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))) as url:
        yield url, faults


@contextlib.contextmanager
def serving(server):
    """An HTTP server bound to 127.0.0.1, served from a thread; yields its base URL."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def gcs_server(bucket: str):
    """A Cloud Storage emulator (gcp-storage-emulator) on a free port, with one bucket;
    yields its address for STORAGE_EMULATOR_HOST. gcsfs must be imported with
    GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false: its bucket-type probe speaks gRPC, which
    the emulator does not."""
    from gcp_storage_emulator.server import create_server
    logging.getLogger("gcp_storage_emulator").setLevel(logging.ERROR)
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class ThrottlingProxy:
    """A TCP relay on 127.0.0.1 in front of a server, standing in for a slow link: each
    chunk from the client is held `latency` seconds (so every request pays it), and the
    answers of all connections share `rate` bytes per second. `counted` is the bytes sent
    back. Runs its own asyncio loop in a thread; `stop()` ends it."""

    def __init__(self, upstream_port: int, latency: float = 0.05, rate: float = 12.5e6):
        import asyncio
        self.upstream_port, self.latency, self.rate = upstream_port, latency, rate
        self.counted = 0
        self._free_at = 0.0
        self._loop = asyncio.new_event_loop()
        self.port = free_port()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self, ready):
        import asyncio
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port))
        ready.set()
        self._loop.run_forever()

    async def _client(self, reader, writer):
        import asyncio
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer, up=True),
                             self._pipe(up_reader, writer, up=False), return_exceptions=True)

    async def _pipe(self, reader, writer, up: bool):
        import asyncio
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await reader.read(64 << 10)
                if not data:
                    break
                if up:
                    await asyncio.sleep(self.latency)
                else:
                    now = loop.time()
                    start = max(now, self._free_at)
                    self._free_at = start + len(data) / self.rate
                    await asyncio.sleep(self._free_at - now)
                    self.counted += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    def stop(self):
        def end():
            self._server.close()
            self._loop.stop()
        self._loop.call_soon_threadsafe(end)
        self._thread.join(5)


def _serve_throttled_s3(latency: float, rate: float, web_folder: str) -> None:
    """Child-process entry for the benchmark: moto's S3 server behind a ThrottlingProxy,
    and a web server of `web_folder` behind another, away from the measured process's
    interpreter lock. Prints `READY <s3 server> <s3 relay> <web relay>`; each `count` line
    on stdin answers with the bytes both relays sent back; EOF ends it."""
    import sys
    with s3_server() as endpoint, web_server(web_folder) as (web, _):
        proxy = ThrottlingProxy(int(endpoint.rsplit(":", 1)[1]), latency, rate)
        web_proxy = ThrottlingProxy(int(web.rsplit(":", 1)[1]), latency, rate)
        print("READY", endpoint, proxy.url, web_proxy.url, flush=True)
        for line in sys.stdin:
            if line.strip() == "count":
                print(proxy.counted + web_proxy.counted, flush=True)
        proxy.stop()
        web_proxy.stop()


if __name__ == "__main__":
    import sys
    _serve_throttled_s3(float(sys.argv[1]), float(sys.argv[2]), sys.argv[3])
