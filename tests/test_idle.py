"""Anything to do? The chance of work given the gap, and the mixture it weighs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import Trained, invoke
from tests.scenarios import make_series, next_estimate
from update_estimate.fitting.features import Series, build_series
from update_estimate.fitting.idle import fit, level_rise
from update_estimate.fitting.series_training import train_series
from update_estimate.history import reader as history
from update_estimate.history import simulate
from update_estimate.record import TIMES, from_json, to_json
from update_estimate.reports import reads_reports
from update_estimate.serving import cache, conformal, idle, totals
from update_estimate.serving.predictive import MetricEstimate, predictive, single


def _releases(seed: int, n: int, quiet_per_day: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaps of an hour to a month; nothing to do with `quiet_per_day` to the power of days."""
    rng = np.random.default_rng(seed)
    hours = np.exp(rng.uniform(np.log(1.0), np.log(24 * 30), n))
    quiet = rng.random(n) < quiet_per_day ** (hours / 24)
    return hours, quiet


@pytest.mark.parametrize("seed", [1, 2])
def test_the_chance_of_work_follows_the_wait(seed: int) -> None:
    hours, quiet = _releases(seed, 120, 0.4)
    odds = fit(np.log1p(hours), quiet)
    assert odds is not None
    for wait in (2.0, 24.0, 24 * 7):
        truth = 1 - 0.4 ** (wait / 24)
        assert idle.chance_of_work(odds, wait) == pytest.approx(truth, abs=0.15)
    assert idle.chance_of_work(odds, 1.0) < idle.chance_of_work(odds, 24 * 30)


def test_no_curve_without_enough_runs_of_each_kind() -> None:
    hours = np.linspace(1, 500, 40)
    quiet = np.zeros(40, dtype=bool)
    quiet[: idle.MIN_KIND - 1] = True
    assert fit(np.log1p(hours), quiet) is None
    quiet[: idle.MIN_KIND] = True
    assert fit(np.log1p(hours), quiet) is not None


@given(
    values=st.lists(st.floats(-5, 5), min_size=2 * idle.MIN_KIND, max_size=60),
    work=st.floats(0, 1),
    data=st.data(),
)
def test_mix_keeps_the_count_and_weighs_the_kinds(values: list[float], work: float, data) -> None:
    """A kind of fewer than MIN_KIND runs cannot stand for itself: then nothing is mixed,
    unless the chance was `counted` and the kind stands for no more runs than it has, or
    all its values are one (a download's zeros), which any count replays exactly."""
    quiet = data.draw(st.sets(st.integers(0, len(values) - 1)))
    counted = data.draw(st.booleans())
    if data.draw(st.booleans()):
        values = [-1.0 if i in quiet else v for i, v in enumerate(values)]
    items = list(range(len(values)))
    mixed = idle.mix(items, values, sorted(quiet), work, counted)
    assert len(mixed) == len(values)
    wanted = round(work * len(values))
    working = [i for i in items if i not in quiet]
    kinds = ((working, wanted), (sorted(quiet), len(values) - wanted))

    def stands(members: list[int], count: int) -> bool:
        one = len({values[i] for i in members}) == 1
        return len(members) >= idle.MIN_KIND or (counted and (count <= len(members) or one))

    if all(stands(members, count) for members, count in kinds):
        assert sum(i not in quiet for i in mixed) == wanted
        assert set(mixed) <= set(items)
    else:
        assert mixed == items


def test_a_rerun_within_the_hour_is_answered_as_a_quiet_run() -> None:
    """A plugin that works a minute and a half when a release came, ten seconds when none
    did. An hour after the last success the 90% interval stays with the quiet runs; a month
    after, with the runs that worked. Weighted by the history's shares alone, both would
    span both kinds."""
    hours, quiet = _releases(3, 90, 0.3)
    rng = np.random.default_rng(3)
    seconds = np.where(quiet, 10.0, 90.0) * rng.lognormal(0, 0.1, len(hours))
    s = make_series(seconds, hours, quiet)
    soon = next_estimate(s, after_hours=1.0)
    late = next_estimate(s, after_hours=24 * 30)
    assert soon.upper < 30 and soon.point < 15
    assert late.lower > 50 and late.point > 70
    blind = next_estimate(make_series(seconds, hours), after_hours=1.0)
    assert blind.upper > 60


@given(
    zeros=st.lists(st.floats(0, 2000), max_size=30),
    work=st.lists(st.floats(0, 2000), max_size=30),
    gap=st.floats(0, 5000),
    share=st.floats(0, 1),
    added=st.floats(0, 5000),
)
def test_a_downloads_chance_of_nothing_is_counted_among_breaks_like_todays(
    zeros: list[float], work: list[float], gap: float, share: float, added: float
) -> None:
    """Never above the calibration's share or CEILING, whichever is larger; the share
    itself where every break was shorter than a sixteenth of today's. Where some break was
    no longer than today's (the count alone), one more run that fetched something never
    raises it, one more that fetched nothing never lowers it, if no shorter than every
    other. Shorter than every break, never less likely than after the shortest, and the
    less likely the longer."""
    chance = idle.zero_chance((zeros, work), gap, share)
    assert 0 <= chance <= max(share, idle.CEILING)
    if all(h < gap / 2**idle.REACH_STEPS for h in zeros + work):
        assert chance == pytest.approx(share)
    shortest = min(zeros + work, default=0.0)
    if zeros + work and gap >= shortest and added >= shortest:
        assert idle.zero_chance((zeros, [*work, added]), gap, share) <= chance + 1e-12
        assert idle.zero_chance(([*zeros, added], work), gap, share) >= chance - 1e-12
    if gap < shortest:  # the count at the shortest break, carried to shorter ones
        assert chance >= idle.zero_chance((zeros, work), shortest, share) - 1e-12
        sooner = idle.zero_chance((zeros, work), gap / 2, share)
        assert sooner >= chance - 1e-12


def _reruns(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eighty runs: a fifth re-runs 2-6 hours after the last, which fetch nothing five times
    in six, the rest 1-3 days apart, which fetch about 200 MB nine times in ten: a
    calibration whose zeros are about a fifth of its runs."""
    rng = np.random.default_rng(seed)
    rerun = rng.random(80) < 0.2
    hours = np.where(rerun, rng.uniform(2, 6, 80), rng.uniform(24, 72, 80))
    quiet = rng.random(80) < np.where(rerun, 5 / 6, 0.1)
    sizes = np.where(quiet, 0.0, 200e6 * rng.lognormal(0, 0.3, 80))
    return hours, quiet, sizes


@pytest.mark.parametrize("seed", [3, 4])
def test_a_rerun_hours_later_fetches_nothing_as_often_as_such_reruns_did(seed: int) -> None:
    """Four hours after the last run, most runs as close fetched nothing: the point is
    nothing, though the calibration's share of zeros is a fifth; the interval still
    reaches a download of half the typical size. Two days after, the point is a download.
    Capped at the share, the re-run's point read a download that five in six such re-runs
    never made."""
    hours, quiet, sizes = _reruns(seed)
    s = make_series(sizes, hours, quiet, metric="download_bytes")
    assert quiet[-60:].mean() < 0.35
    soon = next_estimate(s, after_hours=4.0)
    assert soon.point == 0 and soon.lower == 0 and soon.upper > 100e6 / 2
    assert next_estimate(s, after_hours=48.0).point > 100e6


@pytest.mark.parametrize("seed", [3, 4])
def test_a_rerun_sooner_than_any_break_seen_fetches_nothing_likelier_still(seed: int) -> None:
    """Five minutes after the last run, where no break was shorter than two hours: no
    likelier to fetch something than after the shortest breaks (nothing five times in six),
    so the point is nothing and its interval reaches a download. Counted alone, the count
    found no break within sixteen times five minutes and read the share of every break,
    a fifth: the point was a download (150-180 MB)."""
    hours, quiet, sizes = _reruns(seed)
    s = make_series(sizes, hours, quiet, metric="download_bytes")
    assert hours.min() > 2.0
    soon = next_estimate(s, after_hours=5 / 60)
    assert soon.point == 0 and soon.lower == 0 and soon.upper > 100e6 / 2


@pytest.mark.parametrize("seed", [3, 4])
def test_a_reruns_total_download_is_nothing_where_each_plugins_mostly_is(seed: int) -> None:
    """Two such plugins re-run four hours after their last run: each fetches nothing five
    times in six, both together about two times in three, so the total's point is nothing
    and its upper end a download. Where the total counted once each run that weighing
    replays twice, a plugin lost the zeros it had added, and the total read a download."""
    parts = []
    for k, plugin in enumerate(("a", "b")):
        hours, quiet, sizes = _reruns(seed + 10 * k)
        s = make_series(sizes, hours, quiet, metric="download_bytes", plugin=plugin)
        trained = train_series(s, None, include_extras=False)
        p, _ = predictive(trained.record, datetime(2026, 1, 1, 14), None)
        parts.append(p)
    whole = totals.total("download_bytes", parts, 0.9, parallel=False)
    assert whole.point == 0 and whole.upper > 100e6
    draws = np.array(totals.joint_draws(parts))
    assert np.mean(draws.sum(axis=1) <= 0) > 0.5


@pytest.mark.parametrize("seed", [3, 4])
def test_a_download_after_a_long_break_is_not_answered_by_its_rerun_zeros(seed: int) -> None:
    """A plugin fetches nothing when no release came since its last success (after an hour,
    often; after a week, almost never) and about 200 MB when one did. A month away, its
    zeros from re-runs no longer answer: the interval starts well above nothing. An hour
    after, the zeros are never thinned below their share: the interval still reaches both
    nothing and a download."""
    hours, quiet = _releases(seed, 90, 0.3)
    rng = np.random.default_rng(seed)
    sizes = np.where(quiet, 0.0, 200e6 * rng.lognormal(0, 0.3, len(hours)))
    s = make_series(sizes, hours, quiet, metric="download_bytes")
    late = next_estimate(s, after_hours=24 * 30)
    assert late.lower > 50e6 and late.point > 100e6
    soon = next_estimate(s, after_hours=1.0)
    assert soon.lower == 0 and soon.upper > 100e6


@pytest.mark.parametrize("seed", [3, 4])
def test_a_few_rerun_zeros_do_not_answer_a_download_days_later(seed: int) -> None:
    """A plugin fetches about 50 MB a day and nothing only when re-run within the hour: four
    zeros in sixty runs, fewer than a kind needs to stand for itself but more than the 90%
    interval's miss budget. Two days after its last success no run as far apart ever fetched
    nothing, and the interval starts above nothing; half an hour after, it still reaches
    nothing. In its first weeks (16 runs, two zeros) a few runs count too little to thin
    them."""
    rng = np.random.default_rng(seed)
    hours = rng.uniform(24, 72, 60)
    hours[[3, 11, 30, 47]] = 0.5
    sizes = np.where(hours < 1, 0.0, 50e6 * hours / 24 * rng.lognormal(0, 0.2, 60))
    s = make_series(sizes, hours, hours < 1, metric="download_bytes")
    later = next_estimate(s, after_hours=48)
    assert later.lower > 20e6 and later.point > 60e6
    soon = next_estimate(s, after_hours=0.5)
    assert soon.lower == 0
    first_weeks = make_series(sizes[:16], hours[:16], hours[:16] < 1, metric="download_bytes")
    assert next_estimate(first_weeks, after_hours=48).lower == 0


@pytest.mark.parametrize("seed", [3, 5])
def test_a_run_with_work_is_answered_from_the_runs_with_work(seed: int) -> None:
    """Half the days bring nothing to do: a peak of 20 MB, else 60 MB. Forecasts after
    short breaks sat with the quiet runs, and the runs with work that followed them left
    residuals of the whole jump between the kinds; replayed on a month-away forecast already
    at the level of work, the jump counted twice and the upper bound reached 1.5x the largest
    run with work. Measured from the typical work, it stays within the runs' own range."""
    hours, quiet = _releases(seed, 90, 0.5)
    rng = np.random.default_rng(seed)
    values = np.where(quiet, 20.0, 60.0) * rng.lognormal(0, 0.08, len(hours))
    s = make_series(values, hours, quiet)
    late = next_estimate(s, after_hours=24 * 30, only=("gap_neighbours",))
    largest = values[~quiet].max()
    assert late.upper < 1.1 * largest
    assert late.lower > 0.6 * np.median(values[~quiet])
    assert next_estimate(s, after_hours=1.0, only=("gap_neighbours",)).point < 25


def _packages_and_checks(
    rng: np.random.Generator, hours: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Packages arrive one a day (Poisson), and a run takes a check of ten seconds plus
    twenty a package. Returns which runs had nothing to do, and their seconds."""
    n = len(hours)
    packages = rng.poisson(hours / 24)
    seconds = 10 * rng.lognormal(0, 0.1, n) + 20 * packages * rng.lognormal(0, 0.15, n)
    return packages == 0, seconds


def _peaks(rng: np.random.Generator, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packages arrive one a day (Poisson); a run peaks at 20 MB checking, 60 MB unpacking
    whatever it brings: a level for each kind, not a sum over the packages."""
    n = len(hours)
    quiet = rng.poisson(hours / 24) == 0
    return quiet, np.where(quiet, 20e6, 60e6) * rng.lognormal(0, 0.08, n)


Draw = Callable[[np.random.Generator, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _history(seed: int, draw: Draw, metric: str) -> Series:
    """Ninety runs an hour to three weeks apart, drawn by `draw`."""
    rng = np.random.default_rng(seed)
    hours = np.exp(rng.uniform(0.0, np.log(24 * 20), 90))
    quiet, values = draw(rng, hours)
    return make_series(values, hours, quiet, metric=metric)


def _hours_later(seed: int, draw: Draw, metric: str) -> list[tuple[np.ndarray, MetricEstimate]]:
    """For a run 3 and 6 hours after the last of `_history`, the truth's runs then (20000
    draws) beside the estimate."""
    s = _history(seed, draw, metric)
    rng = np.random.default_rng(seed + 100)
    return [
        (draw(rng, np.full(20000, after))[1], next_estimate(s, after_hours=after))
        for after in (3.0, 6.0)
    ]


@pytest.mark.parametrize("jump", [True, False])
def test_a_run_with_work_after_a_longer_break_replays_as_moved_to_todays(jump: bool) -> None:
    """A run with work after days away, replayed half a day after the last run, replays at
    its value moved to today's break: a backlog of days read as the work of hours otherwise.
    A jump (forecast as a check) replayed at its own value (a held-out flatpak's check a day
    after its last run reached 172 s, a run twelve days after its last); a run the model
    forecast short (a held-out pip's 62 s after three weeks away, 23 s forecast) replayed
    its whole error around today's centre (22.5 s, a check half a day after the last)."""
    history = _history(1, _packages_and_checks, "wall_clock_seconds")
    record = train_series(history, None, include_extras=False).record
    base = record.variants["base"]
    kinds = base.idle
    assert kinds is not None and kinds.odds is not None
    k = max((i for i in range(len(kinds.own)) if i not in kinds.runs), key=lambda i: kinds.gaps[i])
    check = conformal.median(kinds.values)
    if jump:
        kinds = kinds._replace(
            jumps=[k],
            jump_values=[kinds.own[k]],
            jump_forecasts=[check],
            typical_work=[kinds.own[k]],
        )
        residuals = base.residuals
    else:
        residuals = [r + 3.0 if i == k else r for i, r in enumerate(base.residuals)]
    at = datetime(2026, 1, 1, 10) + timedelta(hours=12)
    before, _ = predictive(record, at, None)
    variant = base._replace(idle=kinds, residuals=residuals)
    p, _ = predictive(record._replace(variants={**record.variants, "base": variant}), at, None)
    moved = idle.work_moved(kinds.odds, kinds.own[k], check, 12.0, float(np.expm1(kinds.gaps[k])))
    assert np.expm1(kinds.gaps[k]) > 48 and kinds.own[k] > moved + 1.0
    replays = [p.value(r) for r, of in zip(p.residuals, p.runs, strict=True) if of == base.runs[k]]
    assert max(replays, default=moved) <= moved + 1e-9
    if not jump:  # its error, however large, moves nothing
        assert single(p, 0.9).upper == pytest.approx(single(before, 0.9).upper)


@given(
    odds=st.tuples(st.floats(-8, 4), st.floats(0, 1)),
    check=st.floats(0, 5),
    work=st.floats(0, 5),
    then=st.floats(0, 2000),
    today=st.floats(0, 2000),
)
def test_a_run_with_work_moves_with_the_break_never_below_a_check(
    odds: tuple[float, float], check: float, work: float, then: float, today: float
) -> None:
    """Moved to its own break it is itself; to a shorter one no higher, where the chance of
    work rises no faster than releases at a steady rate (a slope of at most one); never
    below a check."""
    value = check + work
    moved = idle.work_moved(odds, value, check, today, then)
    assert check - 1e-9 <= moved
    assert idle.work_moved(odds, value, check, then, then) == pytest.approx(value, abs=1e-6)
    sooner = idle.work_moved(odds, value, check, today / 2, then)
    assert sooner <= moved + 1e-9


@pytest.mark.parametrize("seed", [1, 2])
def test_a_run_hours_later_may_bring_a_package(seed: int) -> None:
    """Hours after the last run most runs only check, and one in eight to five brings a
    package (30 s). The model's centre there is the mixture's, near a check, and the runs
    with work, replayed around it, moved down by the whole jump between the kinds: the upper
    end read 12-18 s, and a fifth of such runs fell above it. Moved as a check plus a cost per
    package, as many as hours away bring, they reach a package, and no further than twice
    the truth's upper end."""
    for runs, e in _hours_later(seed, _packages_and_checks, "wall_clock_seconds"):
        assert np.mean(runs > e.upper) < 0.1
        assert e.upper < 2 * np.quantile(runs, 0.95)
        assert e.point < 15


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_levels_rise_is_read_only_where_the_noise_cannot_explain_it(seed: int) -> None:
    """Peaks that rise 0.1 a log hour read as rising about that much; level peaks as rising
    little if at all (a slope within twice its standard error reads as none); peaks that
    fall as not rising."""
    rng = np.random.default_rng(seed)
    gaps = rng.uniform(0.5, 6.0, 60)
    noise = rng.normal(0, 0.08, 60)
    assert level_rise(17 + 0.1 * gaps + noise, gaps) == pytest.approx(0.1, abs=0.03)
    assert level_rise(17 + noise, gaps) < 0.03
    assert level_rise(17 - 0.1 * gaps + noise, gaps) == 0.0
    assert level_rise(np.array([17.0, 18.0]), np.array([1.0, 2.0])) == 0.0  # too few to tell


@pytest.mark.parametrize("seed", [1, 2])
def test_a_runs_peak_memory_hours_later_may_be_a_run_with_work(seed: int) -> None:
    """Hours after the last run the model's centre is a check's, and the runs with work,
    forecast at their own level after their longer breaks, replayed around it as checks: a
    tenth to a fifth of the runs then fell above the upper end. Each replays its own level,
    weighed by the chance of work after today's break."""
    for runs, e in _hours_later(seed, _peaks, "memory_peak_bytes"):
        assert np.mean(runs > e.upper) < 0.08
        assert e.upper < 1.5 * np.quantile(runs, 0.95)
        assert e.point < 30e6


@pytest.fixture(scope="module")
def releases_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("releases") / "h.duckdb"
    simulate.write(simulate.generate(("apt", "flatpak"), 70, 5, scenario_name="check-only"), db)
    return db


def test_train_and_estimate_weigh_the_kinds_by_the_gap(
    runner, releases_db: Path, tmp_path: Path
) -> None:
    """Through the real CLI on a history of releases: an hour after the last run, the memory
    interval is the quiet runs' (a third of a real run), a month after, the working runs'.
    A download is never ruled out by the chance alone."""
    cache = tmp_path / "cache"
    assert invoke(runner, "train", "--db", releases_db, "--cache-dir", cache).exit_code == 0
    last = history.read(releases_db).executions["start_time"].max().to_pydatetime()

    def metrics(after: timedelta) -> dict:
        at = (last + after).isoformat()
        args = ("estimate", "--db", releases_db, "--cache-dir", cache, "-p", "flatpak")
        result = invoke(runner, *args, "--json", "--at", at)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["plugins"][0]["metrics"]

    soon, late = metrics(timedelta(hours=1)), metrics(timedelta(days=30))
    memory = "memory_peak_bytes"
    assert soon[memory]["upper"] < late[memory]["lower"]
    assert soon[memory]["point"] < 0.5 * late[memory]["point"]
    # downloads keep their hurdle: an unlikely download is still inside the interval
    assert soon["download_bytes"]["upper"] > 0


def test_the_kinds_and_jumps_are_written_whole_and_read_back(
    runner, releases_db: Path, tmp_path: Path
) -> None:
    """The record keeps each quiet run's value and each jump's value, forecast and typical
    work, and every calibration run's value and break: `estimate` replays them without the
    history."""
    cache_dir = tmp_path / "cache"
    assert invoke(runner, "train", "--db", releases_db, "--cache-dir", cache_dir).exit_code == 0
    generation = cache.current(cache_dir)
    assert generation is not None
    records = generation.records()
    variants = [v for r in records.series.values() for v in r.variants.values() if v.idle]
    kinds = [v.idle for v in variants if v.idle is not None]
    assert any(k.jumps for k in kinds)
    for k in kinds:
        assert len(k.jumps) == len(k.jump_values) == len(k.jump_forecasts) == len(k.typical_work)
        assert all(v > f for v, f in zip(k.jump_values, k.jump_forecasts, strict=True))
    owned = [
        (r.metric, v.idle, len(v.residuals))
        for r in records.series.values()
        for v in r.variants.values()
        if v.idle is not None and v.idle.own
    ]
    assert {metric for metric, _, _ in owned} >= {*TIMES, "memory_peak_bytes"}
    for _, k, n in owned:
        assert len(k.own) == len(k.gaps) == n
    assert from_json(json.loads(json.dumps(to_json(records)))) == records


@pytest.mark.parametrize("n", [6, 12, 18])
def test_two_kinds_of_run_are_covered_around_their_own_levels(n: int) -> None:
    """Quiet runs at a third of the work's peak memory (log gap 1.1), 40% of them, too few
    runs for the two-sided ranks. Around each kind's level the interval covers about the
    level whichever kind comes, and its upper end stays near the runs with work; the
    symmetric form around one centre mirrors the quiet runs upward."""
    rng = np.random.default_rng(n)
    hits, uppers, mirrored = [], [], []
    for _ in range(3000):
        quiet = rng.random(n + 1) < 0.4
        values = np.where(quiet, -1.1, 0.0) + rng.normal(0, 0.1, n + 1)
        b = conformal.kinds_bounds(values[:n].tolist(), quiet[:n].tolist(), 0.9)
        hits.append(b.lower <= values[n] <= b.upper)
        if quiet[:n].sum() >= conformal.KIND_FLOOR and (~quiet[:n]).sum() >= conformal.KIND_FLOOR:
            uppers.append(b.upper)
            mirrored.append(conformal.bounds(values[:n].tolist(), 0.9).upper)
    assert 0.87 <= np.mean(hits) <= 0.96
    assert np.median(uppers) < 0.3 < np.median(mirrored)


def test_a_lone_run_of_a_kind_sets_its_level_without_a_distance() -> None:
    work = [0.02, -0.05, 0.08, 0.0, -0.03, 0.04, 0.06, -0.01]
    b = conformal.kinds_bounds([-1.2, *work], [True] + [False] * len(work), 0.9)
    assert b.lower < -1.2 and b.upper < 0.3
    assert b.upper - conformal.median(work) == pytest.approx(-1.2 - b.lower)  # one half-width
    single = conformal.kinds_bounds(work, [False] * len(work), 0.9)
    assert single == conformal.bounds(work, 0.9)


@pytest.mark.parametrize("seed", [2, 4])
def test_a_new_plugins_peak_memory_is_answered_around_each_kind(seed: int) -> None:
    """Fourteen runs of a plugin, a third of them quiet at 60 MB, the rest near 200 MB: a
    forecast of so few runs of two kinds lands between them, and one interval around it
    reached 1.6-1.8x the largest run with work. Each kind answered around its own level, the
    interval spans the quiet runs and stops near the runs with work; the point is a run of
    the likelier kind, not a value between the two that no run takes."""
    rng = np.random.default_rng(seed)
    hours = np.exp(rng.uniform(0, np.log(24 * 20), 14))
    quiet = rng.random(14) < 0.4
    values = np.where(quiet, 60e6, 200e6) * rng.lognormal(0, 0.08, 14)
    s = make_series(values, hours, quiet, metric="memory_peak_bytes")
    e = next_estimate(s)
    assert e.upper < 1.2 * values[~quiet].max()
    assert e.lower < values[quiet].min()
    assert e.point > 0.8 * values[~quiet].min()
    wall = next_estimate(make_series(values, hours, quiet))
    assert wall.upper > 1.5 * values[~quiet].max()  # times keep one interval (see _idle)


def test_a_short_memory_calibration_keeps_both_kinds_values(runner, tmp_path: Path) -> None:
    """A new user's 16 runs: peak memory's records keep both kinds' own values without the
    chance of work, time's only their kinds, each with a release rate; a download's, the
    breaks before its runs of each kind; they read back whole."""
    db, cache_dir = tmp_path / "h.duckdb", tmp_path / "cache"
    plugins = ("apt", "flatpak", "pip", "snap")
    simulate.write(simulate.generate(plugins, 16, 6, scenario_name="late-plugins"), db)
    assert invoke(runner, "train", "--db", db, "--cache-dir", cache_dir).exit_code == 0
    generation = cache.current(cache_dir)
    assert generation is not None
    records = generation.records()
    kept = [(r, r.variants["base"].idle) for r in records.series.values()]
    downloads = [k for r, k in kept if k is not None and r.metric == "download_bytes"]
    assert downloads and all(k.breaks is not None and k.odds is None for k in downloads)
    short = [(r, k) for r, k in kept if k is not None and k.odds is None and k.breaks is None]
    assert any(r.metric == "memory_peak_bytes" for r, _ in short)
    for r, k in short:
        assert k.rates is not None
        if r.metric == "memory_peak_bytes":
            assert len(k.runs) + len(k.work_values) == len(r.variants["base"].residuals)
        else:
            assert r.metric in ("wall_clock_seconds", "cpu_seconds") and not k.work_values
    assert from_json(json.loads(json.dumps(to_json(records)))) == records


def test_a_failed_or_skipped_run_to_come_ends_the_kinds_answering_apart() -> None:
    """Live tracking mixes a plugin's failed and skipped executions into its residuals: such
    a run is of neither kind, so its predictive answers with one interval again."""
    from update_estimate.record import Outcomes
    from update_estimate.serving import outcomes
    from update_estimate.serving.predictive import Predictive

    residuals = [-1.1, -1.0, 0.0, 0.05, -0.05, 0.1, -1.2, 0.02]
    quiet = tuple(r < -0.5 for r in residuals)
    p = Predictive(5.0, residuals, [False] * 8, list(range(8)), 8, "m", "limited", quiet=quiet)
    assert outcomes.mixed(p, Outcomes(0.3, [0.0]), "pip").quiet == ()
    assert outcomes.mixed(p, None, "pip").quiet == quiet


def test_peak_memory_a_report_does_not_read_answers_as_without_a_report(trained: Trained) -> None:
    """Where the reports race of peak memory was won by a model that takes no report, a
    report is answered as without one (the runs with and without work weighed by the chance
    of work after the break), not from every run's error alike; a calibration too short for
    the two-sided ranks keeps the report's answer."""
    records = cache.current(trained.cache).records().series.values()
    unread = [
        r
        for r in records
        if r.metric == "memory_peak_bytes"
        and "reports" in r.variants
        and not reads_reports(r.variants["reports"].model)
        and r.variants["base"].idle is not None
    ]
    assert unread, "no memory record whose report race a model without reports won"
    report = {"package_count": 12.0, "download_bytes": 150e6}
    for record in unread:
        at = datetime.fromisoformat(record.last_success) + timedelta(days=1)
        answered, used = predictive(record, at, report)
        assert not used
        assert single(answered, 0.9) == single(predictive(record, at, None)[0], 0.9)
        short = 15
        cut = {
            name: v._replace(
                residuals=v.residuals[:short], censored=v.censored[:short], runs=v.runs[:short]
            )
            for name, v in record.variants.items()
        }
        assert predictive(record._replace(variants=cut), at, report)[1]


def test_a_new_plugins_memory_reads_its_report_through_its_hosts_line(tmp_path: Path) -> None:
    """A plugin answered by its host's line (HOST_SHAPE) with 20+ runs of its own: its
    report of nothing to do was taken for one its model does not read, and answered across
    both kinds (104 MB [47, 131 MB] for a check's 50 MB in a held-out history). Read, a
    check is answered at the checks' level and a run with work at the work's."""
    from update_estimate.fitting import pooled
    from update_estimate.fitting.features import truncate
    from update_estimate.record import HOST_SHAPE

    db = tmp_path / "h.duckdb"
    plugins = ("apt", "flatpak", "snap", "cargo")
    simulate.write(simulate.generate(plugins, 26, 3, scenario_name="check-only"), db)
    series = build_series(history.read(db).executions, None, ("memory_peak_bytes",))
    s = next(x for x in series if x.plugin == "snap")
    past = truncate(s, 24)
    shapes = pooled.borrow_all(past, [o for o in series if o is not s], s.starts[24])
    record = train_series(past, None, include_extras=False, borrowed=shapes).record
    assert record.variants["reports"].model == HOST_SHAPE
    assert len(record.variants["base"].residuals) >= conformal.min_two_sided(0.9)
    values = np.expm1(past.y)
    quiet, work = np.median(values[past.idle]), np.median(values[~past.idle])
    at = datetime.fromisoformat(s.starts[24])
    check, used = predictive(record, at, {"package_count": 0.0, "download_bytes": 0.0})
    assert used
    e = single(check, 0.9)
    assert e.lower < quiet < e.upper < (quiet + work) / 2, (quiet, work, e)
    busy = single(predictive(record, at, {"package_count": 3.0, "download_bytes": 2e8})[0], 0.9)
    assert (quiet + work) / 2 < busy.lower < work < busy.upper, (quiet, work, busy)
