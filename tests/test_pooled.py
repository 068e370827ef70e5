"""A new user's first weeks: a plugin with a handful of runs answers with its host's shape, so its
report counts from the first runs on (issue 19). Real histories from `simulate`, real train."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import invoke
from tests.scenarios import make_series
from update_estimate.fitting import backtest, pooled
from update_estimate.fitting.features import Series, build_series, truncate
from update_estimate.fitting.series_training import train_series
from update_estimate.history import reader as history
from update_estimate.history import simulate
from update_estimate.record import HOST_SHAPE, METRICS, Axis, SeriesRecord, Variant, series_key
from update_estimate.reports import reads_reports
from update_estimate.requests import BacktestRequest
from update_estimate.serving import cache as cache_module
from update_estimate.serving.interpolation import locate
from update_estimate.serving.predictive import Predictive, predictive, single

PLUGINS = ("apt", "flatpak", "pip", "snap")
NEW_HOST = ("apt", "flatpak", "snap", "pip", "cargo")  # pip and cargo join halfway


@pytest.fixture(scope="module")
def first_weeks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """28 runs; pip and snap join at the 15th, so theirs are short and the others not."""
    db = tmp_path_factory.mktemp("weeks") / "h.duckdb"
    simulate.write(simulate.generate(PLUGINS, 28, 5, scenario_name="late-plugins"), db)
    return db


def history_host(db: Path) -> str:
    return str(history.read(db).executions["host"].iloc[0])


def _estimate(runner, db: Path, cache: Path, report: dict) -> dict:
    reports = cache.parent / "report.json"
    reports.write_text(json.dumps({"snap": report}))
    result = invoke(
        runner,
        "estimate",
        "--db",
        db,
        "--cache-dir",
        cache,
        "--plugins",
        "snap",
        "--json",
        "--covariates",
        reports,
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["plugins"][0]["metrics"]


def test_a_short_plugins_report_counts(runner, first_weeks: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert invoke(runner, "train", "--db", first_weeks, "--cache-dir", cache).exit_code == 0
    small = _estimate(runner, first_weeks, cache, {"package_count": 1, "download_bytes": 5e6})
    large = _estimate(runner, first_weeks, cache, {"package_count": 12, "download_bytes": 1e9})
    for m in (small, large):
        assert m["download_bytes"]["model"] == pooled.NAME
    # the download follows the report, in proportion; the time grows with it
    assert large["download_bytes"]["point"] == pytest.approx(200 * 5e6, rel=0.5)
    assert small["download_bytes"]["point"] == pytest.approx(5e6, rel=0.5)
    assert large["wall_clock_seconds"]["point"] > 3 * small["wall_clock_seconds"]["point"]
    for m in (small, large):
        for v in m.values():
            assert v["lower"] <= v["point"] <= v["upper"]
    # served as `backtest` measures it: calibrated on snap's own runs, not other plugins'
    records = cache_module.current(cache).records().series
    snap = records[series_key(history_host(first_weeks), "snap", "download_bytes", None)]
    assert snap.variants["reports"].model == pooled.NAME
    assert len(snap.variants["reports"].residuals) == snap.data_points


def test_a_shape_needs_the_host_and_a_few_runs(first_weeks: Path) -> None:
    series = build_series(history.read(first_weeks).executions, None, METRICS)
    snap = next(s for s in series if s.plugin == "snap" and s.metric == "download_bytes")
    alone = pooled.borrow_all(snap, [])
    assert alone == {}  # no host to borrow from
    assert set(pooled.borrow_all(snap, series)) == {"base", "reports"}
    first = min(s.starts[0] for s in series)
    young = truncate(snap, 5)
    assert pooled.borrow(young, series, "reports", before=first) is None  # 5 runs alone


def test_a_plugins_time_takes_its_hosts_shape_from_its_first_run(first_weeks: Path) -> None:
    """One run says nothing of the other kind (a check's seconds for a build's minutes): the
    host's line on the break answers a plugin's time from its first run on. Memory and
    downloads, a level of each kind, wait for a second run."""
    series = build_series(history.read(first_weeks).executions, None, METRICS)
    snap = {s.metric: truncate(s, 1) for s in series if s.plugin == "snap"}
    for metric, young in snap.items():
        assert pooled.wanted(young) == (metric in ("wall_clock_seconds", "cpu_seconds"))
    wall = snap["wall_clock_seconds"]
    shaped = train_series(wall, None, False, borrowed=pooled.borrow_all(wall, series))
    assert shaped.record.variants["base"].model == pooled.NAME
    assert shaped.basis == "limited"


def test_a_shape_answers_until_the_own_race_is_calibrated(first_weeks: Path) -> None:
    """apt has 25 runs that count. Its time without a report is answered by its own race from
    16 runs on; with a report, and its memory either way, by the host's shape until its race
    leaves a full coverage check's residuals; its downloads without a report until the race's
    whole window."""
    series = build_series(history.read(first_weeks).executions, None, METRICS)
    apt = {s.metric: s for s in series if s.plugin == "apt"}
    wall, memory = apt["wall_clock_seconds"], apt["memory_peak_bytes"]
    assert wall.n == 25 < pooled.OWN_CALIBRATED
    lent = {n: set(pooled.borrow_all(truncate(wall, n), series)) for n in (15, 16)}
    assert lent == {15: {"base", "reports"}, 16: {"reports"}}
    assert set(pooled.borrow_all(wall, series)) == {"reports"}
    assert set(pooled.borrow_all(memory, series)) == {"base", "reports"}
    download = apt["download_bytes"]
    assert [pooled.lends_at(wall, n) for n in (28, 29)] == [True, False]
    assert [pooled.lends_at(download, n) for n in (59, 60)] == [True, False]
    assert set(pooled.borrow_all(truncate(download, 20), series)) == {"base", "reports"}
    assert pooled.until("reports", "download_bytes") == pooled.OWN_CALIBRATED
    late = train_series(wall, None, include_extras=False, borrowed=pooled.borrow_all(wall, series))
    assert late.record.variants["reports"].model == pooled.NAME
    assert late.record.variants["base"].model != pooled.NAME
    # answered by shapes alone, on enough runs of its own for a conformal rank: not `limited`
    for n, basis in ((memory.n, "model"), (6, "limited")):
        young = truncate(memory, n) if n < memory.n else memory
        shaped = train_series(young, None, False, borrowed=pooled.borrow_all(young, series))
        assert {v.model for v in shaped.record.variants.values()} == {pooled.NAME}
        assert shaped.basis == basis


def test_first_weeks_are_answered_near_the_truth_with_reports(first_weeks: Path) -> None:
    """Backtests of the last 8 runs. Before the host's shape, the answers with and without
    reports were the same: downloads missed by a median 78% (the truth: 7%) and covered 0.74,
    wall clock missed by 87%, its intervals spanning a thousandfold."""
    metrics = ("wall_clock_seconds", "download_bytes")
    request = BacktestRequest(first_weeks, metrics=metrics, last=8, n_jobs=1)
    results = backtest.evaluate(request, (True, False))

    def cases(mode: bool, metric: str) -> list[backtest.Case]:
        return [c for c in results[mode].cases if c.plugin != "total" and c.metric == metric]

    def ape(mode: bool, metric: str) -> float:
        seen = [c for c in cases(mode, metric) if c.actual > 0]
        return float(np.median([abs(c.intervals["ours"][0] - c.actual) / c.actual for c in seen]))

    assert ape(True, "download_bytes") < 0.2 < ape(False, "download_bytes")
    assert ape(True, "wall_clock_seconds") < 0.5
    walls = cases(True, "wall_clock_seconds")
    assert np.median([c.intervals["ours"][2] / c.intervals["ours"][1] for c in walls]) < 10
    for mode in (True, False):
        for metric in metrics:
            rows = cases(mode, metric)
            hits = [c.intervals["ours"][1] <= c.actual <= c.intervals["ours"][2] for c in rows]
            # 31 runs a cell, one miss 0.03: the 0.74 before the host's shape still fails
            assert np.mean(hits) >= 0.8, (mode, metric)


def test_a_short_plugin_keeps_its_own_level(tmp_path: Path) -> None:
    """cargo peaks at about 900 MB where its host's other plugins take 60-200 MB. Its level
    in the host's shape is its own from its first runs: with the slopes' ridge penalty on it,
    its first six runs were answered a median 0.64 (log) below their own level, 0.26 without.
    The line is the runs with work's (the checks peak lower, a kind of their own): drawn
    through the checks too, it lay 0.87 below them."""
    off = []
    for seed in (1, 2, 3, 4):
        db = tmp_path / f"{seed}.duckdb"
        plugins = ("apt", "flatpak", "pip", "cargo")
        simulate.write(simulate.generate(plugins, 20, seed, scenario_name="late-plugins"), db)
        series = build_series(history.read(db).executions, None, ("memory_peak_bytes",))
        cargo = next(s for s in series if s.plugin == "cargo")
        for n in (2, 3, 4, 6):
            young = truncate(cargo, n)
            shape = pooled.borrow(young, series, "base", before=cargo.starts[n])
            assert shape is not None and young.idle is not None
            if (~young.idle).any():
                work = young.y[~young.idle]
                off.append(float(np.median(shape.predictions) - np.median(work)))
    assert len(off) >= 12
    assert np.mean(np.abs(off)) < 0.4
    assert np.mean(off) > -0.4


def test_a_short_plugin_with_a_report_borrows_its_hosts_errors(tmp_path: Path) -> None:
    """A plugin with 3-8 runs answers with the host's line; its interval was a Student-t on
    its own few errors (too wide, or with near-equal errors too narrow). With the host's
    errors about the line lent (and its checks' spread, `quiet_spread`), a report's interval
    is narrower and still covers."""
    hits: dict[str, list[bool]] = {"lent": [], "own": []}
    widths: dict[str, list[float]] = {"lent": [], "own": []}
    for seed in range(1, 7):
        db = tmp_path / f"{seed}.duckdb"
        simulate.write(simulate.generate(PLUGINS, 20, seed, scenario_name="late-plugins"), db)
        series = build_series(history.read(db).executions, None, ("wall_clock_seconds",))
        for s in (s for s in series if s.reports and s.n < 15):  # joined late
            for n in range(3, min(s.n, 9)):
                young = truncate(s, n)
                shapes = pooled.borrow_all(young, series, s.starts[n])
                record = train_series(young, None, include_extras=False, borrowed=shapes).record
                lent = record.variants["reports"]
                assert lent.model == pooled.NAME
                assert lent.runs[:n] == list(young.run_numbers)
                assert len(lent.runs) > n and set(lent.runs[n:]) == {None}
                assert len(record.variants["base"].residuals) > n  # time lends without one
                own = lent._replace(
                    residuals=lent.residuals[:n],
                    censored=lent.censored[:n],
                    runs=lent.runs[:n],
                    quiet_errors=(),
                )
                actual = float(np.expm1(s.y[n]))
                for name, v in (("lent", lent), ("own", own)):
                    answer = record._replace(variants={**record.variants, "reports": v})
                    at = datetime.fromisoformat(s.starts[n])
                    p, used = predictive(answer, at, s.report(n))
                    assert used
                    e = single(p, 0.9)
                    hits[name].append(e.lower <= actual <= e.upper)
                    widths[name].append(math.log1p(e.upper) - math.log1p(e.lower))
    assert len(hits["lent"]) >= 30
    assert np.mean(hits["lent"]) >= 0.8
    assert np.median(widths["lent"]) < 0.85 * np.median(widths["own"])
    # memory without a report answers per kind, at levels that lent errors do not have
    memory = build_series(history.read(db).executions, None, ("memory_peak_bytes",))
    young = truncate(next(s for s in memory if s.reports and s.n < 15), 5)
    shapes = pooled.borrow_all(young, memory)
    record = train_series(young, None, include_extras=False, borrowed=shapes).record
    assert len(record.variants["base"].residuals) == 5
    assert len(record.variants["reports"].residuals) > 5


def costs_series(
    plugin: str, fixed: float, per_package: float, counts: np.ndarray, seed: int
) -> Series:
    """A plugin reporting before each daily run: a fixed cost plus one per package and per
    byte (2 MB a package at 20 MB/s), with 5% noise."""
    rng = np.random.default_rng(seed)
    sizes = counts * 2e6 * rng.lognormal(0, 0.3, len(counts))
    values = (fixed + per_package * counts + sizes / 2e7) * rng.lognormal(0, 0.05, len(counts))
    reports = {"package_count": counts, "download_bytes": sizes}
    return make_series(values, plugin=plugin, reports=reports)


def shaped(s: Series, others: list[Series]) -> SeriesRecord:
    """`s` trained as a short series of a host with `others`: its reports variant is the
    host's shape."""
    shapes = pooled.borrow_all(s, [s, *others])
    record = train_series(s, None, include_extras=False, borrowed=shapes).record
    assert record.variants["reports"].model == pooled.NAME
    return record


def a_day_later(record: SeriesRecord, s: Series, report: dict[str, float]) -> Predictive:
    """The record's answer to `report`, a day after `s`'s last run."""
    p, used = predictive(record, datetime.fromisoformat(s.starts[-1]) + timedelta(days=1), report)
    assert used
    return p


def builds_by_package() -> list[Series]:
    """apt's host: flatpak and snap, a few seconds plus 5-8 s a package."""
    rng = np.random.default_rng(0)
    return [
        costs_series("flatpak", 2.0, 8.0, rng.integers(0, 12, 14).astype(float), 1),
        costs_series("snap", 3.0, 5.0, rng.integers(0, 12, 14).astype(float), 2),
    ]


def test_a_report_is_read_from_the_plugins_own_costs_too() -> None:
    """apt's check costs 20 s and each package 0.3 s more; its host's other plugins cost a
    few seconds plus 5-8 s a package. On the host's line alone, whose slopes they share, a
    report of two packages after eight runs of 5-60 was answered at 55-61% of its 21 s;
    read from apt's own costs too, at 77-83%."""
    others = builds_by_package()
    ratios = []
    for seed in range(4):
        counts = np.random.default_rng(10 + seed).integers(5, 60, 8).astype(float)
        apt = costs_series("apt", 20.0, 0.3, counts, 20 + seed)
        p = a_day_later(shaped(apt, others), apt, {"package_count": 2.0, "download_bytes": 4e6})
        ratios.append(math.expm1(p.centre) / (20.0 + 0.6 + 0.2))
    assert all(0.7 < r < 1.2 for r in ratios), ratios


def test_a_short_plugins_report_is_read_between_the_nodes_as_a_sum() -> None:
    """apt's runs cost 20 s plus 0.4 s a package. Its host's shape, half its own costs
    summed, was read between the grid's nodes on the log scale, where a sum's logarithm is
    convex and every line between two nodes lay above it: reports of 5-60 packages were
    answered 1.1% high on average (log). Read on the raw scale, within 0.5%."""
    others = builds_by_package()
    errors = []
    for seed in range(8):
        counts = np.random.default_rng(10 + seed).integers(5, 60, 10).astype(float)
        apt = costs_series("apt", 20.0, 0.3, counts, 20 + seed)
        record = shaped(apt, others)
        assert record.variants["reports"].summed
        for k in np.linspace(5, 60, 12):
            p = a_day_later(record, apt, {"package_count": float(k), "download_bytes": k * 2e6})
            errors.append(math.log(math.expm1(p.centre) / (20.0 + 0.4 * k)))
    assert abs(float(np.mean(errors))) < 0.005, np.mean(errors)


def test_a_report_beyond_any_seen_is_answered_from_the_plugins_own_costs() -> None:
    """flatpak costs 5 s and 8 s a package; its host's apt has a 20 s check and 0.3 s a
    package. After eight runs of 1-6 packages, a report of 40 was answered by the average of
    the host's line and flatpak's own costs at 41-54% of its 329 s: the shared log slopes lean
    below a sum of costs beyond what they were fitted on. The own costs answer alone beyond
    every report seen, in proportion; a report within them is answered as before."""
    rng = np.random.default_rng(0)
    others = [
        costs_series("apt", 20.0, 0.3, rng.integers(5, 60, 14).astype(float), 1),
        costs_series("snap", 3.0, 5.0, rng.integers(0, 12, 14).astype(float), 2),
    ]
    for seed in range(4):
        counts = np.random.default_rng(10 + seed).integers(1, 7, 8).astype(float)
        flatpak = costs_series("flatpak", 5.0, 8.0, counts, 20 + seed)
        record = shaped(flatpak, others)
        for packages in (3, 40):
            report = {"package_count": float(packages), "download_bytes": packages * 2e6}
            p = a_day_later(record, flatpak, report)
            truth = 5.0 + 8.0 * packages + packages * 0.1
            assert 0.8 < math.expm1(p.centre) / truth < 1.25, (packages, math.expm1(p.centre))


NOTHING = {"package_count": 0.0, "download_bytes": 0.0}


def checks_and_work(
    plugin: str, check: float, counts: np.ndarray, seed: int, noise: float = 0.05
) -> Series:
    """A plugin whose check costs `check` seconds (`noise` on the log scale) and whose work,
    0.3 s a package and a download on a line whose speed varies tenfold, comes on top; it
    reports before each run, and a run of no package had nothing to do."""
    rng = np.random.default_rng(seed)
    sizes = counts * 2e6 * rng.lognormal(0, 0.3, len(counts))
    work = (0.3 * counts + sizes / 2e6) * rng.lognormal(0, 0.6, len(counts))
    values = check * rng.lognormal(0, noise, len(counts)) + work
    reports = {"package_count": counts, "download_bytes": sizes}
    return make_series(values, idle=counts == 0, plugin=plugin, reports=reports)


def test_a_report_of_nothing_to_do_is_answered_from_the_checks() -> None:
    """apt's check takes 20 s; its work on top of it varies with a line whose speed varies
    tenfold. After ten runs, three of which reported nothing, a report of nothing to do was
    answered on the line bent by the runs with work and calibrated on their errors: an
    interval over three times as wide (on the log scale) as the one from its checks and its
    host's, which covers fresh checks as often. Its first report of nothing to do, before any
    such run, was answered by the line's log slopes fallen towards nothing (a median 0.76 of
    the check); from its own costs, 0.90."""
    rng = np.random.default_rng(0)
    others = [
        checks_and_work(name, check, rng.choice([0, 0, 3, 8, 12], 14).astype(float), seed)
        for seed, (name, check) in enumerate((("flatpak", 6.0), ("snap", 9.0)), start=1)
    ]
    fresh = 20.0 * rng.lognormal(0, 0.05, 200)
    covered, firsts = [], []
    for seed in range(6):
        counts = np.random.default_rng(10 + seed).integers(5, 60, 10).astype(float)
        counts[[2, 5, 8]] = 0
        apt = checks_and_work("apt", 20.0, counts, 20 + seed)
        record = shaped(apt, others)
        assert len(record.variants["reports"].quiet_errors) >= 9
        e = single(a_day_later(record, apt, NOTHING), 0.9)
        assert 0.9 < e.point / 20.0 < 1.1
        assert math.log(e.upper / e.lower) < 0.45, (seed, e)
        covered.append(np.mean((fresh >= e.lower) & (fresh <= e.upper)))
        # with no run of nothing to do yet, nothing is lent, and the first such report is
        # answered from its own costs, below every report seen (not the line's log slopes)
        busy = checks_and_work("apt", 20.0, counts + 5, 20 + seed)
        assert len(pooled.borrow(busy, [busy, *others], "reports").quiet_errors) == 0
        p = a_day_later(shaped(busy, others), busy, NOTHING)
        firsts.append(math.expm1(p.centre) / 20.0)
    assert np.mean(covered) >= 0.85, covered
    assert 0.85 < float(np.median(firsts)) < 1.15, firsts  # the line's log slopes: 0.76


def test_a_new_users_few_checks_pool_their_spread() -> None:
    """A new user's host: each plugin has checked twice (10% noise). Their errors about each
    plugin's level were 6, too few for the conformal ranks, and a report of nothing to do
    was calibrated on every run's errors, the work's too: log widths of 1.1-1.7 (a median
    1.46) for a check whose 90% interval is 0.33 wide. Pooled, the checks' variance has
    three degrees of freedom, and Student's prediction interval (a median 0.48) covers fresh
    checks as often as it says."""
    widths, covered = [], []
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        others = []
        for index, (name, check) in enumerate((("flatpak", 6.0), ("snap", 9.0))):
            counts = rng.integers(3, 12, 12).astype(float)
            counts[[3, 9]] = 0
            others.append(checks_and_work(name, check, counts, 40 + 2 * seed + index, 0.1))
        counts = rng.integers(5, 60, 8).astype(float)
        counts[[2, 6]] = 0
        apt = checks_and_work("apt", 20.0, counts, 20 + seed, 0.1)
        e = single(a_day_later(shaped(apt, others), apt, NOTHING), 0.9)
        fresh = 20.0 * np.random.default_rng(seed).lognormal(0, 0.1, 400)
        widths.append(math.log(e.upper / e.lower))
        covered.append(float(np.mean((fresh >= e.lower) & (fresh <= e.upper))))
    assert float(np.median(widths)) < 0.8, widths
    assert np.mean(covered) >= 0.85, covered


def test_a_new_hosts_checks_spread_as_every_runs_check_phase(tmp_path: Path) -> None:
    """A new host's plugins (`late-plugins`, 16 runs, the last 8 judged): where a report said
    nothing to do and the plugins had one or two checks each, their few pairs set the spread,
    or none did and the runs with work's errors answered: log widths up to 1.66 (a quarter
    above 0.94) for checks whose 90% interval is 0.38 wide, covered 0.89 (0.77 on ten
    histories). Every run's CHECK phase joins them: at most 0.92, a quarter above 0.66."""
    widths, hits = [], []
    for seed in range(1, 7):
        db = tmp_path / f"{seed}.duckdb"
        simulate.write(simulate.generate(PLUGINS, 16, seed, scenario_name="late-plugins"), db)
        series = build_series(history.read(db).executions, None, ("wall_clock_seconds",))
        quiet = {
            (s.plugin, run)
            for s in series
            if s.reports
            for i, run in enumerate(s.run_ids)
            if all(v <= 0 for v in s.report(i).values())
        }
        request = BacktestRequest(db=db, metrics=("wall_clock_seconds",), last=8, n_jobs=1)
        for c in backtest.evaluate(request, [True])[True].cases:
            if (c.plugin, c.run_id) in quiet:
                _, lower, upper = c.intervals["ours"]
                widths.append(math.log(upper / lower))
                hits.append(lower <= c.actual <= upper)
    assert len(widths) >= 30
    assert max(widths) < 1.2, sorted(widths)
    assert float(np.quantile(widths, 0.75)) < 0.8, sorted(widths)
    assert np.mean(hits) >= 0.8


def late_cases(
    folder: Path,
    plugins: tuple[str, ...],
    runs: int,
    last: int,
    seeds: range,
    metric: str = "wall_clock_seconds",
) -> Iterator[tuple[backtest.Case, pd.DataFrame]]:
    """Each plugin's cases of `metric`, before the run, of the backtests of `late-plugins`
    histories, with the plugin's executions that succeeded or timed out."""
    for seed in seeds:
        db = folder / f"{seed}.duckdb"
        simulate.write(simulate.generate(plugins, runs, seed, scenario_name="late-plugins"), db)
        executions = history.read(db).executions
        done = executions[executions["status"].isin(("success", "timeout"))]
        request = BacktestRequest(db=db, metrics=(metric,), last=last, n_jobs=1)
        for c in backtest.evaluate(request, [False])[False].cases:
            if c.plugin != "total":
                yield c, done[done["plugin"] == c.plugin]


def test_a_plugin_that_has_only_checked_is_not_capped_by_its_checks(tmp_path: Path) -> None:
    """A new host's first week (8 runs, pip and cargo joining at the fifth): a plugin whose
    one or two runs so far were checks was capped at 1.5 times the longer of them, and its
    next run, a build or a download of minutes, was covered 2 times in 7 (the truth's 0.9);
    its upper end stood at a median 1.65 times its longest check. Its errors, lent by its
    host or the wide spread of a series with none, now reach as far as they go."""
    hits, reach = [], []
    for c, done in late_cases(tmp_path, NEW_HOST, 8, 6, range(1, 17)):
        before = done[done["start_time"] < c.start]
        if 0 < len(before) <= 2 and before["idle"].all():
            _, lower, upper = c.intervals["ours"]
            hits.append(lower <= c.actual <= upper)
            reach.append(upper / before["wall_clock_seconds"].max())
    assert len(hits) >= 6
    assert np.mean(hits) >= 0.55, hits
    assert float(np.median(reach)) > 2.5, reach


def test_a_new_plugins_checks_bound_its_interval_before_the_run(tmp_path: Path) -> None:
    """A new host's first weeks (16 runs, pip and snap joining halfway), before the run: a
    plugin with one to four checks among its runs was answered with its own and its host's
    errors, where its checks were one rank in thirty, and for 9 of its 83 next checks the
    interval's lower end stood above the median of its checks (at most 2.03 times it). The
    host's checks now stand in for its quiet kind, weighed by the chance of nothing to do,
    and its runs with work all still answer."""
    lows, checks_hit, work_hit = [], [], []
    for c, done in late_cases(tmp_path, PLUGINS, 16, 8, range(1, 13)):
        before = done[done["start_time"] < c.start]
        checked = before[before["idle"]]["wall_clock_seconds"]
        if not 1 <= len(checked) <= 4:
            continue
        _, lower, upper = c.intervals["ours"]
        hit = lower <= c.actual <= upper
        if done[done["start_time"] >= c.start]["idle"].iloc[0]:
            lows.append(lower / float(checked.median()))
            checks_hit.append(hit)
        else:
            work_hit.append(hit)
    assert len(lows) >= 60
    assert max(lows) < 1.1, sorted(lows)
    assert sum(low > 1.0 for low in lows) <= 3
    assert np.mean(checks_hit) >= 0.85
    assert np.mean(work_hit) >= 0.8


def test_a_download_of_something_and_nothing_answers_the_size_and_nothing() -> None:
    """A new user's apt, before its host can lend a shape: one run fetched 38 MB, the other
    nothing. Their median on the log scale, 6 kB, was its answer, 6.2 kB [0 B, 21 kB], a
    size it never fetched; its draws in a total fetched nothing one time in 21. Now it
    answers the size that came, from nothing, and half its draws fetch nothing."""
    s = make_series(np.array([38e6, 0.0]), metric="download_bytes", plugin="apt")
    record = train_series(s, None, include_extras=False).record
    p, _ = predictive(record, datetime.fromisoformat(s.starts[-1]) + timedelta(days=1), None)
    e = single(p, 0.9)
    assert e.point == pytest.approx(38e6, rel=0.01)
    assert e.lower == 0.0 and e.upper > 38e6
    nothing = [p.value(r) for r in p.residuals if p.value(r) <= 0.0]
    assert len(nothing) == pytest.approx(len(p.residuals) / 2, abs=1)
    # a download that always came, or never, answers as before
    for values in ([38e6, 20e6], [0.0, 0.0]):
        same = make_series(np.array(values), metric="download_bytes", plugin="apt")
        median = float(np.median(same.y))
        assert train_series(same, None, include_extras=False).record.variants["base"].points == [
            median
        ]


def test_checks_spread_as_students_prediction_interval() -> None:
    """Each plugin's checks about their own mean, pooled: the quantiles are Student's at the
    pooled degrees of freedom, widened for a level read from `own` checks."""
    checks = [np.array([1.0, 1.2]), np.array([2.0, 2.2, 2.4]), np.array([3.0])]
    spread = pooled.quiet_spread(checks, own=2)
    scale = math.sqrt((0.02 + 0.08) / 3 * 1.5)  # squares about each mean, 1 + 2 df
    assert len(spread) == pooled.QUIET_STEPS
    assert spread[94] == pytest.approx(scale * 2.353, rel=0.01)  # t(0.95, 3), rank 95 of 100
    assert spread[4] == pytest.approx(-spread[94])
    assert len(pooled.quiet_spread([np.array([1.0, 1.2]), np.array([3.0])], own=1)) == 0


def sized_downloads(plugin: str, bias: float, sizes: np.ndarray, seed: int) -> Series:
    """A plugin that reports the size of its download before each run: what comes is the
    size reported times `bias`, with 10% noise."""
    rng = np.random.default_rng(seed)
    values = sizes * bias * rng.lognormal(0, 0.1, len(sizes))
    reports = {"package_count": np.ceil(sizes / 5e6), "download_bytes": sizes}
    return make_series(values, metric="download_bytes", plugin=plugin, reports=reports)


def test_a_short_plugins_download_is_the_size_it_reports() -> None:
    """snap's downloads come a quarter above what it reports; its host's, as reported. With
    four runs of 20-80 MB, a report of 1 GB was answered from the host's line, whose log
    slopes on the size and the package count leant below it (a median 0.13 off in the log),
    and its interval was widened with the distance beyond the grid (0.83 in the log). The
    size reported times snap's own ratio answers closer, narrower, and covers as often."""
    rng = np.random.default_rng(0)
    others = [
        sized_downloads(name, 1.0, rng.uniform(5e6, 4e8, 14), seed)
        for seed, name in enumerate(("apt", "flatpak"), start=1)
    ]
    off, covered, widths = [], [], []
    for seed in range(12):
        snap = sized_downloads("snap", 1.25, rng.uniform(2e7, 8e7, 4), 10 + seed)
        report = {"package_count": 200.0, "download_bytes": 1e9}
        e = single(a_day_later(shaped(snap, others), snap, report), 0.9)
        fresh = 1.25e9 * rng.lognormal(0, 0.1, 400)
        off.append(abs(math.log(e.point / 1.25e9)))
        covered.append(np.mean((fresh >= e.lower) & (fresh <= e.upper)))
        widths.append(math.log(e.upper / e.lower))
    assert np.median(off) < 0.1, off
    assert np.median(widths) < 0.7, widths
    assert np.mean(covered) >= 0.9, covered


def test_a_plugin_that_never_downloaded_answers_its_first_report_of_a_size() -> None:
    """snap's first runs reported nothing and fetched nothing; then it reports 1 GB. The
    host's line, with no size of snap's own to reach from, answered 246 MB [4.7 KB, 865 MB];
    the size times its host's ratio answers about 1 GB, in an interval that reaches it (a
    wide one: the grid of sizes snap has reported ends at nothing)."""
    rng = np.random.default_rng(0)
    others = [
        sized_downloads(name, 1.0, rng.uniform(5e6, 4e8, 14), seed)
        for seed, name in enumerate(("apt", "flatpak"), start=1)
    ]
    snap = sized_downloads("snap", 1.0, np.zeros(3), 3)
    e = single(
        a_day_later(shaped(snap, others), snap, {"package_count": 200.0, "download_bytes": 1e9}),
        0.9,
    )
    assert 0.8 < e.point / 1e9 < 1.25, e
    assert e.lower < 1e9 < e.upper


def test_a_report_beyond_the_race_of_a_winner_that_reads_none_is_answered_from_own_costs() -> None:
    """apt costs 12 s and 2.7 s a package. Its first run had 60 packages; the 29 after it, the
    ones its own race is judged on, 0-5: a model that reads no report may win that race, and
    then answered a report of 78 packages as a typical run (16 s where 230 s came). Beyond
    every report of the race's runs the plugin's own costs answer; within them, the winner
    does, as before."""
    counts = np.concatenate([[60.0], np.random.default_rng(3).integers(0, 6, 29)])
    apt = costs_series("apt", 12.0, 2.7, counts, 4)
    record = train_series(apt, None, include_extras=False, only=("none",)).record
    assert not reads_reports(record.variants["reports"].model)  # a baseline won
    for packages, low, high in ((78, 0.7, 1.4), (2, 0.0, 2.0)):
        report = {"package_count": float(packages), "download_bytes": packages * 2e6}
        p = a_day_later(record, apt, report)
        truth = 12.0 + 2.7 * packages + packages * 0.1
        assert low < math.expm1(p.centre) / truth < high, (packages, math.expm1(p.centre))
    typical = a_day_later(record, apt, {"package_count": 2.0, "download_bytes": 4e6})
    base, _ = predictive(record, datetime.fromisoformat(apt.starts[-1]) + timedelta(days=1), None)
    assert typical.centre == pytest.approx(base.centre, abs=0.2)


def test_a_plugin_that_always_works_is_not_read_as_its_hosts_checks() -> None:
    """Peak memory: its host's other plugins only check after a break of an hour or two (a
    third of their memory), where apt, whose releases come often, had work then too. The
    host's line of memory on the break took those checks for the break's effect: apt's
    runs an hour after the last were forecast at half their memory, and their errors
    widened every interval. The kinds are told apart by the chance of work
    (`serving.idle`), so the line is drawn through the runs with work alone."""
    rng = np.random.default_rng(3)
    gaps = np.tile([30.0, 1.0, 40.0, 2.0, 26.0], 4)
    siblings = []
    for k, level in enumerate((150e6, 90e6, 200e6)):
        idle = gaps < 3
        values = level * np.where(idle, 0.3, 1.0) * rng.lognormal(0, 0.05, len(gaps))
        siblings.append(make_series(values, gaps, idle, "memory_peak_bytes", f"s{k}"))
    apt_gaps = np.array([30.0, 1.0, 40.0, 2.0, 26.0, 1.5, 30.0])
    values = 130e6 * rng.lognormal(0, 0.05, len(apt_gaps))
    apt = make_series(values, apt_gaps, np.zeros(7, dtype=bool), "memory_peak_bytes", "apt")
    shape = pooled.borrow(apt, [apt, *siblings], "base")
    assert shape is not None
    assert np.abs(apt.y - shape.centres).max() < 0.2
    assert np.abs(shape.predictions - math.log(130e6)).max() < 0.2


def test_a_reported_size_beyond_the_counts_seen_is_not_widened_by_them() -> None:
    """A new host's snap had reported one package at a time when it reported 13 (969 MB): its
    size times its ratio answers at every node, whatever the count, yet the count beyond its
    grid's 0-3 widened every error by 1.9 times, 1.0 GB [601 MB, 1.5 GB] for 937 MB (the
    truth's [838 MB, 1.1 GB]). An axis its forecast does not move along adds no distance;
    beyond the sizes seen, where it moves, the distance still counts."""
    sizes, counts = [0.0, 1e8, 2e8], [0.0, 1.0, 3.0]
    points = [math.log1p(size) for _ in counts for size in sizes]  # the count, then the size
    variant = Variant.constant(HOST_SHAPE, 0.0)._replace(
        axes=[Axis("package_count", counts), Axis("download_bytes", sizes)], points=points
    )
    past_counts = locate(variant, {"package_count": 13.0, "download_bytes": 1.5e8})
    assert past_counts.distance == 0.0
    assert past_counts.centre == pytest.approx(math.log1p(1.5e8), abs=1e-6)
    past_sizes = locate(variant, {"package_count": 2.0, "download_bytes": 9.7e8})
    assert past_sizes.distance > 0.0
    assert past_sizes.centre == pytest.approx(math.log1p(9.7e8), abs=1e-3)


def test_a_new_plugins_first_check_peaks_at_its_hosts_checks(tmp_path: Path) -> None:
    """A new host's first weeks, peak memory before the run: a plugin whose every run so far
    had work, its next run a check (a third of an update's memory), was answered at its
    updates' level alone and never covered. Its host's checks below their updates now stand
    in for its own, weighed by a release rate before any check."""
    hits, work_hits = [], []
    for c, done in late_cases(tmp_path, PLUGINS, 16, 8, range(1, 13), "memory_peak_bytes"):
        before = done[done["start_time"] < c.start]
        if len(before) and not before["idle"].any():
            hit = c.intervals["ours"][1] <= c.actual <= c.intervals["ours"][2]
            now = done[done["start_time"] >= c.start]["idle"].iloc[0]
            (hits if now else work_hits).append(hit)
    assert len(hits) >= 8
    assert np.mean(hits) >= 0.7, hits
    assert np.mean(work_hits) >= 0.85


def test_a_new_plugins_first_check_takes_its_check_phase(tmp_path: Path) -> None:
    """The same, wall clock: a plugin whose every run so far had work answered its first
    check from its runs with work and its host's errors, an interval 1.79 wide in the log
    (median of 15 such checks). Its own CHECK phases, moved by how far its host's checks lay
    above theirs, now stand in for it: 1.22, every one covered."""
    widths, hits, work_hits = [], [], []
    for c, done in late_cases(tmp_path, PLUGINS, 16, 8, range(1, 13)):
        before = done[done["start_time"] < c.start]
        if len(before) and not before["idle"].any():
            _, lower, upper = c.intervals["ours"]
            hit = lower <= c.actual <= upper
            if done[done["start_time"] >= c.start]["idle"].iloc[0]:
                widths.append(math.log(upper / lower))
                hits.append(hit)
            else:
                work_hits.append(hit)
    assert len(widths) >= 8
    assert float(np.median(widths)) < 1.5, sorted(widths)
    assert np.mean(hits) >= 0.9
    assert np.mean(work_hits) >= 0.8


def test_a_new_plugins_first_download_of_nothing_is_covered(tmp_path: Path) -> None:
    """The same, a download: a plugin whose every run so far fetched something read a size
    from its runs, and its first run that fetched nothing fell below every interval (0 of
    15 covered). A stand-in run that fetched nothing now answers beside them, as likely as
    a check: 15 of 15, and the runs that fetched something 23 -> 24 of 28."""
    nothing, sizes = [], []
    for c, done in late_cases(tmp_path, PLUGINS, 16, 8, range(1, 13), "download_bytes"):
        before = done[done["start_time"] < c.start]
        if len(before) and not before["idle"].any():
            _, lower, upper = c.intervals["ours"]
            (nothing if c.actual == 0 else sizes).append(lower <= c.actual <= upper)
    assert len(nothing) >= 8
    assert np.mean(nothing) >= 0.8, nothing
    assert np.mean(sizes) >= 0.8
