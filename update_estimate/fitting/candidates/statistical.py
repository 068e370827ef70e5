"""Darts' univariate statistical models (ETS, Theta, ARIMA, and the Prophet and NLinear
extras): the series' own past only, refitted every few origins in the race."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from update_estimate.fitting.candidates.base import Backtest, Candidate, Fitted, constant


def to_series(values: np.ndarray) -> Any:
    from darts import TimeSeries

    return TimeSeries.from_values(np.asarray(values, dtype=np.float32).reshape(len(values), -1))


def _hf_values(forecasts: Any) -> np.ndarray:
    return forecasts.values(copy=False)[:, 0].astype(float)


def one_step(
    model: Any, y: np.ndarray, start: int, retrain: int | bool, x: np.ndarray | None = None
) -> np.ndarray:
    """One-step-ahead forecasts of y[start:], each from the runs before it (refit every
    `retrain` origins; False: the model stays as fitted)."""
    hf = model.historical_forecasts(
        to_series(y),
        future_covariates=None if x is None else to_series(x),
        start=start,
        forecast_horizon=1,
        retrain=retrain,
        verbose=False,
        show_warnings=False,
    )
    return _hf_values(hf)


def local(name: str, factory: Callable[[], Any], retrain: int, min_points: int) -> Candidate:
    def backtest(y: np.ndarray, x: np.ndarray, start: int, every: int) -> Backtest:
        return Backtest(one_step(factory(), y, start, every))

    def fit(y: np.ndarray, x: np.ndarray) -> Fitted:
        model = factory()
        model.fit(to_series(y))
        value = float(model.predict(1).values()[0, 0])
        return Fitted(name, model, constant(value))

    return Candidate(name, min_points, False, backtest, fit, retrain=retrain)


def auto_ets() -> Any:
    from darts.models import AutoETS

    return AutoETS(season_length=1)


def auto_theta() -> Any:
    from darts.models import AutoTheta

    return AutoTheta(season_length=1)


def auto_arima() -> Any:
    from darts.models import AutoARIMA

    return AutoARIMA(season_length=1)


def prophet() -> Any:
    from darts.models import Prophet

    return Prophet()


def prophet_candidate() -> Candidate:
    """Prophet rejects integer indexes: runs are mapped onto consecutive days."""

    def dated(y: np.ndarray) -> Any:
        import pandas as pd
        from darts import TimeSeries

        index = pd.date_range("2000-01-01", periods=len(y), freq="D")
        return TimeSeries.from_times_and_values(index, y.astype(np.float32))

    def backtest(y: np.ndarray, x: np.ndarray, start: int, every: int) -> Backtest:
        hf = prophet().historical_forecasts(
            dated(y),
            start=start,
            forecast_horizon=1,
            retrain=every,
            verbose=False,
            start_format="position",
            show_warnings=False,
        )
        return Backtest(_hf_values(hf))

    def fit(y: np.ndarray, x: np.ndarray) -> Fitted:
        model = prophet()
        model.fit(dated(y))
        return Fitted("prophet", model, constant(float(model.predict(1).values()[0, 0])))

    return Candidate("prophet", 20, False, backtest, fit, retrain=10)


def nlinear() -> Any:
    from darts.models import NLinearModel

    return NLinearModel(
        input_chunk_length=8,
        output_chunk_length=1,
        n_epochs=30,
        random_state=0,
        pl_trainer_kwargs={"enable_progress_bar": False, "logger": False},
    )
