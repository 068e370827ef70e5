"""`estimate --jobs N`: a run's plugins side by side, as update-all's parallel orchestrator runs
them. The total wall time is the makespan of each joint draw replayed through its schedule,
peak memory the largest sum running together; before a run only."""

from __future__ import annotations

import json
import math
import random
import shutil
import statistics
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.conftest import invoke
from tests.records import cached
from update_estimate.fitting.stretch import choose
from update_estimate.history import simulate
from update_estimate.record import Stretch, from_json
from update_estimate.serving import makespan
from update_estimate.serving.predictive import Predictive

RUNS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]


def fixed(value: float) -> Predictive:
    """A plugin that always takes `value`: every past run's error was zero."""
    n = len(RUNS)
    return Predictive(math.log1p(value), [0.0] * n, [False] * n, list(RUNS), n, "m", "model")


def test_side_by_side_the_longest_plugin_sets_the_wall_time() -> None:
    per_metric = {
        makespan.WALL: {"a": fixed(100.0), "b": fixed(60.0), "c": fixed(30.0)},
        makespan.MEMORY: {"a": fixed(1e9), "b": fixed(5e8), "c": fixed(2e8)},
        makespan.DOWNLOAD: {"a": fixed(0.0), "b": fixed(0.0), "c": fixed(0.0)},
    }
    shares = {p: makespan.ALL_EXECUTE for p in "abc"}
    plugins = ["a", "b", "c"]
    two = makespan.totals(
        plugins, per_metric, makespan.replays(plugins, per_metric, shares, 2), 0.9
    )
    one = makespan.totals(
        plugins, per_metric, makespan.replays(plugins, per_metric, shares, 1), 0.9
    )
    assert two[makespan.WALL].point == pytest.approx(100.0)  # c runs after b, beside a
    assert one[makespan.WALL].point == pytest.approx(190.0)
    assert two[makespan.MEMORY].point == pytest.approx(1.5e9)  # a and b together
    assert one[makespan.MEMORY].point == pytest.approx(1e9)
    assert two[makespan.WALL].model == "makespan"


def test_phase_shares_need_every_phase() -> None:
    phases = {"CHECK": fixed(10.0), "DOWNLOAD": fixed(30.0), "EXECUTE": fixed(60.0)}
    assert makespan.phase_shares(phases) == pytest.approx(
        {"CHECK": 0.1, "DOWNLOAD": 0.3, "EXECUTE": 0.6}, rel=1e-3
    )
    assert makespan.phase_shares({"CHECK": fixed(10.0)}) == makespan.ALL_EXECUTE


@pytest.fixture(scope="module")
def parallel_cache(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("jobs")
    db, cache = folder / "h.duckdb", folder / "cache"
    plugins = ("apt", "flatpak", "snap", "pip")
    simulate.write(simulate.generate(plugins, 30, 2, jobs=4), db)
    assert invoke(CliRunner(), "-q", "train", "--db", db, "--cache-dir", cache).exit_code == 0
    return db, cache


def _total(runner, db: Path, cache: Path, *extra: str) -> dict:
    args = ["estimate", "--db", db, "--cache-dir", cache, "--json", "--at", "2026-11-21 09:00"]
    result = invoke(runner, *args, *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_estimate_jobs_answers_the_makespan(runner, parallel_cache: tuple[Path, Path]) -> None:
    db, cache = parallel_cache
    one, four = _total(runner, db, cache), _total(runner, db, cache, "--jobs", "4")
    wall = [d["total"]["metrics"]["wall_clock_seconds"] for d in (one, four)]
    memory = [d["total"]["metrics"]["memory_peak_bytes"] for d in (one, four)]
    assert four["total"]["jobs"] == 4 and one["total"]["jobs"] == 1
    # side by side is shorter than the plugins' sum, and near what the history's runs took
    # (the orchestrator's setting up included)
    with duckdb.connect(str(db), read_only=True) as con:
        (took,) = con.execute("SELECT MEDIAN(epoch(end_time - start_time)) FROM runs").fetchone()
    assert wall[1]["point"] < wall[0]["point"] and abs(wall[1]["point"] - took) < 0.2 * took
    assert memory[1]["point"] > memory[0]["point"]  # plugins' memory adds up side by side
    for plugin in four["plugins"]:
        own = plugin["metrics"]["wall_clock_seconds"]
        assert wall[1]["point"] >= own["point"] and wall[1]["upper"] >= own["upper"]
    cpu = [d["total"]["metrics"]["cpu_seconds"] for d in (one, four)]
    assert cpu[0] == cpu[1]  # CPU and downloads add up however the plugins are placed


def test_a_parallel_history_answered_one_at_a_time_says_so(
    runner, parallel_cache: tuple[Path, Path]
) -> None:
    db, cache = parallel_cache
    base = ["estimate", "--db", db, "--cache-dir", cache, "--at", "2026-11-21 09:00"]
    one = invoke(runner, *base)
    assert one.exit_code == 0 and "side by side" in one.stderr and "--jobs N" in one.stderr
    assert invoke(runner, *base, "--jobs", "4").stderr == ""
    assert invoke(runner, *base, "--plugins", "apt").stderr == ""  # one plugin: nothing to say


def test_jobs_during_a_run_is_a_usage_error(runner, parallel_cache: tuple[Path, Path]) -> None:
    db, cache = parallel_cache
    args = ["estimate", "--db", db, "--cache-dir", cache, "--plugins", "apt", "snap"]
    result = invoke(runner, *args, "--jobs", "4", "--done", "apt")
    assert result.exit_code == 2
    assert "--jobs" in result.stderr and "Traceback" not in result.stderr


def _two() -> tuple[dict, dict]:
    """Two plugins, a (100 s, 1 GB) and b (60 s, 500 MB), all in EXECUTE, downloading nothing."""
    per_metric = {
        makespan.WALL: {"a": fixed(100.0), "b": fixed(60.0)},
        makespan.MEMORY: {"a": fixed(1e9), "b": fixed(5e8)},
        makespan.DOWNLOAD: {"a": fixed(0.0), "b": fixed(0.0)},
    }
    return per_metric, {p: makespan.ALL_EXECUTE for p in "ab"}


def test_a_shared_lock_takes_plugins_one_at_a_time() -> None:
    per_metric, shares = _two()
    locks = {"a": {"EXECUTE": ("disk",)}, "b": {"EXECUTE": ("disk",)}}
    free_runs = makespan.replays(["a", "b"], per_metric, shares, 2)
    free = makespan.totals(["a", "b"], per_metric, free_runs, 0.9)
    held_runs = makespan.replays(["a", "b"], per_metric, shares, 2, locks)
    held = makespan.totals(["a", "b"], per_metric, held_runs, 0.9)
    assert free[makespan.WALL].point == pytest.approx(100.0)
    assert held[makespan.WALL].point == pytest.approx(160.0)


def test_mutexes_from_a_file(runner, parallel_cache: tuple[Path, Path], tmp_path: Path) -> None:
    db, cache = parallel_cache
    every = {phase: ["disk:one"] for phase in ("CHECK", "DOWNLOAD", "EXECUTE")}
    locks = tmp_path / "locks.json"
    locks.write_text(json.dumps({p: every for p in ("apt", "flatpak", "snap", "pip")}))
    one = _total(runner, db, cache)["total"]["metrics"]["wall_clock_seconds"]
    four = _total(runner, db, cache, "--jobs", "4")["total"]["metrics"]["wall_clock_seconds"]
    locked = _total(runner, db, cache, "--jobs", "4", "--mutexes", str(locks))
    wall = locked["total"]["metrics"]["wall_clock_seconds"]
    assert four["point"] < wall["point"]  # one lock for all: one plugin at a time again
    # as long as one after another, stretched as the history's parallel runs were
    (stretch,) = from_json(cached(cache)).stretch.values()
    low, high = min(stretch.runs.values()), max(stretch.runs.values())
    lowest, highest = (
        stretch.apply(0.85 * one["point"], low),
        stretch.apply(1.15 * one["point"], high),
    )
    assert lowest <= wall["point"] <= highest


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not json", "is not JSON"),
        ('["apt"]', "must map plugins"),
        ('{"apt": {"INSTALL": ["x"]}}', "phase 'INSTALL'"),
        ('{"apt": {"EXECUTE": "pkgmgr:apt"}}', "must list mutex names"),
    ],
)
def test_a_bad_mutexes_file_is_a_usage_error(
    runner, parallel_cache: tuple[Path, Path], tmp_path: Path, content: str, says: str
) -> None:
    db, cache = parallel_cache
    locks = tmp_path / "locks.json"
    locks.write_text(content)
    args = ["estimate", "--db", db, "--cache-dir", cache, "--jobs", "4", "--mutexes", locks]
    result = invoke(runner, *args)
    assert result.exit_code == 2 and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_mutexes_need_jobs_and_a_file(runner, parallel_cache: tuple[Path, Path]) -> None:
    db, cache = parallel_cache
    base = ["estimate", "--db", db, "--cache-dir", cache]
    missing = invoke(runner, *base, "--jobs", "4", "--mutexes", "/nonexistent/locks.json")
    assert missing.exit_code == 2 and "cannot read --mutexes" in missing.stderr
    locks = Path(db).parent / "ok.json"
    locks.write_text('{"apt": {"EXECUTE": ["x"]}}')
    alone = invoke(runner, *base, "--mutexes", str(locks))
    assert alone.exit_code == 2 and "--mutexes needs --jobs" in alone.stderr


def test_a_run_stretched_beyond_its_schedule_stretches_its_replay() -> None:
    per_metric, shares = _two()
    plain = makespan.replays(["a", "b"], per_metric, shares, 2)
    ratio = Stretch(False, {3: 1.5, 4: 1.25})
    stretched = makespan.replays(["b", "a"], per_metric, shares, 2, stretch=ratio)
    walls = dict(stretched[makespan.WALL])
    assert walls[3] == pytest.approx(150.0) and walls[4] == pytest.approx(125.0)
    # runs that were not parallel take a stretch the host's parallel runs had
    assert {round(v) for r, v in walls.items() if r not in (3, 4)} <= {150, 125}
    assert dict(plain[makespan.WALL])[3] == pytest.approx(100.0)
    assert stretched[makespan.MEMORY] == plain[makespan.MEMORY]
    seconds = Stretch(True, {3: 30.0, 4: 0.0})
    added = dict(
        makespan.replays(["a", "b"], per_metric, shares, 2, stretch=seconds)[makespan.WALL]
    )
    assert added[3] == pytest.approx(130.0) and added[4] == pytest.approx(100.0)
    assert {round(v) for r, v in added.items() if r not in (3, 4)} <= {130, 100}


@pytest.mark.parametrize("additive", [True, False])
def test_the_stretch_keeps_the_form_that_predicts_the_host_s_runs(additive: bool) -> None:
    """Runs of 30 s of setting up plus their schedule, or 1.3 times their schedule, with a
    little noise: each is told apart from the other by how well it predicts left-out runs."""
    rng = random.Random(3)
    runs = {}
    for run in range(12):
        span = rng.uniform(40.0, 400.0)
        duration = span + 30.0 if additive else 1.3 * span
        runs[run] = (span, duration * rng.uniform(0.97, 1.03))
    chosen = choose(runs)
    assert chosen.additive is additive
    expected = 30.0 if additive else 1.3
    assert statistics.median(chosen.runs.values()) == pytest.approx(expected, rel=0.15)
    assert not choose(dict(list(runs.items())[:2])).additive  # two runs: too few to tell
    assert choose({7: (50.0, 80.0)}) == Stretch(False, {7: 1.6})


def test_train_measures_each_parallel_run_beyond_its_schedule(
    runner, parallel_cache: tuple[Path, Path], tmp_path: Path
) -> None:
    db, cache = parallel_cache
    (stretch,) = from_json(cached(cache)).stretch.values()
    with duckdb.connect(str(db), read_only=True) as con:
        spans = con.execute(
            """SELECT epoch(r.end_time - r.start_time), epoch(MAX(e.end_time) - MIN(e.start_time))
               FROM runs r JOIN plugin_executions e USING (run_id)
               WHERE e.status <> 'skipped' GROUP BY r.run_id, r.start_time, r.end_time
               ORDER BY r.start_time"""
        ).fetchall()
    assert len(stretch.runs) >= 25  # nearly every run of four plugins ran side by side
    # simulate sets up for 5-40 s before the first plugin, whatever the plugins' times: a
    # difference in seconds, not a ratio; and the schedule replays the plugins' span
    # (teardowns aside), so each run's own stretch takes its span to its duration
    assert stretch.additive and all(v > 0.0 for v in stretch.runs.values())
    close = [
        abs(stretch.apply(span, stretch.runs[i]) - duration) < 0.05 * duration
        for i, (duration, span) in enumerate(spans)
        if i in stretch.runs
    ]
    assert sum(close) >= 0.9 * len(close)
    # estimate --jobs stretches the makespan: without the stretch its total is shorter
    flat = tmp_path / "flat"
    shutil.copytree(cache, flat, symlinks=True)
    for target in (flat / "current" / "hosts").glob("*.json"):
        target.write_text(json.dumps({**json.loads(target.read_text()), "stretch": {}}))
    wall = "wall_clock_seconds"
    with_stretch = _total(runner, db, cache, "--jobs", "4")["total"]["metrics"][wall]
    without = _total(runner, db, flat, "--jobs", "4")["total"]["metrics"][wall]
    assert with_stretch["point"] > 1.05 * without["point"]
    assert with_stretch["upper"] > without["upper"]


def test_a_history_run_side_by_side_has_the_lines_sharing_in_its_times() -> None:
    """Two downloads of 100 s at once share the line: 200 s, where the history's times were
    taken one after another. Where the host ran plugins side by side (it has a stretch), the
    times were taken on the shared line already, and are not slowed twice."""
    per_metric = {
        makespan.WALL: {"a": fixed(100.0), "b": fixed(100.0)},
        makespan.MEMORY: {"a": fixed(1e8), "b": fixed(1e8)},
        makespan.DOWNLOAD: {"a": fixed(1e8), "b": fixed(1e8)},
    }
    shares = {p: {"CHECK": 0.0, "DOWNLOAD": 1.0, "EXECUTE": 0.0} for p in "ab"}
    alone = makespan.replays(["a", "b"], per_metric, shares, 2)
    shared = makespan.replays(["a", "b"], per_metric, shares, 2, stretch=Stretch(False, {1: 1.0}))
    assert [wall for _, wall in alone[makespan.WALL]] == pytest.approx([200.0] * len(RUNS))
    assert [wall for _, wall in shared[makespan.WALL]] == pytest.approx([100.0] * len(RUNS))


def test_a_parallel_historys_whole_time_holds_its_waits() -> None:
    """An execution of a parallel run waited between its phases (a slot, a mutex, the line):
    its whole time, 150 s, is longer than its phases', 100 s. The schedule waits itself, so
    only the phases' part of a draw of the whole is replayed as work."""
    phases = {"CHECK": fixed(10.0), "DOWNLOAD": fixed(30.0), "EXECUTE": fixed(60.0)}
    assert makespan.phase_shares(phases, fixed(150.0)) == pytest.approx(
        {"CHECK": 10 / 150, "DOWNLOAD": 30 / 150, "EXECUTE": 60 / 150}, rel=1e-3
    )
    assert makespan.phase_shares(phases, fixed(80.0)) == makespan.phase_shares(phases)
