"""The live run tracker: phase-aware remaining time, overdue phases, the plugins still to come
drawn from the past runs most like today's, and events that contradict each other."""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta

import numpy as np
import pytest

from tests.conftest import Trained
from tests.records import typed_all
from update_estimate import Estimator
from update_estimate.history.replay import last_runs
from update_estimate.record import series_key
from update_estimate.serving.tracker import Progress, RunTracker

T0 = datetime(2026, 1, 2, 10, 0)
WALL = "wall_clock_seconds"


def record(plugin: str, seconds: float, residuals: list[float], phase: str | None = None) -> dict:
    n = len(residuals)
    return {
        "host": "h",
        "plugin": plugin,
        "metric": WALL,
        "phase": phase,
        "data_points": n,
        "last_success": "2026-01-01 10:00:00",
        "cap": math.inf,
        "basis": "model",
        "variants": {
            "base": {
                "model": "linear",
                "axes": [],
                "points": [math.log1p(seconds)],
                "residuals": [round(r, 6) for r in residuals],
                "runs": list(range(n)),
            }
        },
    }


def noise(seed: int, n: int = 60, sd: float = 0.1) -> list[float]:
    return np.random.default_rng(seed).normal(0, sd, n).tolist()


def phased(plugin: str = "a", seed: int = 0) -> dict[str, dict]:
    """A plugin whose download phase is most of its time: 10 s + 100 s + 10 s."""
    parts = {"CHECK": 10.0, "DOWNLOAD": 100.0, "EXECUTE": 10.0}
    records = {
        series_key("h", plugin, WALL, phase): record(plugin, s, noise(seed + i), phase)
        for i, (phase, s) in enumerate(parts.items())
    }
    records[series_key("h", plugin, WALL)] = record(plugin, 120.0, noise(seed + 9))
    return records


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def check(progress: Progress) -> None:
    """What every answer must hold, whatever the events."""
    left = progress.remaining
    assert 0 <= left.lower <= left.point <= left.upper
    assert progress.finish.point == progress.time + timedelta(seconds=left.point)
    for row in progress.plugins:
        assert 0 <= row.remaining.lower <= row.remaining.point <= row.remaining.upper
        assert left.point >= row.remaining.point and left.upper >= row.remaining.upper
    # one after another, the plugins' times add up: so do their lower bounds
    assert left.lower >= sum(row.remaining.lower for row in progress.plugins) - 1e-9


def test_a_run_few_runs_old_is_held_to_its_plugins_lower_bounds_added_up() -> None:
    """Five plugins of about 20 s with 12 past runs each (a new user's first weeks), the first
    ten times as long in two of them: read from the 12 replays, that tail set the run's
    interval on both sides, and its lower bound fell far below the plugins' own added up."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        names = [f"p{k}" for k in range(5)]
        records = {}
        for k, name in enumerate(names):
            residuals = rng.normal(0, 0.3, 12)
            if k == 0:
                residuals[[3, 8]] = 2.3
            records[series_key("h", name, WALL)] = record(name, 20.0, residuals.tolist())
        progress = RunTracker(typed_all(records), "h", names, T0).plugin_start("p0", at(0))
        check(progress)
        assert progress.remaining.lower > 40


def test_a_quick_download_leaves_only_the_execute_phase() -> None:
    """Ten seconds into a plugin whose download took one: its phases say 10 s remain, its
    whole time (120 s typical) would say about 110."""
    records = typed_all(phased())
    whole_only = {k: r for k, r in records.items() if r.phase is None}
    answers = []
    for recs in (records, whole_only):
        tracker = RunTracker(recs, "h", ["a"], T0)
        tracker.plugin_start("a", at(0))
        tracker.phase_start("a", "CHECK", at(0))
        tracker.phase_start("a", "DOWNLOAD", at(10))
        answers.append(tracker.phase_start("a", "EXECUTE", at(11)))
    phases, whole = answers
    check(phases)
    assert 7 < phases.remaining.point < 14
    assert phases.plugins[0].phase == "EXECUTE"
    assert whole.remaining.point > 80


def test_the_point_never_rises_while_a_phase_runs_within_the_time_foretold() -> None:
    """A download of about 100 s: until it has run that long, only the clock moves and the
    point never rises."""
    tracker = RunTracker(typed_all({**phased("a"), **phased("b", 20)}), "h", ["a", "b"], T0)
    tracker.plugin_start("a", at(0))
    tracker.phase_start("a", "CHECK", at(0))
    before = tracker.phase_start("a", "DOWNLOAD", at(10))
    points = []
    for step in range(1, 180):
        progress = tracker.tick(at(10 + step * 0.5))
        check(progress)
        assert not [f for f in progress.flags if f.kind == "overdue"]
        points.append(progress.remaining.point)
    assert points[0] <= before.remaining.point
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(points))
    assert points[-1] < points[0] - 30


def test_a_check_that_turns_out_a_build_is_read_again_once_its_end_has_passed() -> None:
    """cargo: seven in ten past runs a 10 s check, the others a 300 s build. At its start
    the check is the likelier: its end foretold, passed a minute later with cargo still
    running, its remaining time is a build's (held at the check's, it read seconds for the
    build's whole five minutes)."""
    rng = np.random.default_rng(3)
    kinds = np.where(rng.random(60) < 0.7, math.log1p(10.0), math.log1p(300.0))
    residuals = (kinds + rng.normal(0, 0.1, 60) - math.log1p(30.0)).tolist()
    records = typed_all({series_key("h", "cargo", WALL): record("cargo", 30.0, residuals)})
    tracker = RunTracker(records, "h", ["cargo"], T0)
    first = tracker.plugin_start("cargo", at(0))
    assert first.remaining.point < 30
    answers = [tracker.tick(at(s)) for s in range(1, 121)]
    points = [a.remaining.point for a in answers]
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(points[:9]))  # the check's time
    assert points[59] > 150 and points[119] > 120
    said = [{(f.kind, f.plugin) for f in a.flags} for a in answers]
    assert ("revised", "cargo") not in said[0] and ("revised", "cargo") in said[59]


def test_an_overdue_phase_is_flagged_and_its_estimate_keeps_moving() -> None:
    tracker = RunTracker(typed_all({**phased("a"), **phased("b", 20)}), "h", ["a", "b"], T0)
    tracker.plugin_start("a", at(0))
    tracker.phase_start("a", "EXECUTE", at(0))
    fine = tracker.tick(at(5))
    assert not [f for f in fine.flags if f.kind == "overdue"]
    late = [tracker.tick(at(s)) for s in (60, 600, 3600)]
    for progress in late:
        check(progress)
        (flag,) = [f for f in progress.flags if f.kind == "overdue"]
        assert (flag.plugin, flag.phase) == ("a", "EXECUTE")
        assert "probably hanging" in flag.message
        assert progress.plugins[0].remaining.point > 0
        assert progress.remaining.point >= progress.plugins[1].remaining.point
    mine = [p.plugins[0].remaining.point for p in late]
    assert mine[0] < mine[1] < mine[2]  # conditioned on having run that long, not frozen
    finishes = [p.finish.point for p in late]
    assert finishes[0] < finishes[1] < finishes[2]


def shared(plugin: str, factor: list[float], seed: int, own: float) -> dict:
    """A plugin whose residual in each past run is that run's shared factor plus its own."""
    mine = np.random.default_rng(seed).normal(0, own, len(factor))
    return record(plugin, 60.0, (np.array(factor) + mine).tolist())


@pytest.mark.parametrize(("own", "low", "high"), [(0.05, 1.8, 9.0), (3.0, 0.7, 1.4)])
def test_a_slow_plugin_today_slows_the_plugins_still_to_come(
    own: float, low: float, high: float
) -> None:
    """Past runs share a slow-network factor: when the first plugin was slow today, the next
    is drawn from the past runs where it was slow too. Where the plugins share nothing (most
    of the residual their own), today's first plugin says little about the next."""
    factor = np.random.default_rng(5).normal(0, 0.6, 80).tolist()
    records = {
        series_key("h", name, WALL): shared(name, factor, seed, own)
        for seed, name in enumerate(("a", "b"))
    }
    answers = {}
    for name, seconds in (("slow", 60 * math.e), ("fast", 60 / math.e)):
        tracker = RunTracker(typed_all(records), "h", ["a", "b"], T0)
        tracker.plugin_start("a", at(0))
        answers[name] = tracker.plugin_end("a", "success", at(seconds))
        check(answers[name])
    ratio = answers["slow"].remaining.point / answers["fast"].remaining.point
    assert low < ratio < high


@pytest.mark.parametrize("runs", [60, 28])
def test_a_download_of_nothing_foretells_an_install_of_nothing(runs: int) -> None:
    """A third of b's past runs had work: a long download, then a long install; the rest
    downloaded nothing and installed nothing. Once today's download has ended, b's install is
    read from the past runs whose download was like today's, whatever a, done before it,
    says about the run (a was slow today, which says nothing about b's work). So with the 28
    runs a 60-run history's phases are calibrated on: 0.50.0 kept 30 of them, so all, and
    read the install after a download of nothing up to a long one's (upper 104 s)."""
    rng = np.random.default_rng(3)
    busy = rng.random(runs) < 1 / 3
    work = np.where(busy, 1.5, -1.5)

    def phase(seconds: float, scale: float, name: str) -> dict:
        return record("b", seconds, (scale * work + rng.normal(0, 0.1, runs)).tolist(), name)

    records = {
        series_key("h", "a", WALL): record("a", 30.0, noise(4)),
        series_key("h", "b", WALL): record("b", 40.0, (work + rng.normal(0, 0.1, runs)).tolist()),
        series_key("h", "b", WALL, "CHECK"): record("b", 5.0, noise(5, runs), "CHECK"),
        series_key("h", "b", WALL, "DOWNLOAD"): phase(3.0, 0.6, "DOWNLOAD"),
        series_key("h", "b", WALL, "EXECUTE"): phase(20.0, 1.0, "EXECUTE"),
    }
    installs = {}
    for name, downloaded in (("nothing", 1.2), ("much", 7.0)):
        tracker = RunTracker(typed_all(records), "h", ["a", "b"], T0)
        tracker.plugin_start("a", at(0))
        tracker.plugin_end("a", "success", at(300))  # ten times its usual
        tracker.plugin_start("b", at(300))
        tracker.phase_start("b", "CHECK", at(300))
        tracker.phase_start("b", "DOWNLOAD", at(305))
        progress = tracker.phase_start("b", "EXECUTE", at(305 + downloaded))
        check(progress)
        installs[name] = progress.plugins[1].remaining
    # half the past runs are kept (at least 15): a third had work, so those hold none of them
    assert installs["nothing"].upper < 10 < 60 < installs["much"].point


def test_a_plugin_new_here_reads_its_whole_time_as_it_starts() -> None:
    """b ran once here; its other 26 errors are lent by the host's other plugins. As it starts
    (the last plugin of the run) its remaining time is about its usual 20 s, not the 0 s that
    its one run alone, outrun at once, gave."""
    lent = record("b", 20.0, np.random.default_rng(2).normal(0, 0.3, 27).tolist())
    lent["variants"]["base"]["runs"] = [8, *[None] * 26]
    records = {
        series_key("h", "a", WALL): record("a", 30.0, noise(1)),
        series_key("h", "b", WALL): lent,
    }
    tracker = RunTracker(typed_all(records), "h", ["a", "b"], T0)
    tracker.plugin_start("a", at(0))
    tracker.plugin_end("a", "success", at(30))
    progress = tracker.plugin_start("b", at(31))
    check(progress)
    left = progress.plugins[1].remaining
    assert 10 < left.point < 30 and left.lower < 15 < 25 < left.upper
    assert "limited" not in {f.kind for f in progress.flags}


def test_the_pause_after_the_last_plugin_has_an_interval() -> None:
    """update-all pauses 1, 2 and 3 s between its plugins here: once the last plugin has
    ended, what remains is one more pause, about 2 s and between 1 and 3 s, not a point of
    no width."""
    names = ["a", "b", "c", "d"]
    records = {series_key("h", n, WALL): record(n, 10.0, noise(i)) for i, n in enumerate(names)}
    tracker = RunTracker(typed_all(records), "h", names, T0)
    clock = 0.0
    for name, pause in zip(names, (1.0, 2.0, 3.0, 0.0), strict=True):
        tracker.plugin_start(name, at(clock))
        progress = tracker.plugin_end(name, "success", at(clock + 10))
        clock += 10 + pause
    check(progress)
    left = progress.remaining
    assert left.point == pytest.approx(2.0)
    assert left.lower == pytest.approx(1.0) and left.upper == pytest.approx(3.0)
    later = tracker.tick(at(clock + 1.5)).remaining  # 1.5 s into the pause: what is left
    assert later.point == pytest.approx(0.5) and later.upper == pytest.approx(1.5)


def test_the_pauses_still_to_come_add_up_as_a_sum_does() -> None:
    """Plugins of exactly 10 s, pauses of 1 and 3 s seen: with three plugins to come, four
    pauses are ahead (the one under way and one after each). Their sum strays from its mean of
    8 s as the square root of the three to come (6 +- 1.7 s, plus 1-3 s for the one under
    way), not three times as far."""
    names = ["a", "b", "c", "d", "e", "f"]
    records = {
        series_key("h", n, WALL): record(n, 10.0, noise(i, sd=1e-4)) for i, n in enumerate(names)
    }
    tracker = RunTracker(typed_all(records), "h", names, T0)
    clock = 0.0
    for name, pause in zip(names[:3], (1.0, 3.0, 0.0), strict=True):
        tracker.plugin_start(name, at(clock))
        progress = tracker.plugin_end(name, "success", at(clock + 10))
        clock += 10 + pause
    left = progress.remaining
    assert left.point == pytest.approx(30 + 8, abs=0.1)
    assert left.lower == pytest.approx(30 + 1 + 6 - math.sqrt(3), abs=0.1)
    assert left.upper == pytest.approx(30 + 3 + 6 + math.sqrt(3), abs=0.1)


def test_contradicting_events_are_flagged_never_raised() -> None:
    tracker = RunTracker(typed_all(phased("a")), "h", ["a", "b"], T0)
    tracker.plugin_start("a", at(10))
    back = tracker.tick(at(5))
    assert {f.kind for f in back.flags} == {"out-of-order", "no-history"}
    assert back.time == at(10)
    both = tracker.plugin_start("b", at(20))  # a never said it ended
    states = {p.plugin: p.state for p in both.plugins}
    assert states == {"a": "ended", "b": "running"}
    assert {f.kind for f in both.flags} == {"out-of-order", "no-history"}
    stranger = tracker.plugin_end("zz", "success", at(25))  # never announced, never started
    kinds = {(f.kind, f.plugin) for f in stranger.flags}
    assert ("unplanned", "zz") in kinds
    assert [p.plugin for p in stranger.plugins] == ["a", "b", "zz"]
    assert stranger.plugins[2].state == "success"
    again = tracker.plugin_start("zz", at(26))
    assert ("out-of-order", "zz") in {(f.kind, f.plugin) for f in again.flags}
    ended = tracker.run_end(at(30))
    assert ended.ended and ended.remaining.point == 0 and ended.download_left.point == 0
    after = tracker.tick(at(31))
    assert after.ended and {f.kind for f in after.flags} == {"out-of-order"}
    fresh = tracker.run_start(at(40), ["a"])
    assert not fresh.ended and [p.plugin for p in fresh.plugins] == ["a"]
    assert fresh.elapsed == 0 and fresh.remaining.point > 60


def test_a_report_moves_the_plugins_estimate(trained: Trained) -> None:
    answers = []
    estimator = Estimator(trained.db, trained.cache)
    for count, size in ((0, 0), (300, 6e8)):
        tracker = estimator.track(["apt", "pip"], start=T0)
        tracker.plugin_start("apt", at(0))
        tracker.phase_start("apt", "CHECK", at(0))
        tracker.report("apt", at(12), package_count=count, download_bytes=size)
        answers.append(tracker.phase_start("apt", "DOWNLOAD", at(12)))
    nothing, much = answers
    for progress in answers:
        check(progress)
    assert much.plugins[0].remaining.point > 3 * nothing.plugins[0].remaining.point
    assert much.download_left.point > 3e8 > nothing.download_left.point


def test_a_replayed_run_is_answered_coherently_event_by_event(trained: Trained) -> None:
    """The history's last run, fed as update-all would have sent it."""
    run = last_runs(trained.db, 1)[0]
    tracker = Estimator(trained.db, trained.cache).track(list(run.plugins), start=run.start)
    ended: dict[str, str] = {}
    for event in run.events:
        progress = tracker.feed(event)
        check(progress)
        if event.kind == "plugin_end":
            assert event.plugin is not None and event.status is not None
            ended[event.plugin] = event.status
        states = {p.plugin: p.state for p in progress.plugins}
        assert all(states[name] == status for name, status in ended.items())
        assert not [f for f in progress.flags if f.kind in ("out-of-order", "unplanned")]
    assert progress.ended and progress.time == run.end
    assert set(ended) == set(run.plugins)


def test_a_plugin_to_come_may_fail_or_be_skipped_as_it_has_before() -> None:
    """Three in ten of b's past executions were skipped (nothing): the remaining time's lower
    bound reaches down to a's own, while without outcomes b's 60 s always lie ahead."""
    from update_estimate.record import Outcomes

    records = typed_all(
        {
            series_key("h", "a", WALL): record("a", 10.0, noise(1)),
            series_key("h", "b", WALL): record("b", 60.0, noise(2)),
        }
    )
    key = series_key("h", "b", WALL)
    skipped = {**records, key: records[key]._replace(outcomes=Outcomes(0.3, [0.0, 0.0]))}
    answers = []
    for recs in (records, skipped):
        tracker = RunTracker(recs, "h", ["a", "b"], T0)
        answers.append(tracker.plugin_start("a", at(0)))
    plain, mixed = answers
    check(mixed)
    assert plain.remaining.lower > 55
    assert mixed.remaining.lower < 15 and mixed.plugins[1].remaining.lower == 0
    assert mixed.remaining.point == pytest.approx(plain.remaining.point, rel=0.1)


def test_a_plugin_never_seen_starts_with_the_time_it_was_estimated(tmp_path) -> None:
    """Without any history a plugin is answered 60 s (5 s to 30 m); its stand-in errors were
    spaced evenly across a range wider above than below, so the draws' median, which a run
    under way reads, said 103 s as it started. Two such plugins: twice 60 s."""
    estimator = Estimator(tmp_path / "none.duckdb", tmp_path / "no-cache")
    before = estimator.estimate(["apt"]).total["wall_clock_seconds"]
    started = estimator.track(["apt"]).plugin_start("apt").remaining
    assert before.point == pytest.approx(60.0) and started.point == pytest.approx(before.point)
    pair = estimator.estimate(["apt", "snap"]).total["wall_clock_seconds"]
    assert pair.point == pytest.approx(120.0)
