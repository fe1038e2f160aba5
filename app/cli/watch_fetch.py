"""`watch --run-fetch`: evaluate tensors on each checkpoint as it lands, as `run` would.

The graph is read and checked once (names, feeds, unsafe ops), from the first checkpoint
whose `.meta` is there: a TF1 `Saver` writes the `.meta` last, after the checkpoint is
complete, and writes the same graph each time, so a checkpoint whose own `.meta` is not
there yet is restored into that graph. TensorFlow is imported by the session, in this
process, on the first run (as `run` does), never before a checkpoint lands.
"""

from __future__ import annotations

import os
import time

from ..formats.errors import FormatError
from ..runner import service
from ..runner.session import RunError, RunRequest, Session, plan
from .common import UsageError
from .run import fetches_json, parse_feeds

META_WAIT = 3.0     # seconds to wait for the first checkpoint's .meta


class FetchRunner:
    def __init__(self, folder: str, fetches: list[str], feeds: list[str], allow_unsafe: bool = False):
        if len(set(fetches)) != len(fetches):
            raise UsageError("a fetch is named twice")
        self.folder = folder
        self.fetches = list(fetches)
        self.typed = parse_feeds(feeds)        # bad feeds are a usage error before any wait
        self.allow_unsafe = allow_unsafe
        self.feeds = None                      # checked against the graph, once it is read
        self.graph_path: str | None = None
        self.session: Session | None = None

    def _prepare(self, prefix: str) -> None:
        """Read and check the graph once; UsageError for what no checkpoint will change."""
        deadline = time.monotonic() + META_WAIT
        while not os.path.exists(prefix + ".meta") and time.monotonic() < deadline:
            time.sleep(0.02)          # a TF1 Saver writes the .meta just after the checkpoint
        try:
            pl = plan(self.folder, prefix)
            needs = service.analyze(pl.graph, self.fetches, fed=self.typed, kind=pl.kind, restores=pl.restores)
            feeds = needs.check(self.typed)
        except RunError as e:
            raise UsageError(str(e)) from None
        unfed = needs.unfed(feeds)
        if unfed:
            raise UsageError(f"missing feed for placeholder {unfed[0].describe()}; "
                             f"give --feed {unfed[0].op}=VALUE")
        if needs.unsafe and not self.allow_unsafe:
            raise UsageError("refusing to run: ops on the way reach outside the session ("
                             + ", ".join(str(u) for u in needs.unsafe[:3])
                             + "); run them anyway with --allow-unsafe-ops, if you trust this graph")
        self.kind, self.graph_path, self.feeds = pl.kind, pl.graph_path, feeds

    def _graph_for(self, prefix: str) -> str:
        """The checkpoint's own .meta; else (not written yet) the graph read first, or, if
        max_to_keep deleted that one, another checkpoint's of the same run."""
        for path in (prefix + ".meta", self.graph_path):
            if os.path.exists(path):
                return path
        try:
            metas = sorted(n for n in os.listdir(self.folder) if n.endswith(".meta"))
        except OSError:
            metas = []
        return os.path.join(self.folder, metas[-1]) if metas else self.graph_path

    def warm(self) -> None:
        """Import TensorFlow now (seconds), so that runs keep up with training."""
        self.session = Session()
        self.session.warm()

    def run(self, prefix: str, step: int | None) -> dict:
        """{"fetches": {NAME: value as `run --json` gives it}} or {"problem": why}."""
        if self.graph_path is None:
            try:
                self._prepare(prefix)
            except FormatError as e:
                return {"problem": f"no graph to run yet: {e}"}
        graph = self._graph_for(prefix)
        request = RunRequest(graph, self.kind, self.fetches, dict(self.feeds), prefix, step,
                             allow_unsafe=self.allow_unsafe)
        if self.session is None:
            self.session = Session()
        outcome = service.run_requests([request], self.session.run)
        if outcome.error is not None:
            return {"problem": str(outcome.error)}
        run = outcome.runs[0]
        if run.error is not None:
            return {"problem": str(run.error)}
        return {"fetches": fetches_json(run.fetches)}

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
