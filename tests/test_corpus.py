"""Every variant of the broken-input corpus (tests/corpus): the commands fail with a short
message naming the file, or succeed on what is still good; never a traceback or an
unexpected error; corrupt bundles are always caught by `verify`; nothing is written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.cli import main as cli_main

from .conftest import ROOT
from .corpus.generate import generate

SAMPLE = ROOT / "resources" / "sample_run"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    src = tmp_path_factory.mktemp("corpus_src")
    for f in SAMPLE.glob("epoch-5.*"):
        (src / f.name).write_bytes(f.read_bytes())
    (src / "epoch-5.meta").write_bytes((SAMPLE / "epoch-0.meta").read_bytes())
    (src / "checkpoint").write_text('model_checkpoint_path: "epoch-5"\n')
    return generate(src, tmp_path_factory.mktemp("corpus"))


def run(capsys, *argv) -> tuple[int, str]:
    code = cli_main([str(a) for a in argv])
    captured = capsys.readouterr()
    # verify reports on stdout (CORRUPT lines), the other commands on stderr
    return code, captured.err + (captured.out if argv[0] == "verify" else "")


def snapshot(folder):
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in folder.iterdir()}


def test_corpus_is_large(corpus):
    assert len(corpus) > 200


def test_every_variant_fails_cleanly_or_reads(corpus, capsys, tmp_path):
    failures = []
    for v in corpus:
        before = snapshot(v.folder) if not (v.folder / "epoch-5.data-00000-of-00001").is_fifo() else None
        for argv in (("inspect", v.folder, "--json"), ("stats", v.folder, "conv/kernel"),
                     ("dump", v.folder, "-o", tmp_path / "out"), ("verify", v.folder),
                     ("diff", SAMPLE / "epoch-5", v.folder)):
            code, err = run(capsys, *argv)
            # diff reads the tensors both sides share: the lie-* indexes hold other keys
            missed = argv[0] == "diff" and v.bundle_damaged and not v.name.startswith("lie-")
            if code not in (0, 1, 2) or (missed and code == 0):
                failures.append(f"{v.name} {argv[0]}: exit {code}: {err.strip()}")
            elif code and ("Traceback" in err or len(err.splitlines()) > 40
                           or not any(part in err for part in (v.folder.name, "epoch-5", "checkpoint",
                                                               "conv/kernel"))):
                failures.append(f"{v.name} {argv[0]}: unclear message: {err.strip()[:300]}")
        if v.bundle_damaged:
            code, err = run(capsys, "verify", v.folder)
            if code == 0:
                failures.append(f"{v.name}: corruption not caught by verify")
        if before is not None and snapshot(v.folder) != before:
            failures.append(f"{v.name}: the folder changed")
    assert not failures, "\n".join(failures[:40])


@pytest.mark.parametrize("name", ["lie-shape-2^40x2^40", "shard-fifo", "meta-deep-nesting",
                                  "footer-self", "lie-string-length-overflow"])
def test_hostile_variants_in_a_fresh_process(corpus, name):
    v = next(v for v in corpus if v.name == name)
    for argv in (("inspect", v.folder), ("verify", v.folder)):
        # the timeout only guards against a hang; it asserts nothing about speed
        proc = subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, argv)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode in (0, 1, 2) and "Traceback" not in proc.stderr, proc.stderr
