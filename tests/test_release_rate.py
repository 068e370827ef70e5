"""A new plugin's first runs: one release rate says which kind of run is too unlikely to answer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.conftest import invoke
from tests.scenarios import make_series
from update_estimate import Estimator
from update_estimate.fitting import idle as fitted_idle
from update_estimate.fitting.candidates.base import quiet_libraries
from update_estimate.fitting.series_training import train_series
from update_estimate.history import reader as history
from update_estimate.record import Records, from_json, to_json
from update_estimate.serving import idle
from update_estimate.serving.predictive import predictive, single

RATE = 0.02  # releases per hour: nothing to do a day later with chance 0.62
RUNS = 24  # a calibration of 14 runs, too short for the two-sided ranks and for the curve


def _releases(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaps of 12 minutes to 10 days; nothing to do when no release came; a check takes 10 s,
    an update 90 s."""
    rng = np.random.default_rng(seed)
    gaps = np.exp(rng.uniform(np.log(0.2), np.log(240), n))
    quiet = rng.random(n) < np.exp(-RATE * gaps)
    seconds = np.where(quiet, 10.0, 90.0) * rng.lognormal(0, 0.12, n)
    return gaps, quiet, seconds


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_rate_of_releases_is_recovered(seed: int) -> None:
    """200 runs: the posterior's middle rate within 35% of the truth's, its spread narrow;
    24 runs: a wider spread, the truth's rate within half as far again of its ends."""
    gaps, quiet, _ = _releases(seed, 200)
    rates = fitted_idle.release_rates(np.log1p(gaps), quiet)
    assert rates is not None and rates == sorted(rates)
    assert rates[len(rates) // 2] == pytest.approx(RATE, rel=0.35)
    assert rates[-1] / rates[0] < 2.0
    few = fitted_idle.release_rates(np.log1p(gaps[:RUNS]), quiet[:RUNS])
    assert few is not None and few[0] / 1.5 < RATE < few[-1] * 1.5
    assert few[-1] / few[0] > rates[-1] / rates[0]


def test_no_rate_without_both_kinds() -> None:
    gaps = np.log1p(np.linspace(1, 100, 12))
    assert fitted_idle.release_rates(gaps, np.zeros(12, dtype=bool)) is None
    assert fitted_idle.release_rates(gaps, np.ones(12, dtype=bool)) is None
    one = np.zeros(12, dtype=bool)
    one[0] = True  # a single quiet run after the shortest gap: fast releases, finite
    rates = fitted_idle.release_rates(gaps, one)
    assert rates is not None and all(np.isfinite(rates)) and rates[len(rates) // 2] > 0.01


def test_one_kind_leaves_out_only_an_unlikely_kind_with_an_answer_left() -> None:
    def chance(hours: float) -> float:
        return idle.quiet_chance([RATE], hours)

    assert chance(24) == pytest.approx(np.exp(-RATE * 24))
    assert idle.quiet_chance([0.01, 0.03], 24) > chance(24)  # uncertainty keeps both kinds
    assert idle.one_kind(chance(0.5), quiet=3, work=11) is True  # work: 1%
    assert idle.one_kind(chance(24), quiet=3, work=11) is None  # nothing to do: 62%
    assert idle.one_kind(chance(240), quiet=3, work=11) is False  # nothing to do: 0.8%
    assert idle.one_kind(chance(0.5), quiet=0, work=11) is None  # no quiet residual kept


def _scores(histories: int, after_hours: float) -> tuple[float, float, float]:
    """Mean interval score over the actual value, coverage of the truth's runs and the
    point's median APE, over `histories` synthetic new users, a run `after_hours` after the
    last success."""
    quiet_libraries()
    scores, hits, errors = [], [], []
    for seed in range(histories):
        gaps, quiet, seconds = _releases(seed, RUNS)
        record = train_series(make_series(seconds, gaps, quiet), None, False).record
        at = datetime(2026, 1, 1, 10, 0) + timedelta(hours=after_hours)
        e = single(predictive(record, at, None)[0], 0.9)
        rng = np.random.default_rng(10_000 + seed)
        nothing = rng.random(400) < np.exp(-RATE * after_hours)
        truth = np.where(nothing, 10.0, 90.0) * rng.lognormal(0, 0.12, 400)
        miss = np.maximum(e.lower - truth, 0) + np.maximum(truth - e.upper, 0)
        scores.append(np.mean((e.upper - e.lower + 20 * miss) / truth))
        hits.append(np.mean((truth >= e.lower) & (truth <= e.upper)))
        errors.append(np.median(np.abs(truth - e.point) / truth))
    return float(np.mean(scores)), float(np.mean(hits)), float(np.median(errors))


def test_a_rerun_half_an_hour_later_is_answered_from_the_quiet_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """30 new users with 24 runs each, 3-11 of them with work. Half an hour after the last
    success (work 1% likely) the interval is the quiet runs': covered near 90% at a third of
    the interval score that both kinds' residuals gave it (covered 0.95 there, reaching up to
    the minutes of an update). Ten days away, the runs with work answer, as covered."""
    score, coverage, _ = _scores(30, 0.5)
    assert score < 1.6 and 0.85 <= coverage <= 0.95
    _, far, _ = _scores(30, 200)
    assert far >= 0.87
    monkeypatch.setattr(fitted_idle, "release_rates", lambda *_: None)
    blind, blind_coverage, _ = _scores(30, 0.5)
    assert blind > 2 * score and blind_coverage > coverage


def test_where_either_kind_may_come_the_point_is_a_typical_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A day after the last success, nothing to do with chance 0.62: the centre of a fit
    through both kinds sat between a check and an update, a value no run takes (median APE
    above 1 against the truth's runs, whose own median scores 0.24). The mixture's median
    is a typical quiet run."""
    _, _, error = _scores(30, 24)
    assert error < 0.5
    monkeypatch.setattr(fitted_idle, "release_rates", lambda *_: None)
    _, _, blind = _scores(30, 24)
    assert blind > 2 * error


@given(
    quiet=st.lists(st.floats(-3, 0), min_size=1, max_size=10),
    work=st.lists(st.floats(0.1, 3), min_size=1, max_size=10),
    nothing=st.floats(0, 1),
)
def test_the_mixture_median_is_a_run_of_the_likelier_kind(
    quiet: list[float], work: list[float], nothing: float
) -> None:
    assume(abs(nothing - 0.5) > 1e-6)  # the kinds' weights summed in floating point
    m = idle.mixture_median(quiet, work, nothing)
    assert m in quiet + work
    if nothing > 0.5:
        assert m in quiet
    if nothing < 0.5:
        assert m in work
    assert idle.mixture_median(quiet, work, min(nothing + 0.2, 1.0)) <= m


def test_the_rate_is_kept_for_short_calibrations_only() -> None:
    quiet_libraries()
    gaps, quiet, seconds = _releases(0, RUNS)
    record = train_series(make_series(seconds, gaps, quiet), None, False).record
    kinds = record.variants["base"].idle
    assert kinds is not None and kinds.odds is None and kinds.rates is not None
    records = Records({"k": record}, {}, {}, {})
    assert from_json(json.loads(json.dumps(to_json(records)))) == records
    memory = make_series(seconds * 1e6, gaps, quiet, metric="memory_peak_bytes")
    kept = train_series(memory, None, False).record.variants["base"].idle
    assert kept is not None and kept.rates is not None and kept.work_values
    downloads = make_series(seconds * 1e6, gaps, quiet, metric="download_bytes")
    assert train_series(downloads, None, False).record.variants["base"].idle is None
    long_gaps, long_quiet, long_seconds = _releases(0, 60)
    long = train_series(make_series(long_seconds, long_gaps, long_quiet), None, False).record
    assert all(v.idle is None or v.idle.rates is None for v in long.variants.values())


def test_a_new_plugins_memory_spans_the_level_of_todays_kind() -> None:
    """Peak memory 30 MB with nothing to do, 120 MB with work: half an hour after the last
    success the interval is the quiet runs' level alone, 10 days after the working runs';
    a day after, either may come and it spans both. A 99% interval leaves a kind out only
    below half a percent: work half an hour later (1%) is in it."""
    quiet_libraries()
    gaps, quiet, seconds = _releases(5, RUNS)
    values = np.where(quiet, 30e6, 120e6) * seconds / np.where(quiet, 10.0, 90.0)
    record = train_series(make_series(values, gaps, quiet, "memory_peak_bytes"), None, False)

    def answer(hours: float, level: float = 0.9):
        at = datetime(2026, 1, 1, 10, 0) + timedelta(hours=hours)
        return single(predictive(record.record, at, None)[0], level)

    soon, day, far = answer(0.5), answer(24), answer(240)
    assert soon.upper < 60e6 and 20e6 < soon.point < 40e6
    assert answer(0.5, 0.99).upper > 100e6
    assert far.lower > 60e6 and far.point > 90e6
    assert day.lower < 40e6 and day.upper > 100e6


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_memory_and_time_answer_the_same_kind(seed: int) -> None:
    """Most runs have work (a release every ten hours), so most residuals are of work; two
    hours after the last success nothing is likelier. Where a release rate weighed the kinds
    (seeds 2-5), time answered a check's 9-11 s and peak memory the level of work (112-125 MB)
    beside it: its point was the kind with more runs, not today's likelier one. Where the
    curve of the chance of work is fitted (seeds 0-1), memory answered a quiet run and time
    72 s, between a check and an update: its centre moved only by a significant lean. Now
    both answer a quiet run; memory's interval still reaches the level of work."""
    quiet_libraries()
    rng = np.random.default_rng(seed)
    gaps = np.exp(rng.uniform(np.log(1), np.log(240), RUNS))
    quiet = rng.random(RUNS) < np.exp(-0.1 * gaps)
    noise = rng.lognormal(0, 0.1, RUNS)
    memory = make_series(np.where(quiet, 30e6, 120e6) * noise, gaps, quiet, "memory_peak_bytes")
    time = make_series(np.where(quiet, 10.0, 90.0) * noise, gaps, quiet)
    assert quiet.sum() < RUNS / 2
    at = datetime(2026, 1, 1, 10, 0) + timedelta(hours=2)
    peak, seconds = (
        single(predictive(train_series(s, None, False).record, at, None)[0], 0.9)
        for s in (memory, time)
    )
    assert seconds.point < 20
    assert peak.point < 45e6 and peak.upper > 100e6


def test_where_either_kind_may_come_the_interval_is_the_mixtures_too() -> None:
    """cargo's seven checks took 12-16 s and its one build, after 26 days away, 924 s. 25
    days after that build either kind may come: its checks, moved with the gap beside the
    errors its host lends, answered 22 s [22 s, 579 s], the point on its lower bound and every
    check below it. Its checks replay their own values, weighed as the point weighs them."""
    from tests.records import typed

    checks = [15.7, 12.4, 12.5, 13.7, 13.3, 15.3, 14.3]
    rng = np.random.default_rng(5)
    lent = np.round(rng.normal(0.0, 0.5, 19), 6).tolist()
    own = [0.06, -0.2, -0.48, -0.15, 0.16, 1.02, -0.15, 2.46]
    record = typed(
        {
            "plugin": "cargo",
            "data_points": 8,
            "last_success": "2026-11-10 10:19:46",
            "cap": float(np.log1p(1.5 * 924.0)),
            "basis": "limited",
            "variants": {
                "base": {
                    "model": "borrowed_shape",
                    "points": [float(np.log1p(88.6))],
                    "residuals": own + lent,
                    "runs": [0, 1, 3, 4, 5, 6, 7, 8, *[None] * len(lent)],
                    "idle": {
                        "runs": [0, 1, 2, 3, 4, 5, 6],
                        "values": np.log1p(checks).round(6).tolist(),
                        "odds": None,
                        "jumps": [],
                        "jump_values": [],
                        "jump_forecasts": [],
                        "typical_work": [],
                        "work_values": [],
                        "rates": [1e-4, 3e-4, 6e-4, 9e-4, 1.3e-3, 1.8e-3, 2.5e-3, 3.6e-3, 6.1e-3],
                        "breaks": None,
                        "own": [],
                        "gaps": [],
                        "rise": 0.0,
                    },
                }
            },
        }
    )
    p, _ = predictive(record, datetime(2026, 12, 5, 23), None)
    m = single(p, 0.9)
    assert m.lower < 13.0 and m.upper > 300.0
    assert m.point > 1.3 * m.lower


def test_a_kind_that_alone_answers_sets_the_point_too(runner, tmp_path) -> None:
    """A new host's cargo (12 runs, the 9 that succeeded: 6 checks of 13-16 s, 3 builds of
    162-266 s), asked 17 days after its last run: nothing to do is too unlikely to answer,
    and its builds' three errors about the host's line alone answered, all of them 4-6 times
    above it, around the line's 77 s: below every build it had run. Its point is now a
    typical build's, at least the shortest of them."""
    db, cache = tmp_path / "h.duckdb", tmp_path / "cache"
    invoke(runner, "simulate", "--db", db, "--runs", 12, "--seed", 3, "--scenario", "late-plugins")
    invoke(runner, "train", "--db", db, "--cache-dir", cache)
    executions = history.read(db).executions
    cargo = executions[(executions["plugin"] == "cargo") & (executions["status"] == "success")]
    builds = cargo[~cargo["idle"]]["wall_clock_seconds"]
    assert len(builds) == 3 and int(cargo["idle"].sum()) == 6
    at = (cargo["start_time"].max() + timedelta(days=17)).isoformat(timespec="minutes")
    result = Estimator(db, cache).estimate(["cargo"], at=at)
    wall = result.plugins[0].metrics["wall_clock_seconds"]
    assert wall.point >= builds.min(), (wall, sorted(builds))
    assert wall.lower <= wall.point <= wall.upper


def test_before_a_check_the_chance_of_nothing_falls_with_each_run_with_work() -> None:
    """No run has had nothing to do yet: the flat prior's posterior has no end, the real
    plugins' prior holds it. After a day away nothing to do is likely enough to answer at
    first, and less so with every run that had work after as long."""
    chances = [
        idle.quiet_chance(fitted_idle.rates_before_a_check(np.log1p(np.full(n, 30.0))), 24.0)
        for n in (1, 2, 4, 8, 16)
    ]
    assert chances == sorted(chances, reverse=True)
    assert chances[0] > 0.2 and chances[-1] < 0.05
    after_an_hour = fitted_idle.rates_before_a_check(np.log1p(np.full(16, 30.0)))
    assert idle.quiet_chance(after_an_hour, 1.0) > 0.5
