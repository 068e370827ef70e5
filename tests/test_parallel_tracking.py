"""Tracking a parallel run live: update-all's orchestrator runs plugins side by side, `jobs`
at once, and the run's remaining time is the makespan of what is left, not a sum."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import invoke
from tests.records import typed_all
from tests.test_tracking import T0, WALL, at, noise, record
from update_estimate.events import EventError, from_json, to_json
from update_estimate.fitting import live
from update_estimate.history import simulate
from update_estimate.history.replay import PastRun, last_runs
from update_estimate.record import series_key
from update_estimate.serving import source
from update_estimate.serving.tracker import Progress, RunTracker

TIMES = {"a": 100.0, "b": 60.0, "c": 30.0}


def three(jobs: int) -> RunTracker:
    """a, b and c of about 100, 60 and 30 s, whole times only, little noise."""
    records = {
        series_key("h", name, WALL): record(name, seconds, noise(i, sd=0.03))
        for i, (name, seconds) in enumerate(TIMES.items())
    }
    return RunTracker(typed_all(records), "h", list(TIMES), T0, jobs=jobs)


def check(progress: Progress) -> None:
    """Side by side, the run's remaining time is at least each plugin's (not their sum)."""
    left = progress.remaining
    assert 0 <= left.lower <= left.point <= left.upper
    for row in progress.plugins:
        assert 0 <= row.remaining.lower <= row.remaining.point <= row.remaining.upper
        assert left.point >= row.remaining.point - 1e-9
        assert left.upper >= row.remaining.upper - 1e-9


def test_side_by_side_the_run_ends_with_its_longest_lane() -> None:
    """Two at a time: a beside b then c, so about max(100, 60 + 30) = 100 s, not 190 s."""
    two, one = three(2), three(1)
    before = two.run_start(at(0))
    assert before.jobs == 2
    assert before.remaining.point == pytest.approx(100, rel=0.1)
    assert one.run_start(at(0)).remaining.point == pytest.approx(190, rel=0.1)
    two.plugin_start("a", at(0))
    both = two.plugin_start("b", at(0))
    check(both)
    assert [p.state for p in both.plugins] == ["running", "running", "pending"]
    assert not [f for f in both.flags if f.kind == "out-of-order"]
    assert both.remaining.point == pytest.approx(100, rel=0.1)
    # 50 s in: a has about 50 s left; b 10 s, then c's 30 s in its lane
    later = two.tick(at(50))
    check(later)
    assert later.remaining.point == pytest.approx(50, rel=0.15)
    rows = {p.plugin: p.remaining.point for p in later.plugins}
    assert rows["a"] == pytest.approx(50, rel=0.15) and rows["b"] == pytest.approx(10, rel=0.3)
    # b ends and c takes its slot: a still sets the end
    two.plugin_end("b", "success", at(58))
    now = two.plugin_start("c", at(58))
    check(now)
    assert now.remaining.point == pytest.approx(42, rel=0.15)


def test_one_at_a_time_a_start_still_ends_the_plugin_before_it() -> None:
    tracker = three(1)
    tracker.plugin_start("a", at(0))
    both = tracker.plugin_start("b", at(5))
    assert [p.state for p in both.plugins] == ["ended", "running", "pending"]
    told = [f.message for f in both.flags if f.kind == "out-of-order"]
    assert told and "give the run's jobs" in told[0]


def test_more_plugins_at_once_than_jobs_are_flagged_and_kept_running() -> None:
    tracker = three(2)
    tracker.plugin_start("a", at(0))
    tracker.plugin_start("b", at(0))
    third = tracker.plugin_start("c", at(1))
    assert [p.state for p in third.plugins] == ["running"] * 3
    assert [f.plugin for f in third.flags if f.kind == "out-of-order"] == ["c"]
    check(third)


def test_a_run_start_says_how_many_at_once() -> None:
    tracker = three(1)
    told = tracker.feed(
        from_json('{"event": "run_start", "time": "2026-01-02T10:00:00", "jobs": 3}')
    )
    assert told.jobs == 3 and told.remaining.point == pytest.approx(100, rel=0.1)
    again = tracker.run_start(at(200))  # a new run without jobs: the tracker's own again
    assert again.jobs == 1


@pytest.mark.parametrize("value", ["0", "65", '"4"', "true", "2.5"])
def test_a_run_starts_jobs_must_be_a_whole_number_of_plugins(value: str) -> None:
    with pytest.raises(EventError, match="jobs must be a whole number"):
        from_json(f'{{"event": "run_start", "jobs": {value}}}')


def test_the_point_never_rises_while_only_the_clock_moves() -> None:
    tracker = three(2)
    tracker.plugin_start("a", at(0))
    tracker.plugin_start("b", at(0))
    points = []
    for step in range(1, 100):
        progress = tracker.tick(at(step * 0.5))
        check(progress)
        points.append(progress.remaining.point)
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(points))
    assert points[-1] < points[0] - 30


@dataclass(frozen=True)
class Replayed:
    db: Path
    keep: Path  # each run's cut history and its cache, trained just before it
    runs: list[PastRun]
    side: list[live.Checkpoint]  # answered as the run_start said: four at once


@pytest.fixture(scope="module")
def parallel(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    """A parallel history (four at once), its last three runs replayed against caches trained
    just before each, as `backtest --live` does."""
    folder = tmp_path_factory.mktemp("parallel")
    db, keep = folder / "h.duckdb", folder / "keep"
    plugins = ("apt", "cargo", "flatpak", "npm", "pip", "snap")
    simulate.write(simulate.generate(plugins, 40, 1, scenario_name="steady", jobs=4), db)
    side = live.evaluate(db, 3, n_jobs=2, keep=keep).checkpoints
    return Replayed(db, keep, last_runs(db, 3), side)


def _one_at_a_time(replayed: Replayed) -> list[live.Checkpoint]:
    """The same runs and caches, the tracker told that the plugins ran one after another."""
    out = []
    for run in replayed.runs:
        cut = replayed.keep / f"{run.host}-{run.start:%Y%m%dT%H%M%S}"
        loaded = source.load(
            cut / "history.duckdb", cut / "cache", run.host, None, math.inf, source.Fallbacks()
        )
        told = [replace(e, jobs=None) if e.kind == "run_start" else e for e in run.events]
        out.extend(live.replay(loaded, replace(run, events=told), 0.9))
    return out


def test_a_replayed_parallel_run_is_covered_where_a_sum_is_not(parallel: Replayed) -> None:
    """Held-out parallel runs: their events interleave, and run_start says four at once. The
    per-plugin `estimate --done --running` answers at the same moments add the plugins up;
    a tracker told they ran one after another ends each plugin as the next starts."""
    assert all(r.events[0].jobs == 4 for r in parallel.runs)
    side = live.scores(parallel.side, "tracked")
    summed = live.scores(parallel.side, "per_plugin")
    alone = live.scores(_one_at_a_time(parallel), "tracked")
    assert side.cases == alone.cases > 200
    assert side.coverage >= 0.85 and max(summed.coverage, alone.coverage) <= 0.6
    assert side.mdape < 0.45 and summed.mdape > 2 * side.mdape and alone.mdape > side.mdape


def test_track_follows_a_parallel_run_from_the_command_line(parallel: Replayed, tmp_path) -> None:
    run = parallel.runs[-1]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(to_json(e) for e in run.events) + "\n")
    cut = parallel.keep / f"{run.host}-{run.start:%Y%m%dT%H%M%S}"
    args = ["track", "--db", cut / "history.duckdb", "--cache-dir", cut / "cache"]
    result = invoke(CliRunner(), *args, stdin=events.read_text())
    assert result.exit_code == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert {a["jobs"] for a in answers} == {4}
    most = max(sum(p["state"] == "running" for p in a["plugins"]) for a in answers)
    assert most >= 2
    assert not [f for a in answers for f in a["flags"] if f["kind"] == "out-of-order"]
    human = invoke(CliRunner(), *args, "--human", stdin=events.read_text())
    assert " running |" in human.stdout
    wrong = invoke(CliRunner(), *args, "--jobs", "0", stdin="")
    assert wrong.exit_code == 2 and "--jobs" in wrong.stderr


def test_the_status_line_names_an_overdue_plugin_among_those_running() -> None:
    from update_estimate.face.render import progress_line
    from update_estimate.serving.estimate import finish
    from update_estimate.serving.predictive import MetricEstimate
    from update_estimate.serving.tracker import Flag, PluginProgress

    left = MetricEstimate(60.0, 40.0, 90.0, 40, "joint", "model")
    rows = [
        PluginProgress("apt", "running", "DOWNLOAD", 12.0, left),
        PluginProgress("snap", "running", "EXECUTE", 95.0, left),
        PluginProgress("pip", "pending", None, 0.0, left),
    ]
    late = Flag("overdue", "snap", "EXECUTE", "snap is overdue")
    progress = Progress(T0, 95.0, left, finish(T0, left), left, rows, [late], 0.9, "h", False, 4)
    assert progress_line(progress).startswith("snap EXECUTE 1.6 m OVERDUE +1 running | 60 s left")
    calm = replace(progress, flags=[])
    assert progress_line(calm).startswith("apt DOWNLOAD 12 s +1 running | 60 s left")
