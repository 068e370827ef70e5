"""The competing models, all with one interface, and which optional extras are installed.

Each candidate gives two things: one-step forecasts for a rolling-origin backtest (always out of
sample: a forecast for run t only sees runs before t), and a fitted model that predicts the next
run for any rows of estimate-time covariates. Everything is on the log1p scale.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from update_estimate.fitting.candidates import linear, neighbours
from update_estimate.fitting.features import CALENDAR_COLUMNS

ROLLING_WINDOW = 10


def quiet_libraries() -> None:
    """Darts logs caught errors at ERROR and statsmodels warns on every short fit."""
    for name in ("darts", "statsforecast", "prophet", "cmdstanpy", "lightgbm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore")


@dataclass
class Fitted:
    """A model fitted on a whole series, ready for the next run."""

    name: str
    model: Any
    predict_rows: Callable[[np.ndarray], np.ndarray]

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.predict_rows(rows), dtype=float)


@dataclass(frozen=True)
class Backtest:
    """One-step forecasts of y[start:]; and where the candidate knows its learning curve, each
    forecast's fit's error variance over the noise's, the final fit's last (`linear.walk`)."""

    forecasts: np.ndarray
    inflation: np.ndarray | None = None


@dataclass(frozen=True)
class Candidate:
    """`backtest(y, x, start, retrain)` refits every `retrain` origins; the race uses the
    candidate's own `retrain` (cheaper), calibration of the winner refits at every origin."""

    name: str
    min_points: int
    uses_covariates: bool
    backtest: Callable[[np.ndarray, np.ndarray, int, int], Backtest]
    fit: Callable[[np.ndarray, np.ndarray], Fitted]
    calendar: bool = False
    retrain: int = 1


def _constant(value: float) -> Callable[[np.ndarray], np.ndarray]:
    def predict(rows: np.ndarray) -> np.ndarray:
        return np.full(len(rows), value)

    return predict


# --- naive baselines (numpy: always available, always in the race) ---------------------------


def _naive_backtest(y: np.ndarray, x: np.ndarray, start: int, retrain: int) -> Backtest:
    return Backtest(y[start - 1 : len(y) - 1].copy())


def _naive_fit(y: np.ndarray, x: np.ndarray) -> Fitted:
    return Fitted("naive_last", float(y[-1]), _constant(float(y[-1])))


def rolling_median(y: np.ndarray, t: int, window: int = ROLLING_WINDOW) -> float:
    return float(np.median(y[max(0, t - window) : t]))


def _median_backtest(y: np.ndarray, x: np.ndarray, start: int, retrain: int) -> Backtest:
    return Backtest(np.array([rolling_median(y, t) for t in range(start, len(y))]))


def _median_fit(y: np.ndarray, x: np.ndarray) -> Fitted:
    value = rolling_median(y, len(y))
    return Fitted("rolling_median", value, _constant(value))


# --- Darts local statistical models (univariate) ----------------------------------------------


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


def _local(name: str, factory: Callable[[], Any], retrain: int, min_points: int) -> Candidate:
    def backtest(y: np.ndarray, x: np.ndarray, start: int, every: int) -> Backtest:
        return Backtest(one_step(factory(), y, start, every))

    def fit(y: np.ndarray, x: np.ndarray) -> Fitted:
        model = factory()
        model.fit(to_series(y))
        value = float(model.predict(1).values()[0, 0])
        return Fitted(name, model, _constant(value))

    return Candidate(name, min_points, False, backtest, fit, retrain=retrain)


def _auto_ets() -> Any:
    from darts.models import AutoETS

    return AutoETS(season_length=1)


def _auto_theta() -> Any:
    from darts.models import AutoTheta

    return AutoTheta(season_length=1)


def _auto_arima() -> Any:
    from darts.models import AutoARIMA

    return AutoARIMA(season_length=1)


# --- regression models with covariates known before the run ------------------------------------


def covariate_series(x: np.ndarray, next_row: np.ndarray) -> Any:
    """Future covariates: one row per past run plus the run about to happen."""
    return to_series(np.vstack([x, next_row[None, :]]))


def _regression(
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


def model_inputs(x: np.ndarray, calendar: bool) -> np.ndarray:
    """A design without its calendar columns, for models that do not use them."""
    return x if calendar else x[:, : x.shape[1] - CALENDAR_COLUMNS]


def predict_next(model: Any, target: Any, past: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One-step forecasts of a fitted regression, one per row of next-run covariates."""
    covs = [covariate_series(past, row) for row in rows]
    out = model.predict(1, series=[target] * len(rows), future_covariates=covs, verbose=False)
    return np.array([float(ts.values()[0, 0]) for ts in out])


def predict_pickled(obj: dict[str, Any], row: np.ndarray) -> float:
    """The slow path: a stored model's forecast for covariates outside the stored grid."""
    model = obj["model"]
    calendar = bool(obj.get("calendar"))
    rows = model_inputs(row[None, :], calendar)
    if isinstance(model, linear.LinearModel | neighbours.GapNeighbours):
        return float(model.predict(rows)[0])
    quiet_libraries()
    if not obj.get("covariates"):
        return float(model.predict(1).values()[0, 0])
    past = model_inputs(obj["x"], calendar)
    return float(predict_next(model, to_series(obj["y"]), past, rows)[0])


def _linear(name: str, min_points: int, calendar: bool) -> Candidate:
    """Huber-weighted ridge on the last run and the covariates (`linear` module)."""

    def backtest(y: np.ndarray, x: np.ndarray, start: int, every: int) -> Backtest:
        return Backtest(*linear.walk(y, model_inputs(x, calendar), start))  # every origin

    def fit(y: np.ndarray, x: np.ndarray) -> Fitted:
        model = linear.fit(y, model_inputs(x, calendar))
        return Fitted(name, model, lambda rows: model.predict(model_inputs(rows, calendar)))

    return Candidate(name, min_points, True, backtest, fit, calendar=calendar, retrain=1)


def _gap_neighbours() -> Candidate:
    """The median of recent runs after similar breaks, else the line (`neighbours` module)."""

    def backtest(y: np.ndarray, x: np.ndarray, start: int, every: int) -> Backtest:
        return Backtest(neighbours.one_step(y, model_inputs(x, False), start))

    def fit(y: np.ndarray, x: np.ndarray) -> Fitted:
        model = neighbours.fit(y, model_inputs(x, False))
        return Fitted(
            "gap_neighbours", model, lambda rows: model.predict(model_inputs(rows, False))
        )

    return Candidate("gap_neighbours", 10, True, backtest, fit, retrain=1)


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


def _lightgbm() -> Any:
    return lightgbm_model(lags=3, trees=60, leaves=8, min_leaf=5)


# --- optional extras ----------------------------------------------------------------------------


def _prophet() -> Any:
    from darts.models import Prophet

    return Prophet()


def _prophet_candidate() -> Candidate:
    """Prophet rejects integer indexes: runs are mapped onto consecutive days."""

    def dated(y: np.ndarray) -> Any:
        import pandas as pd
        from darts import TimeSeries

        index = pd.date_range("2000-01-01", periods=len(y), freq="D")
        return TimeSeries.from_times_and_values(index, y.astype(np.float32))

    def backtest(y: np.ndarray, x: np.ndarray, start: int, every: int) -> Backtest:
        hf = _prophet().historical_forecasts(
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
        model = _prophet()
        model.fit(dated(y))
        return Fitted("prophet", model, _constant(float(model.predict(1).values()[0, 0])))

    return Candidate("prophet", 20, False, backtest, fit, retrain=10)


def _nlinear() -> Any:
    from darts.models import NLinearModel

    return NLinearModel(
        input_chunk_length=8,
        output_chunk_length=1,
        n_epochs=30,
        random_state=0,
        pl_trainer_kwargs={"enable_progress_bar": False, "logger": False},
    )


def _available(module: str, cls: str) -> bool:
    """Darts swaps a missing extra's class for a placeholder that fails only when used."""
    try:
        import importlib

        obj = getattr(importlib.import_module(module), cls)
    except Exception:
        return False
    return isinstance(obj, type)


def candidates(include_extras: bool = True) -> tuple[list[Candidate], list[str]]:
    """The candidates that can run here, and the names of extras that are not installed."""
    chosen = [
        Candidate("naive_last", 2, False, _naive_backtest, _naive_fit),
        Candidate("rolling_median", 3, False, _median_backtest, _median_fit),
        _local("auto_ets", _auto_ets, retrain=10, min_points=10),
        _local("auto_theta", _auto_theta, retrain=10, min_points=10),
        _local("auto_arima", _auto_arima, retrain=30, min_points=10),
        _linear("linear", min_points=8, calendar=False),
        _linear("linear_calendar", min_points=16, calendar=True),
        _gap_neighbours(),
    ]
    missing = []
    if _available("lightgbm", "LGBMRegressor"):
        chosen.append(_regression("lightgbm", _lightgbm, retrain=6, min_points=24, calendar=True))
    else:
        missing.append("lightgbm")
    if not include_extras:
        return chosen, missing
    if _available("darts.models", "Prophet"):
        chosen.append(_prophet_candidate())
    else:
        missing.append("prophet")
    if _available("darts.models", "NLinearModel"):
        chosen.append(_local("nlinear", _nlinear, retrain=20, min_points=30))
    else:
        missing.append("nlinear (torch)")
    return chosen, missing


BASELINES = ("naive_last", "rolling_median")
