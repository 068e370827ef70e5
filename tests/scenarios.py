"""Synthetic series whose truth is known, fed straight to the training of one series, and
what a simulated history's truth was (its runs' network speeds)."""

from __future__ import annotations

import numpy as np

from update_estimate.fitting.candidates.base import quiet_libraries
from update_estimate.fitting.features import Series, calendar_features, log_gap
from update_estimate.fitting.series_training import train_series
from update_estimate.history import simulate
from update_estimate.serving.predictive import MetricEstimate, predictive, single


def make_series(
    values: np.ndarray,
    gaps_hours: np.ndarray | None = None,
    idle: np.ndarray | None = None,
    metric: str = "wall_clock_seconds",
    plugin: str = "p",
    reports: dict[str, np.ndarray] | None = None,
) -> Series:
    """One run a day from 2026-01-01 10:00; `reports`: what the plugin reported before each.
    With reports the last success is the last run's start; without, 2026-01-01 10:00, from
    which `next_estimate` counts its hours."""
    from datetime import datetime, timedelta

    from update_estimate.fitting.features import robust_outliers

    values = np.asarray(values, dtype=float)
    n = len(values)
    gaps = np.full(n, 24.0) if gaps_hours is None else np.asarray(gaps_hours, dtype=float)
    reported = reports or {}
    starts = [datetime(2026, 1, 1, 10) + timedelta(days=i) for i in range(n)]
    return Series(
        host="h",
        plugin=plugin,
        metric=metric,
        phase=None,
        y=np.log1p(values),
        censored=np.zeros(n, dtype=bool),
        outlier=robust_outliers(values),
        run_ids=tuple(f"{plugin}{i}" for i in range(n)),
        run_numbers=tuple(range(n)),
        covariates=np.column_stack([log_gap(gaps), *(np.log1p(v) for v in reported.values())]),
        calendar=calendar_features(np.full(n, 10), np.arange(n) % 7),
        reports=tuple(reported),
        last_success="2026-01-01 10:00:00" if reports is None else str(starts[-1]),
        starts=tuple(str(t) for t in starts),
        idle=idle,
    )


def next_estimate(
    series: Series,
    level: float = 0.9,
    after_hours: float = 24.0,
    only: tuple[str, ...] | None = None,
) -> MetricEstimate:
    """Train the series as `train` does (on `only` candidates), then answer as `estimate`
    does, `after_hours` after the last success."""
    from datetime import datetime, timedelta

    quiet_libraries()
    result = train_series(series, None, include_extras=False, only=only)
    at = datetime(2026, 1, 1, 10, 0) + timedelta(hours=after_hours)
    p, _ = predictive(result.record, at, None)
    return single(p, level)


def network_factors(tables: simulate.Tables) -> dict[str, float]:
    """Each run's network speed factor as `simulate` drew it, read from its downloads' speeds
    (runs that downloaded nothing have none)."""
    speed = {
        e: s
        for e, phase, s in tables.rows("steps", "execution_id", "phase", "download_speed_bps")
        if phase == "DOWNLOAD" and s
    }
    out: dict[str, float] = {}
    for e, run, plugin in tables.rows("executions", "execution_id", "run_id", "plugin_name"):
        if e in speed:
            out.setdefault(run, speed[e] / simulate.profile_for(plugin).speed_bps)
    return out
