"""The warm path on hand-made forecast records: what a record's fields must make it answer."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from update_estimate import forecast
from update_estimate.cache import series_key


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
    request = forecast.Request(plugins=("apt", "pip"), at=datetime(2026, 1, 2, 10))
    answer = forecast.estimate(records, "h", request, "cache")
    total = answer.total["download_bytes"]
    assert total.lower == 0.0
    assert total.point > 1e6
    for plugin in answer.plugins:
        assert plugin.metrics["download_bytes"].lower == 0.0
    without = {
        k: {**r, "variants": {"base": {**r["variants"]["base"], "zeros": []}}}
        for k, r in records.items()
    }
    shifted = forecast.estimate(without, "h", request, "cache").total["download_bytes"]
    assert shifted.lower > 0.0


def test_a_mass_of_zeros_moves_the_miss_budget_to_the_upper_end() -> None:
    """A fifth of the runs downloaded nothing: the interval starts at zero, and its upper end
    is the 90% rank, not the 95% one (an equal-tailed interval would cover about 95%)."""
    from update_estimate import conformal

    values = [0.0] * 20 + [float(v) for v in range(1, 81)]
    b = conformal.bounds(values, 0.9, floor=0.0)
    assert b.lower == 0.0
    assert b.upper == 71.0  # rank ceil(101 * 0.9) = 91 of 100: 20 zeros, then 1..71
    assert conformal.bounds(values, 0.9).upper == 76.0  # the equal-tailed upper rank, 96
    few = [0.0] * 2 + [float(v) for v in range(1, 99)]
    assert conformal.bounds(few, 0.9, floor=0.0) == conformal.bounds(few, 0.9)
