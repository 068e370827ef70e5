"""Darts regression models on the covariates known before a run (LightGBM): the gap since the
last success, the plugin's report and the calendar, with the last runs as lags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from update_estimate.fitting.candidates.base import Backtest, Candidate, Fitted, model_inputs
from update_estimate.fitting.candidates.statistical import one_step, to_series


def covariate_series(x: np.ndarray, next_row: np.ndarray) -> Any:
    """Future covariates: one row per past run plus the run about to happen."""
    return to_series(np.vstack([x, next_row[None, :]]))


def regression(
    name: str,
    factory: Callable[[], Any],
    retrain: int,
    min_points: int,
    calendar: bool,
) -> Candidate:
    """A regression on the run's covariates; without calendar columns unless `calendar`."""

    def inputs(x: np.ndarray) -> np.ndarray:
        return model_inputs(x, calendar)

    def backtest(y: np.ndarray, x: np.ndarray, start: int, every: int) -> Backtest:
        return Backtest(one_step(factory(), y, start, every, inputs(x)))

    def fit(y: np.ndarray, x: np.ndarray) -> Fitted:
        model = factory()
        target = to_series(y)
        past = inputs(x)
        model.fit(target, future_covariates=to_series(past))

        def predict(rows: np.ndarray) -> np.ndarray:
            return predict_next(model, target, past, inputs(rows))

        return Fitted(name, model, predict)

    return Candidate(name, min_points, True, backtest, fit, calendar=calendar, retrain=retrain)


def predict_next(model: Any, target: Any, past: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One-step forecasts of a fitted regression, one per row of next-run covariates."""
    covs = [covariate_series(past, row) for row in rows]
    out = model.predict(1, series=[target] * len(rows), future_covariates=covs, verbose=False)
    return np.array([float(ts.values()[0, 0]) for ts in out])


def lightgbm_model(lags: int, trees: int, leaves: int, min_leaf: int) -> Any:
    """One thread each: joblib already runs a worker per core, and OpenMP threads on top of
    that spin against each other (measured: 10x slower)."""
    from darts.models import LightGBMModel

    return LightGBMModel(
        lags=lags,
        lags_future_covariates=[0],
        verbose=-1,
        n_estimators=trees,
        num_leaves=leaves,
        n_jobs=1,
        min_child_samples=min_leaf,
        random_state=0,
    )


def lightgbm() -> Any:
    return lightgbm_model(lags=3, trees=60, leaves=8, min_leaf=5)
