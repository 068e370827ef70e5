"""update-all's schedule (`schedule`) and the parallel histories `simulate --jobs`
writes with it: one after another reproduces the sequential orchestrator exactly; side by side,
no mutex is ever held twice, no more than `jobs` plugins and two downloads run at once, and a
download that shares the line takes longer than it would alone."""

from __future__ import annotations

import hashlib
import json
from itertools import combinations
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import invoke
from update_estimate import schedule
from update_estimate.history import simulate

PLUGINS = ("apt", "snap", "flatpak", "pip", "texlive-packages", "cargo")


def works() -> st.SearchStrategy[list[schedule.Work]]:
    phase = st.floats(0.0, 500.0)
    one = st.builds(
        schedule.Work,
        st.sampled_from(PLUGINS),
        st.fixed_dictionaries({p: phase for p in schedule.PHASES}),
        st.booleans(),
        st.floats(0.0, 3.0),
    )
    return st.lists(one, min_size=1, max_size=8)


@given(works())
@settings(max_examples=150, deadline=None)
def test_one_at_a_time_is_the_sequential_orchestrator(plan: list[schedule.Work]) -> None:
    placed = schedule.place(plan, 1)
    expected = 0.0
    for work, where in zip(plan, placed, strict=True):
        assert where.start == expected
        t = expected
        for phase in schedule.PHASES:
            assert where.phases[phase] == (t, t + work.phases[phase])
            t += work.phases[phase]
        expected = t + work.after
        assert where.released == expected


@given(works(), st.integers(2, 5))
@settings(max_examples=150, deadline=None)
def test_side_by_side_keeps_every_limit(plan: list[schedule.Work], jobs: int) -> None:
    placed = schedule.place(plan, jobs)
    spans = []  # (start, end, plugin, phase, on the line)
    for work, where in zip(plan, placed, strict=True):
        t = where.start
        for phase in schedule.PHASES:
            begin, end = where.phases[phase]
            assert begin >= t - 1e-9  # in order, never before the previous phase ended
            took = end - begin
            if phase == "DOWNLOAD" and work.on_line:
                assert took >= work.phases[phase] - 1e-6  # never faster than alone
            else:
                assert abs(took - work.phases[phase]) < 1e-6
            spans.append((begin, end, work.plugin, phase, phase == "DOWNLOAD" and work.on_line))
            t = end
        assert abs(where.released - (t + work.after)) < 1e-6
    slots = [(w.start, w.released) for w in placed]
    for at in {s for s, _ in slots}:
        assert sum(s <= at < e for s, e in slots) <= jobs
    for at in {b for b, _, _, _, line in spans if line}:
        assert sum(b <= at < e and line for b, e, _, _, line in spans) <= schedule.MAX_DOWNLOADS
    for a, b in combinations(spans, 2):
        locks_a = set(schedule.MUTEXES.get(a[2], {}).get(a[3], ()))
        locks_b = set(schedule.MUTEXES.get(b[2], {}).get(b[3], ()))
        if locks_a & locks_b and a[1] > a[0] and b[1] > b[0]:
            assert a[1] <= b[0] + 1e-6 or b[1] <= a[0] + 1e-6  # one lock, one holder


def test_two_downloads_share_the_line() -> None:
    alone = {"CHECK": 0.0, "DOWNLOAD": 100.0, "EXECUTE": 0.0}
    first, second = schedule.place(
        [schedule.Work("flatpak", alone, True), schedule.Work("pip", alone, True)], 2
    )
    assert first.phases["DOWNLOAD"] == second.phases["DOWNLOAD"] == (0.0, 200.0)
    third = schedule.place([schedule.Work(p, alone, True) for p in ("a", "b", "c")], 3)[2]
    assert third.phases["DOWNLOAD"] == (200.0, 300.0)  # waited for a download slot


def test_sequential_histories_are_unchanged() -> None:
    """The digest of a two-host history as `simulate` wrote it before it could run plugins side
    by side: the sequential path draws and places everything exactly as it did."""
    t = simulate.generate(runs=30, seed=3, hosts=2, scenario_name="check-only")
    body = repr([getattr(t, n) for n in ("runs", "executions", "steps", "estimates")])
    assert hashlib.sha256(body.encode()).hexdigest()[:16] == "1295ee0f9de0e36c"


def test_parallel_runs_end_sooner_and_validate_says_how(runner, tmp_path: Path) -> None:
    def written(jobs: int) -> tuple[dict, simulate.Tables]:
        db = tmp_path / f"jobs{jobs}.duckdb"
        args = ["simulate", "--db", db, "--runs", "40", "--hosts", "2", "--seed", "4"]
        assert invoke(runner, *args, "--jobs", str(jobs)).exit_code == 0
        result = invoke(runner, "validate", "--db", db, "--json")
        assert result.exit_code == 0, result.stderr
        tables = simulate.generate(runs=40, seed=4, hosts=2, jobs=jobs)
        return json.loads(result.stdout), tables

    sequential, one = written(1)
    parallel, four = written(4)
    assert {h["execution"] for h in sequential["hosts"]} == {"sequential"}
    assert [h["parallel"] for h in sequential["hosts"]] == [0, 0]
    assert {h["execution"] for h in parallel["hosts"]} <= {"parallel", "mixed"}
    assert all(h["parallel"] >= 0.9 * h["runs"] >= 30 for h in parallel["hosts"])

    def run_seconds(t: simulate.Tables) -> float:
        spans = zip(t.runs["start_time"], t.runs["end_time"], strict=True)
        return sum((end - start).total_seconds() for start, end in spans if end is not None)

    assert run_seconds(four) < 0.7 * run_seconds(one)
    # the line is shared: downloads on it run at most at the speed they had alone
    speeds = [
        s
        for s, phase in zip(four.steps["download_speed_bps"], four.steps["phase"], strict=True)
        if phase == "DOWNLOAD" and s is not None
    ]
    assert min(speeds) < min(s for s in one.steps["download_speed_bps"] if s is not None)


def test_jobs_must_be_positive(runner, tmp_path: Path) -> None:
    result = invoke(runner, "simulate", "--db", tmp_path / "x.duckdb", "--jobs", "0")
    assert result.exit_code == 2
    assert "--jobs" in result.stderr
    assert "Traceback" not in result.stderr
