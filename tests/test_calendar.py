"""Calendar offsets: an hour's own offset only as far as its runs say it is real; an hour no
run started at answers as a typical run does."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tests.scenarios import make_series
from update_estimate.fitting.candidates.base import quiet_libraries
from update_estimate.fitting.features import calendar_features
from update_estimate.fitting.series_training import train_series
from update_estimate.record import Variant


def _hours(afternoon: float, spread: float, seed: int) -> tuple[np.ndarray, Variant]:
    """80 runs at 09:00-17:00, `afternoon` times as long from 14:00, each off by `spread` (log
    sd), answered by a harmonic of the hour."""
    rng = np.random.default_rng(seed)
    hours = rng.integers(9, 18, 80)
    noise = np.exp(rng.normal(0, spread, 80))
    seconds = 30.0 * np.where(hours >= 14, afternoon, 1.0) * noise
    series = replace(make_series(seconds), calendar=calendar_features(hours, np.arange(80) % 7))
    quiet_libraries()
    result = train_series(series, None, include_extras=False, only=("linear_calendar",))
    variant = result.record.variants["base"]
    assert variant.model == "linear_calendar" and variant.hour is not None
    return hours, variant


def test_a_real_hour_effect_is_kept_and_the_night_reads_typical() -> None:
    """The afternoon's real cost stays; the harmonic's swing through the night it never saw
    (1.0 above the day's runs at midnight, in log) is gone: those hours read as a typical run."""
    hours, variant = _hours(2.0, 0.1, seed=4)
    offsets = np.asarray(variant.hour)
    counts = np.bincount(hours, minlength=24)
    unseen = offsets[counts == 0]
    assert np.ptp(unseen) < 1e-9
    assert abs(unseen[0] - np.dot(counts, offsets) / counts.sum()) < 0.02
    assert offsets[15] - offsets[10] > np.log(1.4)


def test_an_hour_effect_within_the_runs_noise_is_not_taken() -> None:
    """No hour effect, runs off by 30% (seeds where the harmonic wins the race): fitted to
    their noise, it moved a run by up to 2.5 times over the day and night; shrunk by what the
    runs say, not at all."""
    for seed in (1, 3, 7):
        _, variant = _hours(1.0, 0.3, seed)
        assert np.ptp(variant.hour) < np.log(1.03), variant.hour
