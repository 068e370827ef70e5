"""The one interface every candidate model has, on the log1p scale.

A candidate gives two things: one-step forecasts for a rolling-origin backtest (always out of
sample: a forecast for run t only sees runs before t), and a fitted model that predicts the next
run for any rows of estimate-time covariates.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from update_estimate.fitting.features import CALENDAR_COLUMNS


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
    candidate's own `retrain` (cheaper), calibration of the winner refits at every origin, or
    calls `hindsight(y, x, start, raced)` where the final fit knows what no backtest fit could
    (`raced`: the race's backtest, which it amends)."""

    name: str
    min_points: int
    uses_covariates: bool
    backtest: Callable[[np.ndarray, np.ndarray, int, int], Backtest]
    fit: Callable[[np.ndarray, np.ndarray], Fitted]
    calendar: bool = False
    retrain: int = 1
    metrics: tuple[str, ...] | None = None  # the metrics it models; None: every one
    hindsight: Callable[[np.ndarray, np.ndarray, int, Backtest], Backtest] | None = None
    # its forecast is a sum of costs on the raw scale, so its grid is read there
    # (`Variant.summed`)
    summed: bool = False


def constant(value: float) -> Callable[[np.ndarray], np.ndarray]:
    def predict(rows: np.ndarray) -> np.ndarray:
        return np.full(len(rows), value)

    return predict


def model_inputs(x: np.ndarray, calendar: bool) -> np.ndarray:
    """A design without its calendar columns, for models that do not use them."""
    return x if calendar else x[:, : x.shape[1] - CALENDAR_COLUMNS]


class Predicts(Protocol):
    def predict(self, rows: np.ndarray) -> np.ndarray: ...


Fit = Callable[[np.ndarray, np.ndarray], Predicts]


def arrays(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs' values as floats and their covariates one row per run, as fits take them."""
    y = np.asarray(y, dtype=float)
    return y, np.asarray(x, dtype=float).reshape(len(y), -1)


def one_step(fit: Fit, y: np.ndarray, x: np.ndarray, start: int) -> np.ndarray:
    """Forecasts of y[start:], each from a fit on the runs before it."""
    y, x = arrays(y, x)
    return np.array([fit(y[:t], x[:t]).predict(x[t])[0] for t in range(start, len(y))])


def refitted(
    name: str,
    min_points: int,
    fit: Fit,
    metrics: tuple[str, ...] | None = None,
    hindsight: Callable[[np.ndarray, np.ndarray, int, np.ndarray], np.ndarray] | None = None,
    summed: bool = False,
) -> Candidate:
    """A candidate of a numpy fit cheap enough to refit at every origin, on the covariates
    without the calendar; `hindsight` makes its calibration's forecasts (`Candidate`)."""

    def rolling(y: np.ndarray, x: np.ndarray, start: int, every: int) -> Backtest:
        return Backtest(one_step(fit, y, model_inputs(x, False), start))

    def final(y: np.ndarray, x: np.ndarray) -> Fitted:
        model = fit(y, model_inputs(x, False))
        return Fitted(name, model, lambda rows: model.predict(model_inputs(rows, False)))

    def knowing(y: np.ndarray, x: np.ndarray, start: int, raced: Backtest) -> Backtest:
        assert hindsight is not None
        return Backtest(hindsight(y, model_inputs(x, False), start, raced.forecasts))

    return Candidate(
        name,
        min_points,
        True,
        rolling,
        final,
        retrain=1,
        metrics=metrics,
        hindsight=knowing if hindsight is not None else None,
        summed=summed,
    )
