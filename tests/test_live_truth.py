"""The simulator's own predictive of what remains of a run under way (the limit the live
tracking bench scores against) covers what really remained, reads the running phase's time so
far, and reads the run's network speed from a finished download."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.scenarios import network_factors
from update_estimate.history import live_truth, replay, simulate
from update_estimate.history.live_truth import LiveTruth

PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo")


def _moments(
    tables: simulate.Tables, tmp_path: Path, name: str, last: int, kinds: tuple[str, ...]
) -> Iterator[tuple[LiveTruth, replay.PastRun, replay.Event, float]]:
    """The events of `kinds` of the last runs (moments the tracker answers at), with what
    remained then."""
    runs = len(tables.runs["run_id"])
    db = tmp_path / f"{name}.duckdb"
    simulate.write(tables, db)
    limit = LiveTruth(tables, name, runs, draws=3000)
    for run in replay.last_runs(db, last):
        for event in run.events[:-1]:
            assert event.time is not None
            if event.kind not in kinds:
                continue
            left = (run.end - event.time).total_seconds()
            if left > 0:
                yield limit, run, event, left


@pytest.mark.parametrize(("name", "seed"), [("steady", 2), ("check-only", 4)])
def test_the_truth_covers_what_remained(tmp_path: Path, name: str, seed: int) -> None:
    """At each plugin's and phase's start (many runs: a run's moments err together)."""
    hits, over = [], []
    moments = _moments(
        simulate.generate(PLUGINS, 300, seed, scenario_name=name),
        tmp_path,
        name,
        250,
        ("plugin_start", "phase_start"),
    )
    for i, (limit, run, event, left) in enumerate(moments):
        assert event.time is not None
        point, lower, upper = limit.remaining(run.run_id, event.time, seed=i)
        assert lower <= point <= upper
        hits.append(lower <= left <= upper)
        over.append(point > left)
    assert 0.87 <= np.mean(hits) <= 0.94, np.mean(hits)
    assert 0.44 <= np.mean(over) <= 0.56, np.mean(over)


def test_the_running_phase_is_read_given_its_time_so_far(tmp_path: Path) -> None:
    """Deep inside the last plugin's EXECUTE, what remains is the rest of that phase: read as
    if the phase might already be over (its time so far ignored), the interval's lower end
    falls to the pause after it (half the time); given it, both ends miss at their rate."""
    cases = []
    for i, (limit, run, event, left) in enumerate(
        _moments(
            simulate.generate(PLUGINS, 300, 3, scenario_name="steady"),
            tmp_path,
            "steady",
            280,
            ("tick",),
        )
    ):
        assert event.time is not None
        inside = [e for e in run.events if e.kind == "phase_start" and e.plugin == "cargo"]
        execute = next((e.time for e in inside if e.phase == "EXECUTE"), None)
        if run.plugins[-1] != "cargo" or execute is None:
            continue
        if (event.time - execute).total_seconds() > 30:
            cases.append((left, *limit.remaining(run.run_id, event.time, seed=i)))
    left, _, lower, upper = np.array(cases).T
    assert len(left) > 200
    assert np.mean(lower < 2) < 0.05
    assert 0.01 < np.mean(left < lower) < 0.09
    assert 0.01 < np.mean(left > upper) < 0.09


def test_a_finished_download_tells_the_runs_network_speed(tmp_path: Path) -> None:
    """On a slow-network day every download is five times slower. Once a download has ended
    the truth knows which day it is: after it, a slow day's downloads still to come are not
    read as a usual day's (reading the day's speed as unknown: its point is a quarter below
    what remained, off by half at the median)."""
    downloading = ("apt", "snap", "flatpak", "rustup")
    tables = simulate.generate(downloading, 100, 5, scenario_name="slow-network")
    speeds = network_factors(tables)
    slow: list[float] = []
    for i, (limit, run, event, left) in enumerate(
        _moments(tables, tmp_path, "slow-network", 80, ("plugin_start",))
    ):
        assert event.time is not None
        if speeds.get(run.run_id, 1.0) < 0.5 and run.plugins.index(event.plugin or "") >= 1:
            point, _, _ = limit.remaining(run.run_id, event.time, seed=i)
            slow.append(np.log(point / left))
    assert len(slow) >= 40
    assert abs(np.median(slow)) < 0.12, np.median(slow)
    assert np.median(np.abs(slow)) < 0.25, np.median(np.abs(slow))


def test_a_download_that_shared_the_line_counts_as_it_would_pass_alone() -> None:
    """Side by side two downloads share the line, each at half its pace (`schedule`): ten
    seconds, five of them beside another download, are 7.5 seconds of its own."""
    t0 = datetime(2026, 1, 1, 10)
    lines = [
        (t0, t0 + timedelta(seconds=10)),
        (t0 + timedelta(seconds=5), t0 + timedelta(seconds=30)),
    ]
    assert live_truth._alone(t0, t0 + timedelta(seconds=10), lines) == pytest.approx(7.5)
    assert live_truth._alone(t0, t0 + timedelta(seconds=4), lines) == pytest.approx(4.0)


def test_side_by_side_the_truth_places_the_plugins_by_the_schedule(tmp_path: Path) -> None:
    """Runs of four plugins at once: as each plugin starts, the truth covers what remained
    and its point lies above it about half the time; read one after another (`jobs` 1), the
    same moments' points are the plugins' times added up, far above."""
    tables = simulate.generate(PLUGINS, 80, 5, scenario_name="steady", jobs=4)
    runs = len(tables.runs["run_id"])
    db = tmp_path / "side.duckdb"
    simulate.write(tables, db)
    side, one = (
        LiveTruth(tables, "steady", runs, 400, jobs=4),
        LiveTruth(tables, "steady", runs, 400),
    )
    hits, over, ratios = [], [], []
    for run in replay.last_runs(db, 50):
        for i, event in enumerate(run.events[:-1]):
            assert event.time is not None
            left = (run.end - event.time).total_seconds()
            if event.kind != "plugin_start" or left <= 0:
                continue
            point, lower, upper = side.remaining(run.run_id, event.time, seed=i)
            hits.append(lower <= left <= upper)
            over.append(point > left)
            ratios.append(one.remaining(run.run_id, event.time, seed=i)[0] / point)
    assert len(hits) >= 200
    assert 0.84 <= np.mean(hits) <= 0.96, np.mean(hits)
    assert 0.33 <= np.mean(over) <= 0.67, np.mean(over)
    assert np.median(ratios) > 1.3, np.median(ratios)


def test_side_by_side_the_truths_peak_memory_is_of_the_plugins_running_together(
    tmp_path: Path,
) -> None:
    """Before a run of four plugins at once, the truth's peak memory (the largest sum of the
    peaks of the plugins running at one time) covers the run's; one after another (`jobs`
    1) no two ever run together, and the same runs' peaks read as one plugin's."""
    tables = simulate.generate(PLUGINS, 60, 4, scenario_name="steady", jobs=4)
    runs = len(tables.runs["run_id"])
    db = tmp_path / "memory.duckdb"
    simulate.write(tables, db)
    side, one = LiveTruth(tables, "steady", runs, 300, 4), LiveTruth(tables, "steady", runs, 300)
    peaks: dict[str, float] = {}
    for execution, step_peak in tables.rows("steps", "execution_id", "memory_peak_bytes"):
        peaks[execution] = max(peaks.get(execution, 0.0), float(step_peak or 0.0))
    spans = defaultdict(list)
    ran = ("execution_id", "run_id", "start_time", "end_time")
    for execution, run, start, end in tables.rows("executions", *ran):
        if execution in peaks and end is not None:
            spans[run].append((start, end, peaks[execution]))
    hits, ratios = [], []
    for i, run in enumerate(replay.last_runs(db, 40)):
        members = spans[run.run_id]
        actual = max(sum(p for s, e, p in members if s <= t < e) for t, _, _ in members)
        point, lower, upper = side.peak_memory(run.run_id, seed=i)
        hits.append(lower <= actual <= upper)
        ratios.append(point / one.peak_memory(run.run_id, seed=i)[0])
    assert 0.8 <= np.mean(hits) <= 1.0, np.mean(hits)
    assert np.median(ratios) > 1.3, np.median(ratios)
