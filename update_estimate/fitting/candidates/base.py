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
from typing import Any

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
    candidate's own `retrain` (cheaper), calibration of the winner refits at every origin."""

    name: str
    min_points: int
    uses_covariates: bool
    backtest: Callable[[np.ndarray, np.ndarray, int, int], Backtest]
    fit: Callable[[np.ndarray, np.ndarray], Fitted]
    calendar: bool = False
    retrain: int = 1


def constant(value: float) -> Callable[[np.ndarray], np.ndarray]:
    def predict(rows: np.ndarray) -> np.ndarray:
        return np.full(len(rows), value)

    return predict


def model_inputs(x: np.ndarray, calendar: bool) -> np.ndarray:
    """A design without its calendar columns, for models that do not use them."""
    return x if calendar else x[:, : x.shape[1] - CALENDAR_COLUMNS]
