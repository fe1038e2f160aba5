"""Mutation testing on demand: one target (a few modules and the tests meant to catch
their mutants) at a time, in a scratch copy of the project, with its score.

    python tests/bench/mutation.py TARGET [--survivors] [--fresh] [--jobs 2]
    python tests/bench/mutation.py --list          # the targets and their last scores
    python tests/bench/mutation.py --all           # every target, one after the other

Each target gets its own scratch folder (`--work`, default under the temporary folder) with
a copy of the project whose `[tool.mutmut]` names only that target: mutmut's first pass (it
runs the target's tests once to learn which test reaches which function) stays bounded,
targets can run side by side, and nothing is written into the checkout. A later run reuses
what it knows and tests only mutants it has no result for; `--survivors` tests the survivors
again (after tests were added) with those that timed out, `--fresh` starts over.

TensorFlow-written fixtures are made once per run of the fixture module's source and reused
by every mutant (`CHECKPOINT_BROWSER_FIXTURE_CACHE`), otherwise each mutant would train them
again.

The score counts killed mutants over all mutants, less the ones listed in
`mutation_equivalent.txt` beside this file: mutants that change nothing a caller can see,
each with why.

mutmut is installed beside the project, not into it (its own pytest must not replace the
project's): `--mutmut-path DIR` or `$MUTMUT_PATH` (default /tmp/mmlib), see README.md.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).with_name("mutation_equivalent.txt")

# target -> (what is mutated, the tests meant to catch it)
TARGETS: dict[str, tuple[list[str], list[str]]] = {
    "feeds": (["app/runner/feeds.py"], ["tests/test_feeds.py", "tests/test_feeds_edges.py"]),
    # test_runner.py (real sessions, worker processes) also covers it, but would run for
    # minutes per mutant of the walk: the walk's own tests on hand-built graphs stand in
    "graphwalk": (["app/runner/graphwalk.py"], ["tests/test_graphwalk.py", "tests/test_unsafe_ops.py"]),
    "bundle": ([f"app/formats/{m}.py" for m in ("bundle", "table", "crc", "ordered_code", "v1", "tensors",
                                                 "reader", "errors", "files")],
               ["tests/test_bundle_format.py", "tests/test_readers.py", "tests/test_bad_input.py",
                "tests/test_reader_interface.py"]),
    "run": ([f"app/formats/{m}.py" for m in ("run", "objectgraph", "model", "saver_graph", "signatures",
                                              "live", "mounts", "location", "urls")],
            # test_live.py trains TensorFlow for minutes and test_params.py trains Keras in
            # its tests: too slow to run per mutant; test_live_logic.py drives live.py's rules
            ["tests/test_run_folder.py", "tests/test_run_discovery.py", "tests/test_mounts.py",
             "tests/test_objectgraph.py", "tests/test_model_open.py", "tests/test_live_logic.py",
             "tests/test_saver_graph.py", "tests/test_locations.py", "tests/test_run_urls.py"]),
    "graph": ([f"app/formats/{m}.py" for m in ("graph", "functions", "attrs", "protos", "keras_layers")]
              + ["app/analysis/function_tree.py", "app/analysis/graph_io.py"],
              ["tests/test_graph_parse.py", "tests/test_functions.py", "tests/test_graph_io.py",
               "tests/test_keras_layers.py"]),
    "numbers": ([f"app/analysis/{m}.py" for m in ("stats", "streaming", "compare", "trend_growth", "params",
                                                  "verify", "export", "outputs", "curves", "progress", "loading")],
                ["tests/test_stats_values.py", "tests/test_stats_chunks.py", "tests/test_compare.py",
                 "tests/test_trend_growth.py", "tests/test_params.py", "tests/test_outputs.py",
                 "tests/test_verify_export.py", "tests/test_loading.py"]),
    "writers": ([f"app/formats/{m}.py" for m in ("bundle_writer", "table_writer", "staging")]
                + ["app/analysis/edit.py"],
                ["tests/test_edit_inprocess.py", "tests/test_bundle_writer.py", "tests/test_edit_ops.py"]),
    "events": (["app/formats/events.py", "app/formats/event_files.py", "app/analysis/logged.py"],
               ["tests/test_events_edges.py", "tests/test_events.py", "tests/test_logged.py"]),
    "keras": (["app/formats/keras.py"], ["tests/test_keras_files.py", "tests/test_keras_archive.py",
                                          "tests/test_keras_listing.py", "tests/test_keras_reading.py"]),
    "remote": (["app/formats/remote.py", "app/formats/cache.py"], ["tests/test_remote.py", "tests/test_run_urls.py"]),
    "dtypes": (["app/formats/dtypes.py", "app/formats/display.py"], ["tests/test_display.py"]),
}


def scratch_copy(target: str, work: Path) -> Path:
    """The project copied into work/target (changed files only), configured for the target."""
    sources, tests = TARGETS[target]
    dest = work / target
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "out", "*.pyc")
    for name in ("app", "tests", "resources"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore, dirs_exist_ok=True)
    shutil.copy2(ROOT / "main.py", dest / "main.py")
    shared = ROOT.parent / "shared"            # the tests look for it beside the copy's mutants/
    if shared.is_dir() and not (dest / "shared").exists():
        (dest / "shared").symlink_to(shared)
    # Tests marked tf_session hang in a forked mutant (see README.md): left out where a
    # target's tests hold any (only there: a changed selection makes mutmut forget results)
    markers = "not slow"
    if any("pytest.mark.tf_session" in (ROOT / t).read_text() for t in tests):
        markers += " and not tf_session"
    project = (ROOT / "pyproject.toml").read_text()
    project = project.split("\n[tool.mutmut]")[0].rstrip() + "\n\n" + "\n".join([
        "[tool.mutmut]",
        f"source_paths = {json.dumps(sources)}",
        'also_copy = ["app", "tests", "main.py", "resources"]',
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        f"pytest_add_cli_args = {json.dumps(['-p', 'no:cacheprovider', '-q', '-m', markers])}",
        "use_git_change_detection = false",
        # mutmut stops a mutant after (its tests' time + constant) x multiplier seconds on the
        # clock (twice that in CPU seconds). Its constant of 1 s ends slow runs on a loaded
        # machine as if the mutant looped; its multiplier of 15 lets a mutant that waits on a
        # socket (remote's tests, 50 s) hang for 13 minutes before it is stopped.
        "timeout_constant = 5.0",
        "timeout_multiplier = 3.0",
        "",
    ])
    (dest / "pyproject.toml").write_text(project)
    return dest


def equivalent_names() -> set[str]:
    names = set()
    if EQUIVALENT.exists():
        for line in EQUIVALENT.read_text().splitlines():
            name = line.split("#")[0].strip()
            if name:
                names.add(name)
    return names


def results(dest: Path) -> dict[str, str]:
    """Mutant name -> killed / survived / timeout / no tests / …, from mutmut's files."""
    # mutmut's exit codes (mutmut/stats.py); anything else it calls suspicious
    status_by_code = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
                      2: "interrupted", 34: "skipped", 35: "suspicious", 36: "timeout", -24: "timeout",
                      24: "timeout", 152: "timeout", 255: "timeout", -11: "segfault", -9: "segfault",
                      37: "caught by type check"}
    out: dict[str, str] = {}
    for meta in (dest / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        for name, code in data.get("exit_code_by_key", {}).items():
            out[name] = "not checked" if code is None else status_by_code.get(code, "suspicious")
    return out


def score(status: dict[str, str]) -> tuple[int, int, int, float]:
    """(caught, counted, equivalent, score in %) of a target's mutants; caught means killed."""
    equivalent = equivalent_names() & {n for n, s in status.items() if s == "survived"}
    counted = len(status) - len(equivalent)
    # A timeout is no proof the mutant was caught: TensorFlow run in a test body hangs in
    # mutmut's forked process, and a busy machine makes slow runs look like loops.
    caught = sum(1 for n, s in status.items() if s in ("killed", "segfault") and n not in equivalent)
    return caught, counted, len(equivalent), 100.0 * caught / counted if counted else 0.0


def run_target(target: str, args) -> dict[str, str]:
    dest = scratch_copy(target, args.work)
    if args.fresh:
        shutil.rmtree(dest / "mutants", ignore_errors=True)
    # mutmut learns which tests reach which function once per test name: a test that was
    # changed to reach a new function would never be run against its mutants ("no tests").
    # Learning it all again costs one run of the target's tests.
    (dest / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               CHECKPOINT_BROWSER_FIXTURE_CACHE=str(args.work / "fixtures"),
               PYTHONPATH=os.pathsep.join(p for p in (args.mutmut_path, os.environ.get("PYTHONPATH")) if p))
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs)]
    if args.survivors:
        # timeouts too: a run that was only slow (a busy machine) is no kill
        survivors = sorted(n for n, s in results(dest).items() if s in ("survived", "no tests", "timeout"))
        if not survivors:
            print(f"{target}: no survivors to test again")
            return results(dest)
        command += survivors
    started = time.monotonic()
    done = subprocess.run(command, cwd=dest, env=env, check=False,
                          stdout=None if args.verbose else subprocess.DEVNULL)
    status = results(dest)
    if done.returncode:     # e.g. the clean run of the tests failed: no score to give
        print(f"{target}: mutmut stopped with exit {done.returncode}; --verbose shows why")
        return status
    caught, counted, equivalent, pct = score(status)
    timeouts = sum(1 for v in status.values() if v == "timeout")
    print(f"{target}: {len(status)} mutants, {caught} caught, {timeouts} timed out, {equivalent} "
          f"equivalent, score {pct:.1f}% ({time.monotonic() - started:.0f} s)")
    return status


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", help=f"one or more of: {', '.join(TARGETS)}")
    ap.add_argument("--all", action="store_true", help="every target, one after the other")
    ap.add_argument("--list", action="store_true", help="the targets and their last scores")
    ap.add_argument("--survivors", action="store_true",
                    help="test the surviving and timed-out mutants again")
    ap.add_argument("--fresh", action="store_true", help="forget earlier results")
    ap.add_argument("--show", metavar="GLOB", help="the last run's surviving mutants matching GLOB, as diffs")
    ap.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "checkpoint-browser-mutation")
    ap.add_argument("--mutmut-path", default=os.environ.get("MUTMUT_PATH", "/tmp/mmlib"))
    ap.add_argument("--verbose", action="store_true", help="mutmut's own output")
    args = ap.parse_args(argv)
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        ap.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    targets = list(TARGETS) if args.all or ((args.list or args.show) and not args.targets) else args.targets
    if not targets:
        ap.error("name a target, or --all, or --list")
    totals = [0, 0]
    for target in targets:
        dest = args.work / target
        if args.list or args.show:
            status = results(dest) if (dest / "mutants").is_dir() else {}
            if args.show:
                listed = equivalent_names()
                survivors = [n for n, s in status.items() if s == "survived"
                             and n not in listed and fnmatch.fnmatch(n, args.show)]
                env = dict(os.environ, PYTHONPATH=args.mutmut_path)
                for name in sorted(survivors):
                    subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=dest, env=env, check=False)
                continue
            caught, counted, equivalent, pct = score(status)
            sources = ", ".join(TARGETS[target][0])
            unchecked = sum(1 for v in status.values() if v == "not checked")
            timeouts = sum(1 for v in status.values() if v == "timeout")
            print(f"{target:10} {pct:5.1f}%  {caught:5} of {counted:5} ({timeouts} timed out, {equivalent} "
                  f"equivalent, {unchecked} not checked yet)  {sources}"
                  if status else f"{target:10}   not run  {sources}")
        else:
            status = run_target(target, args)
            caught, counted, _, _ = score(status)
        totals[0] += caught
        totals[1] += counted
    if len(targets) > 1 and totals[1] and not args.show:
        print(f"all: {totals[0]} of {totals[1]} caught, {100.0 * totals[0] / totals[1]:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
