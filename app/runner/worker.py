"""The session in a process of its own, so that any run can be cancelled.

TensorFlow cannot be interrupted inside `Session.run` (a big while loop or a long matmul
chain runs in C++ until it is done), so the session lives in a worker process started
with multiprocessing's "spawn" context; cancelling kills that process, and the next run
starts a fresh one. Between runs the worker stays alive with its graph imported and its
checkpoint restored, so a second run costs what `sess.run` costs.

Use from a thread that may block (a QThread or a pool thread, never the UI thread):

    client = RunnerClient(on_status=print)   # status texts: "importing TensorFlow", ...
    client.start()                           # optional: spawn now and import TF early
    result = client.run(request)             # RunResult, or raises RunError / Cancelled
    client.cancel()                          # from any thread: ends a run in progress
    client.close()

Messages over the pipe, parent → worker: ("warm", id), ("run", id, RunRequest),
("prepare", id, RunRequest), ("freeze", id, FreezeRequest), ("close",). Worker → parent: ("status", id, text),
("ready", id, None), ("result", id, RunResult | None), ("error", id, RunError).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import wait

from .session import RunError, RunRequest, RunResult, StatusCallback


class Cancelled(RunError):
    """The run was cancelled (or timed out) and its worker process ended."""

    def __init__(self, message: str = "cancelled", kind: str = "cancelled",
                 name: str | None = None, ops: list[str] | None = None):
        super().__init__(message, kind, name, ops)


# -- the worker process ----------------------------------------------------------------

def _die_with_parent() -> None:
    """Linux: have the kernel end this process when the parent dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(conn, config: dict | None) -> None:
    """The loop of the worker process: one request at a time, in order."""
    _die_with_parent()
    # A Ctrl+C in the terminal reaches the whole process group; the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .session import Session

    current = [0]

    def send(message) -> bool:
        try:
            conn.send(message)
            return True
        except (OSError, ValueError):  # the parent is gone
            return False

    session = Session(status=lambda text: send(("status", current[0], text)), config=config)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        command = message[0]
        if command == "close":
            break
        current[0] = rid = message[1]
        try:
            if command == "warm":
                session.warm()
                reply = ("ready", rid, None)
            elif command == "run":
                reply = ("result", rid, session.run(message[2]))
            elif command == "freeze":
                reply = ("result", rid, session.freeze(message[2]))
            elif command == "prepare":
                session.prepare(message[2])
                reply = ("result", rid, None)
            else:
                reply = ("error", rid, RunError(f"unknown command {command!r}", "worker"))
        except RunError as e:
            reply = ("error", rid, e)
        except MemoryError:
            reply = ("error", rid, RunError("not enough memory for this run", "op"))
        except Exception as e:  # a bug of ours, reported rather than ending the worker
            reply = ("error", rid, RunError(f"unexpected {type(e).__name__}: {e}", "worker"))
        try:
            conn.send(reply)
        except (OSError, ValueError):
            break
        except Exception as e:  # a result that does not pickle
            send(("error", rid, RunError(f"the result cannot be sent back: {e}", "worker")))
    session.close()


# -- the client ------------------------------------------------------------------------

class RunnerClient:
    """The handle on one worker process. `run` blocks (call it from a worker thread);
    `cancel` and `close` may be called from any thread. Runs are serialized."""

    def __init__(self, on_status: StatusCallback | None = None, config: dict | None = None):
        self.on_status = on_status
        self.config = config
        self.status = ""              # the latest status text
        self.starts = 0               # worker processes started so far
        self._ids = itertools.count(1)
        self._run_lock = threading.Lock()     # one run at a time
        self._state = threading.Lock()        # guards the fields below
        self._proc = None
        self._conn = None
        self._tf_ready = False
        self._running: int | None = None
        self._cancelled = False

    # -- life cycle ------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        proc = self._proc
        return proc is not None and proc.is_alive()

    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, warm: bool = True) -> None:
        """Start the worker unless it runs; with `warm`, it imports TensorFlow right away
        (a run sent meanwhile waits for that import, not for a second one)."""
        with self._state:
            if self._proc is not None and self._proc.is_alive():
                return
            self._reap_locked()
            ctx = multiprocessing.get_context("spawn")
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(child, self.config),
                               name="ckpt-browser-runner", daemon=True)
            proc.start()
            child.close()
            self._proc, self._conn, self._tf_ready = proc, parent, False
            self.starts += 1
            if warm:
                parent.send(("warm", 0))

    def close(self, timeout: float = 5.0) -> None:
        """End the worker: politely when idle, by killing it when a run is in progress."""
        self.cancel()
        with self._state:
            proc, conn = self._proc, self._conn
            if proc is None:
                return
            try:
                conn.send(("close",))
            except (OSError, ValueError):
                pass
        proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout)
        with self._state:
            self._reap_locked()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def cancel(self) -> bool:
        """End the run in progress by killing the worker; its `run` raises Cancelled. The
        next run starts a new worker. Returns whether there was a run to cancel."""
        with self._state:
            if self._running is None or self._proc is None:
                return False
            self._cancelled = True
            proc = self._proc
        proc.kill()
        return True

    def _reap_locked(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        if self._proc is not None and not self._proc.is_alive():
            self._proc.join(0)  # reap it (another thread may still hold the object)
        self._proc = self._conn = None
        self._tf_ready = False

    # -- requests --------------------------------------------------------------------

    def run(self, request: RunRequest, on_status: StatusCallback | None = None,
            timeout: float | None = None) -> RunResult:
        """Run `request` in the worker. Raises RunError (the session's errors, or kind
        "worker" when the process died), or Cancelled."""
        return self._call("run", request, on_status, timeout)

    def prepare(self, request: RunRequest, on_status: StatusCallback | None = None,
                timeout: float | None = None) -> None:
        """Import the graph and restore the checkpoint of `request`, running nothing."""
        self._call("prepare", request, on_status, timeout)

    def freeze(self, request, on_status: StatusCallback | None = None,
               timeout: float | None = None):
        """Freeze in the worker (`Session.freeze`): writes `request.partial`, returns a
        FreezeResult. Use app.runner.service.freeze, which puts the file into place."""
        return self._call("freeze", request, on_status, timeout)

    def _say(self, text: str, on_status) -> None:
        if text == self.status:
            return
        self.status = text
        callback = on_status or self.on_status
        if callback is not None:
            callback(text)

    def _call(self, command: str, request: RunRequest, on_status, timeout):
        with self._run_lock:
            self.start(warm=False)
            rid = next(self._ids)
            with self._state:
                proc, conn = self._proc, self._conn
                self._running, self._cancelled = rid, False
            try:
                self.status = ""
                self._drain(conn)
                if not self._tf_ready:
                    self._say("importing TensorFlow", on_status)
                try:
                    conn.send((command, rid, request))
                except (OSError, ValueError):
                    return self._died(proc)
                return self._wait(rid, proc, conn, on_status, timeout)
            except KeyboardInterrupt:  # the caller gives up on the reply: end the run too
                proc.kill()
                proc.join()
                raise
            finally:
                with self._state:
                    self._running = None
                    if self._proc is proc and not proc.is_alive():
                        self._reap_locked()

    def _drain(self, conn) -> None:
        """Messages left from the warm-up: only whether TensorFlow is in matters."""
        try:
            while conn.poll(0):
                kind, *_rest = conn.recv()
                if kind == "ready":
                    self._tf_ready = True
        except (EOFError, OSError):
            pass

    def _wait(self, rid, proc, conn, on_status, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait([conn, proc.sentinel], left)
            if not ready:
                self.cancel()
                proc.join()
                raise Cancelled(f"the run took longer than {timeout:g} s and was stopped")
            if conn in ready or conn.poll(0):
                try:
                    kind, mid, payload = conn.recv()
                except (EOFError, OSError):
                    return self._died(proc)
                if kind == "ready":
                    self._tf_ready = True
                elif kind == "status":
                    self._say(payload, on_status)
                elif mid == rid and kind == "result":
                    self._tf_ready = True
                    return payload
                elif mid == rid and kind == "error":
                    self._tf_ready = True
                    raise payload
                continue
            return self._died(proc)

    def _died(self, proc):
        proc.join(5)
        if self._cancelled:
            raise Cancelled("cancelled; the worker was stopped")
        code = proc.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        raise RunError(f"the worker process ended unexpectedly ({how}); the next run starts "
                       f"a new one", "worker")
