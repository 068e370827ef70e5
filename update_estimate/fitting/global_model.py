"""The global model: one model per (host, metric, phase) across the host's plugins, so that
short series borrow strength; it enters each series' race with its out-of-sample backtest."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from update_estimate import logs
from update_estimate.fitting import grid
from update_estimate.fitting.candidates import available
from update_estimate.fitting.candidates.base import quiet_libraries
from update_estimate.fitting.candidates.regression import lightgbm_model, predict_next
from update_estimate.fitting.candidates.statistical import one_step, to_series
from update_estimate.fitting.features import Series
from update_estimate.fitting.race import backtest_start

GLOBAL_LAGS = 3

log = logs.get("train")


@dataclass(frozen=True)
class GlobalForecast:
    """The global model's out-of-sample backtest and grid predictions for one series."""

    name: str
    start: int
    predictions: np.ndarray
    grids: dict[str, np.ndarray]
    model: Any


def _global_factory() -> tuple[str, Callable[[], Any]]:
    if available("lightgbm", "LGBMRegressor"):
        return "global_lightgbm", lambda: lightgbm_model(
            lags=GLOBAL_LAGS, trees=80, leaves=15, min_leaf=10
        )
    from darts.models import LinearRegressionModel

    return "global_linear", lambda: LinearRegressionModel(
        lags=GLOBAL_LAGS, lags_future_covariates=[0]
    )


def groups(series: Sequence[Series]) -> list[list[Series]]:
    """The series that share a global model: a (host, metric, phase) with two or more plugins
    long enough for its lags. Each group is independent work for the pool."""
    by_key: dict[tuple, list[Series]] = defaultdict(list)
    for s in series:
        if s.n >= GLOBAL_LAGS + 2:
            by_key[(s.host, s.metric, s.phase)].append(s)
    return [members for members in by_key.values() if len(members) >= 2]


def global_forecasts(members: list[Series]) -> dict[str, GlobalForecast]:
    """One model across a group's plugins, so that short series borrow strength.

    Backtests are out of sample: the model is fitted on each series' runs before its backtest
    start, then forecasts those runs one step at a time without refitting. A group that fails
    to fit gives nothing: its series race without it.
    """
    quiet_libraries()
    name, factory = _global_factory()
    try:
        return _global_group(name, factory, members)
    except Exception as exc:
        log.info("global model skipped", group=members[0].key, error=str(exc)[:200])
        return {}


def _global_group(
    name: str,
    factory: Callable[[], Any],
    members: list[Series],
) -> dict[str, GlobalForecast]:
    starts = {s.key: max(backtest_start(s.n), GLOBAL_LAGS + 1) for s in members}
    designs = {s.key: grid.design(s, "base") for s in members}
    train = [s for s in members if starts[s.key] > GLOBAL_LAGS + 1]
    model = factory()
    model.fit(
        [to_series(s.y[: starts[s.key]]) for s in train],
        future_covariates=[to_series(designs[s.key][: starts[s.key]]) for s in train],
    )
    backtests = {s.key: one_step(model, s.y, starts[s.key], False, designs[s.key]) for s in members}
    final = factory()
    final.fit(
        [to_series(s.y) for s in members],
        future_covariates=[to_series(designs[s.key]) for s in members],
    )
    out = {}
    for s in members:
        target = to_series(s.y)
        grids = {
            variant: predict_next(
                final,
                target,
                designs[s.key],
                grid.base_columns(grid.build(s, variant).rows, variant),
            )
            for variant in grid.variants(s)
        }
        out[s.key] = GlobalForecast(name, starts[s.key], backtests[s.key], grids, final)
    return out
