"""The warm path on hand-made forecast records: what a record's fields must make it answer."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest

from tests.records import typed, typed_all
from update_estimate.record import series_key
from update_estimate.requests import EstimateRequest
from update_estimate.serving.conformal import at_rank
from update_estimate.serving.estimate import estimate
from update_estimate.serving.predictive import (
    MIN_SAME_KIND,
    ZERO_LOG,
    Predictive,
    default_predictive,
    predictive,
    single,
)


def download_record(plugin: str, zeros: list[int], seed: int) -> dict:
    """A download series whose run i in `zeros` fetched nothing: its residual is what the
    backtest saw then (a smaller centre than today's), so shifted it is a few bytes, not zero."""
    rng = np.random.default_rng(seed)
    centre_now, centre_then = math.log1p(5e6), math.log1p(2e5)
    residuals = rng.normal(0, 0.3, 60)
    residuals[zeros] = 0.0 - centre_then
    return {
        "host": "h",
        "plugin": plugin,
        "metric": "download_bytes",
        "phase": None,
        "data_points": 80,
        "last_success": "2026-01-01 10:00:00",
        "cap": math.log1p(1e9),
        "basis": "model",
        "variants": {
            "base": {
                "model": "linear",
                "axes": [],
                "points": [centre_now],
                "weekday": None,
                "hour": None,
                "residuals": residuals.round(6).tolist(),
                "censored": [False] * 60,
                "runs": list(range(60)),
                "zeros": zeros,
            }
        },
    }


def test_runs_that_downloaded_nothing_replay_as_nothing() -> None:
    quiet = list(range(0, 60, 6))  # both plugins fetched nothing in a sixth of the runs
    records = {
        series_key("h", name, "download_bytes"): download_record(name, quiet, seed)
        for seed, name in enumerate(("apt", "pip"))
    }
    request = EstimateRequest(plugins=("apt", "pip"), at=datetime(2026, 1, 2, 10))
    answer = estimate(typed_all(records), "h", request, "cache")
    total = answer.total["download_bytes"]
    assert total.lower == 0.0
    assert total.point > 1e6
    for plugin in answer.plugins:
        assert plugin.metrics["download_bytes"].lower == 0.0
    without = {
        k: {**r, "variants": {"base": {**r["variants"]["base"], "zeros": []}}}
        for k, r in records.items()
    }
    shifted = estimate(typed_all(without), "h", request, "cache").total["download_bytes"]
    assert shifted.lower > 0.0


def test_a_mass_of_zeros_moves_the_miss_budget_to_the_upper_end() -> None:
    """A fifth of the runs downloaded nothing: the interval starts at zero, and its upper end
    is the 90% rank, not the 95% one (an equal-tailed interval would cover about 95%)."""
    from update_estimate.serving import conformal

    values = [0.0] * 20 + [float(v) for v in range(1, 81)]
    b = conformal.bounds(values, 0.9, floor=0.0)
    assert b.lower == 0.0
    assert b.upper == pytest.approx(70.9)  # rank 101 * 0.9 = 90.9 of 100: 20 zeros, then 1..71
    assert conformal.bounds(values, 0.9).upper == pytest.approx(75.95)  # equal-tailed: 95.95
    few = [0.0] * 2 + [float(v) for v in range(1, 99)]
    assert conformal.bounds(few, 0.9, floor=0.0) == conformal.bounds(few, 0.9)


def test_an_upper_rank_between_nothing_and_a_size_reads_the_size() -> None:
    """A re-run hours later: nine draws in ten fetch nothing (residuals of log1p sizes about a
    centre of 80 MB, nothing at its floor). The 90% rank, 54.9 of 60, falls between the last
    nothing and the smallest package: read between them in the log it was 10 MB, a size no run
    fetches; the upper end is that package. Where the rank lands on nothing, nothing it is."""
    from update_estimate.serving import conformal

    centre = np.log1p(80e6)
    floor = -centre
    sizes = [np.log1p(s * 1e6) - centre for s in (60, 75, 80, 90, 110, 160)]
    b = conformal.bounds([floor] * 54 + sizes, 0.9, centre=0.0, floor=floor)
    assert (b.lower, b.upper) == (floor, pytest.approx(sizes[0]))
    assert np.expm1(centre + b.upper) == pytest.approx(60e6)
    mostly = conformal.bounds([floor] * 56 + sizes[:4], 0.9, centre=0.0, floor=floor)
    assert (mostly.lower, mostly.upper) == (floor, floor)


def test_ranks_are_exact_at_decimal_levels() -> None:
    """39 values at 90%: ranks 2 and 38 of 40 slots cover exactly 0.9. In binary floats
    40 * (1 - 0.9) / 2 is 1.9999999999999996, and the lower rank was 1 (coverage 0.925); with 19
    values the lower rank was 0 and the interval fell back to the wider symmetric form."""
    from update_estimate.serving import conformal

    assert conformal.bounds([float(v) for v in range(39)], 0.9) == conformal.Bounds(1.0, 37.0, True)
    assert conformal.bounds([float(v) for v in range(19)], 0.9) == conformal.Bounds(0.0, 18.0, True)
    assert conformal.min_residuals(0.9) == 9
    assert conformal.min_residuals(0.95) == 19


def reports_record(seed: int, quiet_runs: int = 30) -> dict:
    """A download series with a report: 30 runs (or `quiet_runs`) reported and fetched nothing,
    the others of 60 reported some megabytes and fetched them within ~30%."""
    rng = np.random.default_rng(seed)
    work = rng.normal(0, 0.3, 60 - quiet_runs)
    residuals = np.concatenate([np.zeros(quiet_runs), work])
    order = rng.permutation(60)
    record = download_record("snap", [], seed)
    record["variants"]["reports"] = {
        **record["variants"]["base"],
        "model": "linear+reports",
        "axes": [["gap_hours", [1.0, 100.0]], ["download_bytes", [0.0, 1e8]]],
        "points": [0.0, math.log1p(1e8), 0.0, math.log1p(1e8)],
        "residuals": residuals[order].round(6).tolist(),
        "zeros": [int(i) for i in np.flatnonzero(order < quiet_runs)],
        "quiet": [int(i) for i in np.flatnonzero(order < quiet_runs)],
    }
    return record


def test_a_few_runs_of_the_reported_kind_are_enough() -> None:
    """48 quiet runs and 12 that downloaded (`bursty`): a work report is calibrated on the 12
    alone, by the symmetric rank (13 * 0.9 = 11.7 of 12) of distances scaled by side. Mixed
    with the 48 zeros, as when 19 were required, the upper bound is the 55th of 60, inside the
    work runs' spread."""
    from update_estimate.serving import conformal

    record = reports_record(5, quiet_runs=48)
    variant = record["variants"]["reports"]
    work = [r for i, r in enumerate(variant["residuals"]) if i not in set(variant["quiet"])]
    p, used = predictive(typed(record), datetime(2026, 1, 2, 10), {"download_bytes": 5e7})
    est = single(p, 0.9)
    assert used and sorted(p.residuals) == sorted(work)
    up, down = conformal.side_scales(work, 0.0)
    assert up != 1.0 and down != 1.0
    spread = sorted(r / up if r >= 0 else -r / down for r in work)
    assert est.upper == pytest.approx(math.expm1(p.centre + up * at_rank(spread, 11.7)))
    assert spread[10] < at_rank(spread, 11.7) < spread[11]
    assert MIN_SAME_KIND == 3


def test_a_handful_of_the_reported_kind_answer_alone() -> None:
    """A new user's plugin: 55 quiet runs and 5 that downloaded. A work report is answered
    from the 5 (a limited interval), never from the zeros, which held its lower bound at 0
    and stretched its upper bound by the spread between nothing and a download."""
    record = reports_record(6, quiet_runs=55)
    variant = record["variants"]["reports"]
    work = [r for i, r in enumerate(variant["residuals"]) if i not in set(variant["quiet"])]
    p, used = predictive(typed(record), datetime(2026, 1, 2, 10), {"download_bytes": 5e7})
    est = single(p, 0.9)
    assert used and sorted(p.residuals) == sorted(work) and len(work) == 5
    assert est.lower > 0 and est.upper < 10 * est.point


def test_a_report_is_calibrated_on_runs_with_the_same_kind_of_report() -> None:
    """With work reported, the quiet runs' exact zeros must not take a share of the interval:
    the bounds are the conformal ranks of the 30 working runs' residuals alone."""
    record = reports_record(3)
    at = datetime(2026, 1, 2, 10)
    work = sorted(
        r
        for i, r in enumerate(record["variants"]["reports"]["residuals"])
        if i not in set(record["variants"]["reports"]["quiet"])
    )
    p, used = predictive(typed(record), at, {"download_bytes": 5e7})
    est = single(p, 0.9)
    assert used and len(p.residuals) == 30
    centre = p.centre
    assert est.upper == pytest.approx(math.expm1(centre + at_rank(work, 29.45)))  # 31 * 0.95
    assert est.lower == pytest.approx(math.expm1(centre + at_rank(work, 1.55)))  # 31 * 0.05
    assert est.lower > 0.0
    mixed = {**record["variants"]["reports"], "quiet": []}
    variants = {"base": record["variants"]["base"], "reports": mixed}
    p_mixed, _ = predictive(typed({**record, "variants": variants}), at, {"download_bytes": 5e7})
    pooled = single(p_mixed, 0.9)
    assert pooled.lower == 0.0 and pooled.upper < est.upper  # the failure this prevents
    quiet, _ = predictive(typed(record), at, {"download_bytes": 0.0})
    nothing = single(quiet, 0.9)
    assert len(quiet.residuals) == 30 and nothing.upper < 1.0


def time_reports_record(metric: str, quiet_runs: int, seed: int = 4) -> dict:
    """A time (or memory) series with a report: of 60 runs, `quiet_runs` reported nothing to
    do and were checks within ~8% of their forecast, the others updated and missed it by ~40%
    (a slow day's download among them)."""
    record = reports_record(seed, quiet_runs)
    variant = record["variants"]["reports"]
    rng = np.random.default_rng(seed)
    quiet = set(variant["quiet"])
    residuals = [rng.normal(0, 0.08 if i in quiet else 0.4) for i in range(60)]
    variant["residuals"] = [round(float(r), 6) for r in residuals]
    variant["zeros"] = []
    check, update = math.log1p(20.0), math.log1p(600.0)  # seconds (or megabytes)
    variant["points"] = [check, update, check, update]
    return {**record, "metric": metric}


def test_a_time_reported_quiet_is_calibrated_on_the_quiet_runs() -> None:
    """A report of nothing to do answers a time from the 20 quiet runs' errors alone, by their
    two-sided ranks (21 * 0.05, 21 * 0.95): pooled with the runs that updated, a check's
    seconds were given the spread of a slow day's download. A report of work keeps all 60."""
    at = datetime(2026, 1, 2, 10)
    record = time_reports_record("wall_clock_seconds", quiet_runs=20)
    variant = record["variants"]["reports"]
    quiet = sorted(r for i, r in enumerate(variant["residuals"]) if i in set(variant["quiet"]))
    p, used = predictive(typed(record), at, {"download_bytes": 0.0})
    est = single(p, 0.9)
    assert used and sorted(p.residuals) == quiet
    assert est.upper == pytest.approx(math.expm1(p.centre + at_rank(quiet, 19.95)), rel=1e-6)
    assert est.lower == pytest.approx(math.expm1(p.centre + at_rank(quiet, 1.05)), rel=1e-6)
    as_memory = predictive(
        typed({**record, "metric": "memory_peak_bytes"}), at, {"download_bytes": 0.0}
    )[0]
    pooled = single(as_memory, 0.9)
    assert math.log(est.upper / est.lower) < 0.5 * math.log(pooled.upper / pooled.lower)
    work, used = predictive(typed(record), at, {"download_bytes": 5e7})
    assert used and len(work.residuals) == 60


@pytest.mark.parametrize(
    ("metric", "quiet_runs"), [("memory_peak_bytes", 20), ("wall_clock_seconds", 8)]
)
def test_memory_and_a_few_quiet_runs_calibrate_on_every_run(metric: str, quiet_runs: int) -> None:
    """Memory is a level for each kind, which the report's model already places, and eight
    quiet runs are too few for a conformal rank of their own: both keep all 60 residuals."""
    record = time_reports_record(metric, quiet_runs)
    p, used = predictive(typed(record), datetime(2026, 1, 2, 10), {"download_bytes": 0.0})
    assert used and len(p.residuals) == 60


def test_the_point_moves_only_where_the_residuals_lean() -> None:
    """Residuals around zero leave the point at the model's forecast (moving it by their sample
    median only adds that median's noise); residuals that lean, as after a level shift, move it."""
    from update_estimate.serving import conformal

    rng = np.random.default_rng(3)
    balanced = rng.normal(0, 0.3, 40)
    assert conformal.median(balanced.tolist()) != 0.0
    assert conformal.bias(balanced.tolist()) == 0.0
    lagging = (balanced + 0.4).tolist()
    assert conformal.bias(lagging) == conformal.median(lagging)
    fired = [conformal.bias(rng.normal(0, 1, 40).tolist()) != 0.0 for _ in range(400)]
    assert 0.01 < np.mean(fired) < 0.1  # a sign test at about 95%: rarely fooled by noise

    def point(residuals: list[float]) -> float:
        p = Predictive(math.log1p(100.0), residuals, [False] * 40, [None] * 40, 40, "m", "model")
        return single(p, 0.9).point

    assert point(balanced.tolist()) == pytest.approx(100.0)
    assert point(lagging) == pytest.approx(
        math.expm1(math.log1p(100.0) + conformal.median(lagging))
    )


def test_student_quantiles() -> None:
    from scipy import stats

    from update_estimate.serving import conformal

    for df in (1, 2, 3, 5, 8, 30):
        for p in (0.9, 0.95, 0.975):
            assert conformal.student_t(p, df) == pytest.approx(stats.t.ppf(p, df), rel=2e-3)


@pytest.mark.parametrize("n", [3, 5, 8])
def test_too_few_residuals_still_cover_about_the_level(n: int) -> None:
    """Below the ranks' minimum the interval is marked limited, and for normal errors it
    covers about 90%: neither a point nor a blanket (the widest residual, widened, covered
    0.97 at n 3)."""
    from update_estimate.serving import conformal

    rng = np.random.default_rng(n)
    hits = []
    for _ in range(4000):
        past, nxt = rng.normal(0, 1, n), rng.normal(0, 1)
        b = conformal.bounds(past.tolist(), 0.9)
        assert not b.calibrated
        hits.append(b.lower <= nxt <= b.upper)
    assert 0.88 <= np.mean(hits) <= 0.95


def test_a_plugin_that_never_downloaded_is_not_answered_with_a_point() -> None:
    """Four runs, all downloading nothing: no size was ever seen, so the interval reaches
    tenfold above the centre (a host's typical size, from `pooled`), not a few bytes above
    zero; from 9 such runs the one-sided rank may honestly say nothing comes."""
    from update_estimate.serving import conformal

    centre = math.log1p(20e6)
    zeros = [ZERO_LOG - centre] * 4
    b = conformal.bounds(zeros, 0.9, centre=0.0, floor=zeros[0])
    assert not b.calibrated and b.lower == zeros[0]
    assert math.expm1(centre + b.upper) == pytest.approx(10 * 20e6, rel=0.01)
    many = conformal.bounds(zeros * 3, 0.9, centre=0.0, floor=zeros[0])
    assert many.calibrated and many.upper == zeros[0]


def test_a_plugin_whose_runs_all_fetched_nothing_is_answered_nothing() -> None:
    """Six runs that fetched nothing, with and without a report of nothing to download: the
    estimate is 0 B and its interval too, where the padding of a limited interval on the
    log1p scale read "0-9 B" (or "0-1 B" where the cap pressed it)."""
    from tests.scenarios import make_series, next_estimate
    from update_estimate.face.render import human_interval

    nothing = np.zeros(6)
    for reports in (None, {"download_bytes": nothing, "package_count": nothing}):
        e = next_estimate(make_series(nothing, metric="download_bytes", reports=reports))
        assert (e.point, e.lower, e.upper) == (0.0, 0.0, 0.0)
        assert human_interval("download_bytes", e.lower, e.upper) == "0 B"


def test_a_plugin_never_seen_may_download_nothing() -> None:
    """Its host's plugins fetch 20-200 MB a run; a new plugin's first runs are often checks
    that find nothing, so its download reaches down to zero. Its time still starts from a
    quarter of the quickest plugin's: every run takes some."""
    known = [
        Predictive(math.log1p(v), [0.0] * 20, [False] * 20, [None] * 20, 20, "m", "model")
        for v in (20e6, 50e6, 200e6)
    ]
    download = single(default_predictive("download_bytes", known), 0.9)
    assert download.lower == 0.0 and download.upper == pytest.approx(800e6, rel=0.01)
    wall = single(default_predictive("wall_clock_seconds", known), 0.9)
    assert wall.lower == pytest.approx(5e6, rel=0.01)


def test_a_new_plugin_that_fetched_nothing_once_may_fetch_a_host_sized_download() -> None:
    """cargo's one run so far downloaded nothing: its median is zero, and errors borrowed
    from plugins that download are relative to a size cargo has never shown. Added to zero
    they answered [0 B, 0.6 B]; it is answered as a plugin never seen, up to its host's
    sizes, before the run and while it runs."""
    from update_estimate.serving.tracker import RunTracker

    once = {
        "host": "h",
        "plugin": "cargo",
        "metric": "download_bytes",
        "phase": None,
        "data_points": 1,
        "last_success": "2026-01-01 10:00:00",
        "cap": 0.0,
        "basis": "limited",
        "variants": {
            "base": {"model": "rolling_median", "points": [0.0], "residuals": [0.3, 1.1, -0.4] * 7}
        },
    }
    records = typed_all(
        {
            series_key("h", "apt", "download_bytes"): download_record("apt", [], 0),
            series_key("h", "cargo", "download_bytes"): once,
        }
    )
    request = EstimateRequest(plugins=("apt", "cargo"), at=datetime(2026, 1, 2, 10))
    answer = estimate(records, "h", request, "cache")
    cargo = next(p for p in answer.plugins if p.plugin == "cargo").metrics["download_bytes"]
    assert cargo.lower == 0.0 and cargo.upper > 1e6
    assert cargo.basis == "default"
    tracker = RunTracker(records, "h", ["apt", "cargo"], datetime(2026, 1, 2, 10))
    progress = tracker.plugin_start("apt", datetime(2026, 1, 2, 10))
    assert progress.download_left.upper >= cargo.upper


def test_a_plugin_never_seen_is_answered_around_the_size_it_reports() -> None:
    """flatpak has no history yet and reports 200 MB to fetch: its download is answered
    around that, not around its host's typical sizes (5 MB here), before the run and in the
    tracker once the report arrives; the report counts as used."""
    from update_estimate.serving.tracker import RunTracker

    records = typed_all({series_key("h", "apt", "download_bytes"): download_record("apt", [], 0)})
    at = datetime(2026, 1, 2, 10)
    report = {"flatpak": {"download_bytes": 2e8}}
    request = EstimateRequest(plugins=("apt", "flatpak"), at=at, covariates=report)
    answer = estimate(records, "h", request, "cache")
    flatpak = next(p for p in answer.plugins if p.plugin == "flatpak")
    download = flatpak.metrics["download_bytes"]
    assert download.point == pytest.approx(2e8, rel=0.01)
    assert download.lower < 2e8 < download.upper and flatpak.used_covariates
    silent = estimate(records, "h", EstimateRequest(plugins=("apt", "flatpak"), at=at), "cache")
    assert (
        next(p for p in silent.plugins if p.plugin == "flatpak").metrics["download_bytes"].upper
        < 2e8
    )
    tracker = RunTracker(records, "h", ["apt", "flatpak"], at)
    tracker.plugin_start("flatpak", at)
    progress = tracker.report("flatpak", at, download_bytes=2e8)
    assert progress.download_left.point > 1.5e8


def test_a_download_of_one_run_with_nothing_to_borrow_may_fetch_nothing() -> None:
    """snap fetched 63 MB in its one run and its host lends no errors: its spread is a wide
    one about that run. Its next run may find nothing to fetch (eight of the 32 such runs in
    `bench/first_runs.py` did, below a lower bound of a quarter of the run); its time still
    takes some, and the point stays its run's."""
    at = datetime(2026, 1, 2, 10)

    def answer(metric: str, value: float) -> tuple[float, float, float]:
        record = {
            "plugin": "snap",
            "metric": metric,
            "data_points": 1,
            "last_success": "2026-01-01 10:00:00",
            "cap": math.log1p(1.5 * value),
            "basis": "limited",
            "variants": {
                "base": {"model": "rolling_median", "points": [math.log1p(value)], "residuals": []}
            },
        }
        m = single(predictive(typed(record), at, None)[0], 0.9)
        return m.point, m.lower, m.upper

    point, lower, upper = answer("download_bytes", 63e6)
    assert lower == 0.0 and point == pytest.approx(63e6, rel=0.01) and upper > 63e6
    point, lower, _ = answer("wall_clock_seconds", 20.0)
    assert 3.0 < lower < 6.0 and point == pytest.approx(20.0, rel=0.01)


def test_a_report_its_record_cannot_read_is_answered_as_a_plugin_never_seen() -> None:
    """flatpak fetched 156 MB in its one run, too few for its host's shape with reports: its
    record answers that size (1.5 times it at most), whatever it reports. Reporting 300 MB,
    it is answered around the report, before the run and in the tracker once the report
    arrives, and the warning says the report sized its download only; reporting nothing to
    fetch, nothing; without a report, from its run."""
    from update_estimate.serving.tracker import RunTracker

    once = {
        "plugin": "flatpak",
        "metric": "download_bytes",
        "data_points": 1,
        "last_success": "2026-01-01 10:00:00",
        "cap": math.log1p(1.5 * 156e6),
        "basis": "limited",
        "variants": {
            "base": {
                "model": "rolling_median",
                "points": [math.log1p(156e6)],
                "residuals": [-0.6, -0.2, 0.0, 0.1, 0.3, 0.5] * 4,
                "runs": [None] * 24,
                "borrowed": True,
            }
        },
    }
    wall = {**once, "metric": "wall_clock_seconds", "cap": math.log1p(90.0)}
    wall["variants"] = {"base": {**once["variants"]["base"], "points": [math.log1p(60.0)]}}
    records = typed_all(
        {
            series_key("h", "apt", "download_bytes"): download_record("apt", [], 0),
            series_key("h", "flatpak", "download_bytes"): once,
            series_key("h", "flatpak", "wall_clock_seconds"): wall,
        }
    )
    at = datetime(2026, 1, 2, 10)

    def flatpak(report: dict[str, float] | None) -> tuple:
        covariates = {"flatpak": report} if report is not None else {}
        request = EstimateRequest(plugins=("apt", "flatpak"), at=at, covariates=covariates)
        answer = estimate(records, "h", request, "cache")
        p = next(p for p in answer.plugins if p.plugin == "flatpak")
        return p.metrics["download_bytes"], p.used_covariates, answer.warnings

    reported, used, warnings = flatpak({"download_bytes": 3e8, "package_count": 4})
    assert reported.point == pytest.approx(3e8, rel=0.01) and used
    assert reported.lower < 3e8 < reported.upper and reported.basis == "default"
    assert warnings == [
        "flatpak's report sized its download only: flatpak has not reported its work in enough runs"
    ]
    nothing, used, _ = flatpak({"download_bytes": 0.0, "package_count": 0})
    assert (nothing.point, nothing.lower, nothing.upper) == (0.0, 0.0, 0.0) and used
    silent, used, _ = flatpak(None)
    assert silent.point == pytest.approx(156e6, rel=0.3) and not used
    assert silent.upper < 3e8 and silent.basis == "limited"
    tracker = RunTracker(records, "h", ["apt", "flatpak"], at)
    tracker.plugin_start("flatpak", at)
    progress = tracker.report("flatpak", at, download_bytes=3e8)
    assert progress.download_left.point > 2.5e8


def test_a_plugin_that_never_recorded_a_download_is_sized_by_its_report() -> None:
    """flatpak's runs recorded their time but never a download: its report of 300 MB is
    answered around that size, and the warning says the report sized its download only."""
    wall = {
        "plugin": "flatpak",
        "metric": "wall_clock_seconds",
        "data_points": 1,
        "last_success": "2026-01-01 10:00:00",
        "cap": math.log1p(90.0),
        "basis": "limited",
        "variants": {
            "base": {"model": "rolling_median", "points": [math.log1p(60.0)], "residuals": []}
        },
    }
    records = typed_all({series_key("h", "flatpak", "wall_clock_seconds"): wall})
    at = datetime(2026, 1, 2, 10)
    report = {"flatpak": {"download_bytes": 3e8, "package_count": 4}}
    request = EstimateRequest(plugins=("flatpak",), at=at, covariates=report)
    answer = estimate(records, "h", request, "cache")
    download = answer.plugins[0].metrics["download_bytes"]
    assert download.point == pytest.approx(3e8, rel=0.01) and download.lower < 3e8 < download.upper
    assert answer.warnings == [
        "flatpak's report sized its download only: flatpak has not reported its work in enough runs"
    ]


def lent_record(own: list[float], lent: list[float], numbered: bool = False) -> dict:
    """flatpak's CPU with a few runs of its own, its host's line calibrated by the errors the
    host lends it (runs None) after them; one break weeks ago lifted its cap to 112 s."""
    residuals = own + lent
    return {
        "plugin": "flatpak",
        "metric": "cpu_seconds",
        "data_points": len(own),
        "last_success": "2026-01-01 10:00:00",
        "cap": math.log1p(112.0),
        "basis": "limited",
        "variants": {
            "base": {
                "model": "borrowed_shape",
                "points": [math.log1p(5.7)],
                "residuals": residuals,
                "runs": list(range(len(residuals)))
                if numbered
                else [*range(len(own)), *[None] * len(lent)],
            }
        },
    }


def test_errors_lent_by_the_host_reach_no_further_than_the_plugins_own_worst() -> None:
    """cargo's builds (errors of +1.5 to +3.4 about the host's line) are lent to flatpak,
    whose five runs erred by at most +0.76: flatpak's upper bound stays near 1.5 times its
    own worst, not twenty times its point. Its own errors must be at least four, and errors
    of its own are never bounded so."""
    rng = np.random.default_rng(3)
    builds = [1.6, 2.5, 3.0, 3.4, 1.7, 3.0]
    lent = [*np.round(rng.normal(0.0, 0.4, 41), 6).tolist(), *builds]
    own = [-0.36, 0.04, -0.45, 0.76, 0.09]
    at = datetime(2026, 1, 2, 10)

    def upper(record: dict) -> float:
        p, _ = predictive(typed(record), at, None)
        return single(p, 0.9).upper

    worst = math.expm1(math.log1p(5.7) + 0.76) * 1.5
    assert worst < upper(lent_record(own, lent)) < 1.4 * worst
    assert upper(lent_record(own[:3], lent)) > 4 * worst
    assert upper(lent_record(own, lent, numbered=True)) > 4 * worst


@pytest.mark.parametrize("n", [15, 18])
def test_a_rank_between_residuals_covers_the_level_not_the_rank_above(n: int) -> None:
    """(n+1) * 0.9 falls between ranks: the whole rank above, the largest of 15 or 18 scaled
    distances, covered 15/16 and 18/19; read between its neighbours, about 0.90."""
    from update_estimate.serving import conformal

    rng = np.random.default_rng(n)
    hits = []
    for _ in range(4000):
        past, nxt = rng.standard_t(3, n), rng.standard_t(3)
        b = conformal.bounds(past.tolist(), 0.9)
        up, down = conformal.side_scales(past.tolist(), 0.0)
        widest = max(np.where(past >= 0, past / up, -past / down))
        assert b.calibrated and b.upper < up * widest
        hits.append(b.lower <= nxt <= b.upper)
    assert 0.885 <= np.mean(hits) <= 0.925


@pytest.mark.parametrize("n", [9, 12, 18])
def test_few_skewed_residuals_bound_each_side_in_its_own_scale(n: int) -> None:
    """Errors with a long upper tail (a run with heavy packages), too few for two-sided
    ranks: the lower bound stays nearer the centre than the long side mirrored onto it
    (the symmetric rank of absolute errors), and the interval still covers about 90%."""
    from update_estimate.serving import conformal

    rng = np.random.default_rng(n)
    hits, lower, mirrored = [], [], []
    for _ in range(4000):
        past, nxt = rng.gamma(1.5, 0.4, n) - 0.6, rng.gamma(1.5, 0.4) - 0.6
        b = conformal.bounds(past.tolist(), 0.9)
        assert b.calibrated
        hits.append(b.lower <= nxt <= b.upper)
        lower.append(b.lower)
        mirrored.append(-conformal.at_rank(sorted(abs(past)), (n + 1) * 0.9))
    assert 0.88 <= np.mean(hits) <= 0.92
    assert np.median(lower) > np.median(mirrored) + 0.08
    assert conformal.side_scales([-1.0, -0.5, 0.5, 1.0, -2.0, 2.0], 0.0) == (1.0, 1.0)


def test_a_low_level_on_few_residuals_reads_the_first_rank_not_the_last() -> None:
    """A 5% interval from 9 values, 5 of them at the floor, asks for the upper rank 0.5:
    below the first, it is the first (a rank read as index 0 - 1 would be the largest)."""
    from update_estimate.serving import conformal

    b = conformal.bounds([0.0] * 5 + [1.0, 2.0, 3.0, 4.0], 0.05, floor=0.0)
    assert (b.lower, b.upper) == (0.0, 0.0)
    assert conformal.at_rank([1.0, 2.0, 3.0], 0.5) == 1.0


def test_a_new_users_report_of_nothing_to_download_reads_0_b(runner, tmp_path) -> None:
    """A new user's 16 runs; apt reports nothing to download, as inline JSON on the command
    line: its download reads 0 B in the table and [0, under a byte] in --json, where the
    borrowed shape's centre of a hundredth of a byte read "0-9 B"."""
    import json

    from tests.conftest import invoke
    from update_estimate.history import simulate

    db, cache_dir = tmp_path / "h.duckdb", tmp_path / "cache"
    simulate.write(
        simulate.generate(("apt", "flatpak", "pip", "snap"), 16, 6, scenario_name="late-plugins"),
        db,
    )
    assert invoke(runner, "train", "--db", db, "--cache-dir", cache_dir).exit_code == 0
    nothing = json.dumps({"apt": {"download_bytes": 0, "package_count": 0}})
    args = ("estimate", "--db", db, "--cache-dir", cache_dir, "--plugins", "apt", "snap")
    out = invoke(runner, *args, "--covariates", nothing, "--json")
    assert out.exit_code == 0, out.output
    apt = next(p for p in json.loads(out.output)["plugins"] if p["plugin"] == "apt")
    assert apt["used_covariates"] and apt["metrics"]["download_bytes"]["upper"] < 1.0
    table = invoke(runner, *args, "--covariates", nothing)
    assert "0-9 B" not in table.output and " 0 B " in table.output


def test_a_fraction_of_a_byte_reads_as_nothing() -> None:
    """A plugin alone on its host after two runs that fetched nothing is answered [0, 0.63 B]
    from the default spread: the table reads "0 B", where it read "0-1 B"."""
    from update_estimate.face.render import human_bytes, human_interval

    assert human_interval("download_bytes", 0.0, 0.63) == "0 B"
    assert human_bytes(0.99) == "0 B" and human_bytes(1.0) == "1 B" and human_bytes(512) == "512 B"
    assert human_interval("wall_clock_seconds", 0.0, 0.63) == "0.0-0.6 s"


@pytest.mark.parametrize("seed", [1, 2])
def test_a_download_reported_by_size_is_answered_by_its_size_whatever_the_count(
    seed: int,
) -> None:
    """A third of the reports count packages that are not there (stale counts, or packages
    fetched already) beside a size of zero, and nothing is fetched. Judged by the count too,
    those runs' zeros stood among the runs that reported work, and a reported download of
    100 MB was answered from 0 B; judged by the size, it is answered around the size, and a
    size of zero as nothing."""
    from tests.scenarios import make_series, quiet_libraries
    from update_estimate.fitting.series_training import train_series

    rng = np.random.default_rng(seed)
    n = 80
    waiting = rng.poisson(0.6, n)
    fetched = np.array([rng.lognormal(np.log(100e6), 0.5, w).sum() for w in waiting])
    count = waiting + np.where(rng.random(n) < 0.3, rng.poisson(2.0, n), 0)
    size = fetched * rng.lognormal(0, 0.05, n)
    s = make_series(
        fetched,
        metric="download_bytes",
        reports={"package_count": count.astype(float), "download_bytes": size},
    )
    assert np.sum((count > 0) & (size == 0)) >= 10
    quiet_libraries()
    record = train_series(s, None, include_extras=False).record
    at = datetime(2026, 1, 1, 10) + timedelta(days=n)
    work, _ = predictive(record, at, {"package_count": 1, "download_bytes": 100e6})
    e = single(work, 0.9)
    assert 70e6 < e.lower < e.point < e.upper < 140e6
    stale, _ = predictive(record, at, {"package_count": 2, "download_bytes": 0})
    assert single(stale, 0.9).upper == 0.0
