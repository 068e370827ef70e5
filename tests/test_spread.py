"""Normalized conformal (`spread`): residuals rescaled to the level of today's forecast."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from tests.records import typed
from update_estimate.fitting import spread
from update_estimate.fitting.race import rolling_coverage
from update_estimate.serving import conformal
from update_estimate.serving.predictive import predictive
from update_estimate.serving.spread import rescale


def test_a_clear_slope_is_found_and_noise_is_not_taken_for_one() -> None:
    found, fooled = [], []
    for seed in range(100):
        rng = np.random.default_rng(seed)
        centres = rng.uniform(2, 6, 60)
        z = rng.normal(size=60)
        found.append(spread.slope(centres, 0.5 * np.exp(-0.4 * centres) * z, np.ones(60, bool)))
        fooled.append(spread.slope(centres, 0.1 * z, np.ones(60, bool)))
    assert np.mean([-0.7 < s < -0.2 for s in found]) > 0.85
    assert np.mean([s != 0.0 for s in fooled]) < 0.1


def _clustered(seed: int) -> dict[str, list[tuple[bool, float]]]:
    """`bursty`'s shape: every fourth run follows weeks away, is long, and errs a fifth as much
    on the log scale. Each run is forecast with the 60 residuals before it."""
    rng = np.random.default_rng(seed)
    n = 400
    long = np.arange(n) % 4 == 3
    centres = np.where(long, 6.0, 2.0) + rng.normal(0, 0.2, n)
    residuals = np.where(long, 0.08, 0.4) * rng.normal(size=n)
    out: dict[str, list[tuple[bool, float]]] = {}
    for t in range(100, n):
        past = slice(t - 60, t)
        rate = spread.slope(centres[past], residuals[past], np.ones(60, bool))
        plain = conformal.bounds(residuals[past].tolist(), 0.9)
        scaled = rescale(residuals[past].tolist(), centres[past].tolist(), rate, centres[t])
        norm = conformal.bounds(scaled, 0.9)
        kind = "long" if long[t] else "short"
        for name, b in (("plain", plain), ("normalized", norm)):
            hit = b.lower <= residuals[t] <= b.upper
            out.setdefault(f"{kind} {name}", []).append((hit, b.upper - b.lower))
    return out


def test_runs_after_long_breaks_get_intervals_of_their_own_size() -> None:
    """Plain residuals mix both kinds: the long runs were always covered, by intervals five
    times too wide. Rescaled, each kind is covered about as asked."""
    cases: dict[str, list[tuple[bool, float]]] = {}
    for seed in range(3):
        for key, values in _clustered(seed).items():
            cases.setdefault(key, []).extend(values)
    cover = {k: np.mean([h for h, _ in v]) for k, v in cases.items()}
    width = {k: np.median([w for _, w in v]) for k, v in cases.items()}
    assert cover["long plain"] > 0.99
    assert 0.83 < cover["long normalized"] < 0.96
    assert 0.83 < cover["short normalized"] < 0.95
    assert width["long normalized"] < 0.3 * width["long plain"]


def test_the_slope_is_not_extrapolated() -> None:
    residuals, centres = [0.1, -0.2, 0.3], [1.0, 2.0, 3.0]
    far = rescale(residuals, centres, -0.5, 10.0)
    assert far == rescale(residuals, centres, -0.5, 3.0)
    assert rescale(residuals, centres, 0.0, 10.0) == residuals
    assert far[0] == math.exp(-0.5 * 2.0) * 0.1


def test_estimate_rescales_the_stored_residuals() -> None:
    rng = np.random.default_rng(0)
    centres = np.r_[np.full(30, 2.0), np.full(30, 6.0)]
    residuals = np.where(centres > 4, 0.08, 0.4) * rng.normal(size=60)
    variant = {
        "model": "linear",
        "axes": [],
        "points": [6.0],
        "weekday": None,
        "hour": None,
        "residuals": residuals.tolist(),
        "censored": [False] * 60,
        "runs": list(range(60)),
    }
    record = {"data_points": 80, "last_success": None, "variants": {"base": variant}}
    rate = spread.slope(centres, residuals, np.ones(60, bool))
    assert rate < 0
    scaled = {**variant, "spread": {"slope": rate, "centres": centres.tolist()}}
    at = datetime(2026, 1, 1)
    plain, _ = predictive(typed(record), at, None)
    norm, _ = predictive(typed({**record, "variants": {"base": scaled}}), at, None)
    assert plain.residuals == variant["residuals"]
    assert max(map(abs, norm.residuals)) < 0.5 * max(map(abs, plain.residuals))


def test_the_train_table_checks_the_rescaled_intervals() -> None:
    """A growing backlog errs less and less on the log scale: plain residuals from its early
    runs over-cover the later ones, and the "cover" column must report what `estimate` serves."""
    plain, rescaled = [], []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        centres = np.linspace(2, 6, 80) + rng.normal(0, 0.1, 80)
        residuals = 0.6 * np.exp(-0.4 * centres) * rng.normal(size=80)
        censored, usable = np.zeros(80, bool), np.ones(80, bool)
        plain.append(rolling_coverage(residuals, censored, 0.9))
        rescaled.append(rolling_coverage(residuals, censored, 0.9, (centres, usable)))
    assert np.mean(plain) > 0.97
    assert 0.86 < np.mean(rescaled) < 0.955
