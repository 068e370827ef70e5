"""The baselines: the last run's value and the median of recent runs. numpy only, always
available, always in the race: a model must beat them to be chosen."""

from __future__ import annotations

import numpy as np

from update_estimate.fitting.candidates.base import Backtest, Candidate, Fitted, constant

ROLLING_WINDOW = 10
NAMES = ("naive_last", "rolling_median")


def _naive_backtest(y: np.ndarray, x: np.ndarray, start: int, retrain: int) -> Backtest:
    return Backtest(y[start - 1 : len(y) - 1].copy())


def _naive_fit(y: np.ndarray, x: np.ndarray) -> Fitted:
    return Fitted("naive_last", float(y[-1]), constant(float(y[-1])))


def rolling_median(y: np.ndarray, t: int, window: int = ROLLING_WINDOW) -> float:
    return float(np.median(y[max(0, t - window) : t]))


def _median_backtest(y: np.ndarray, x: np.ndarray, start: int, retrain: int) -> Backtest:
    return Backtest(np.array([rolling_median(y, t) for t in range(start, len(y))]))


def _median_fit(y: np.ndarray, x: np.ndarray) -> Fitted:
    value = rolling_median(y, len(y))
    return Fitted("rolling_median", value, constant(value))


def baselines() -> list[Candidate]:
    return [
        Candidate("naive_last", 2, False, _naive_backtest, _naive_fit),
        Candidate("rolling_median", 3, False, _median_backtest, _median_fit),
    ]
