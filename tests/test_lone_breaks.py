"""A calibration run after a break far beyond the others' answers only a break as far out."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.scenarios import make_series, next_estimate
from update_estimate.fitting import record_builder
from update_estimate.fitting.candidates.base import quiet_libraries
from update_estimate.fitting.series_training import train_series
from update_estimate.record import LoneBreaks, Records, from_json, to_json

LONE = 14  # the run after three weeks away, inside the calibration window of 22 runs


def _time(rng: np.random.Generator, days: float) -> float:
    """A fixed cost plus a cost per package released while away."""
    return (15 + 4 * rng.poisson(2.0 * days)) * rng.lognormal(0, 0.15)


def _history(seed: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gaps = rng.uniform(12, 72, 22)
    gaps[LONE] = 21 * 24
    return rng, np.array([_time(rng, g / 24) for g in gaps]), gaps


def test_the_lone_break_is_marked_with_the_others_range() -> None:
    _, values, gaps = _history(0)
    quiet_libraries()
    record = train_series(make_series(values, gaps), None, False, only=("rolling_median",)).record
    lone = record.variants["base"].lone_breaks
    start = len(values) - len(record.variants["base"].residuals)
    assert lone is not None and lone.above == LONE - start and lone.below is None
    others = np.log1p(np.delete(gaps[start:], LONE - start))
    assert lone.high == pytest.approx(others.max() + math.log(2), abs=1e-5)
    assert lone.low == pytest.approx(others.min() - math.log(2), abs=1e-5)
    # two breaks as long: neither is alone, both answer every run
    gaps[LONE + 2] = 20 * 24
    again = train_series(make_series(values, gaps), None, False, only=("rolling_median",))
    assert again.record.variants["base"].lone_breaks is None


def test_peak_memory_keeps_every_residual() -> None:
    _, values, gaps = _history(0)
    series = make_series(values * 1e6, gaps, metric="memory_peak_bytes")
    record = train_series(series, None, False, only=("rolling_median",)).record
    assert record.variants["base"].lone_breaks is None


def test_a_run_a_day_away_is_answered_without_the_lone_break(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """100 histories of 22 runs with one three-week break among breaks of half a day to
    three days, answered by the recent median: the next run a day away is covered near 90%
    at half the width that the lone break's residual gave it (covered 1.00 at a median
    log-width of 3.2); after three weeks away, the interval still reaches that residual."""

    def answers(after_days: float) -> tuple[float, float]:
        hits, widths = [], []
        for seed in range(100):
            rng, values, gaps = _history(seed)
            e = next_estimate(
                make_series(values, gaps), after_hours=after_days * 24, only=("rolling_median",)
            )
            actual = _time(rng, after_days)
            hits.append(e.lower <= actual <= e.upper)
            widths.append(math.log(e.upper / e.lower))
        return float(np.mean(hits)), float(np.median(widths))

    coverage, width = answers(1)
    assert 0.85 <= coverage <= 0.97
    assert width < 2.0
    _, far = answers(21)
    assert far > width + 1.0
    monkeypatch.setattr(record_builder, "TIMES", ())
    coverage_all, width_all = answers(1)
    assert width_all > width + 1.0 and coverage_all > coverage


def test_lone_breaks_are_written_whole_and_read_back() -> None:
    _, values, gaps = _history(1)
    gaps[18] = 0.01  # a re-run within a minute, far below every other break
    record = train_series(make_series(values, gaps), None, False, only=("rolling_median",)).record
    lone = record.variants["base"].lone_breaks
    assert isinstance(lone, LoneBreaks) and lone.above is not None and lone.below is not None
    records = Records({"k": record}, {}, {}, {})
    text = json.dumps(to_json(records))
    assert from_json(json.loads(text)) == records
