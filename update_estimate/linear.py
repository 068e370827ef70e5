"""Linear models of the next run on its estimate-time covariates and the last run, in numpy.

Ridge, refined by Huber-weighted least squares: runs that miss the line by more than about 10%
(a long break, a slow-network day) count by their absolute error rather than its square, so a
few of them do not tilt the line for all the others (`bench/linear_models.py`: median error of
wall time 3-17% lower with the plugins' reports). Series with runs that observed nothing (no
download) keep the plain ridge: there the zeros are half of the story, not outliers, and a
robust fit would ignore them. numpy only: `train` refits the winner at every backtest origin,
and a darts wrapper costs a hundred times more per fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PENALTY = 1.0  # ridge, on the raw log1p columns; the intercept is free
HUBER = 0.1  # log1p units: residuals beyond it are weighted as absolute errors
ITERATIONS = 30
TOLERANCE = 1e-6


@dataclass(frozen=True)
class LinearModel:
    """Intercept and coefficients over centred columns [last run's value, covariates...]."""

    mean: np.ndarray
    coef: np.ndarray
    last: float

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """The next run for each row of covariates, after the last run seen in the fit."""
        rows = np.atleast_2d(np.asarray(rows, dtype=float))
        lagged = np.column_stack([np.full(len(rows), self.last), rows])
        return self.coef[0] + (lagged - self.mean) @ self.coef[1:]


def fit(y: np.ndarray, x: np.ndarray) -> LinearModel:
    """Fit y[1:] on [y[t-1], x[t]] (what was known before run t); needs two runs."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    design = np.column_stack([y[:-1], x[1:]])
    target = y[1:]
    mean = design.mean(axis=0)
    a = np.column_stack([np.ones(len(target)), design - mean])
    penalty = PENALTY * np.eye(a.shape[1])
    penalty[0, 0] = 0.0
    weights = np.ones(len(target))
    coef = np.zeros(a.shape[1])
    robust = bool(np.all(target > 0))
    for _ in range(ITERATIONS if robust else 1):
        weighted = a * weights[:, None]
        new = np.linalg.solve(a.T @ weighted + penalty, weighted.T @ target)
        converged = np.max(np.abs(new - coef)) < TOLERANCE
        coef = new
        if converged:
            break
        weights = np.minimum(1.0, HUBER / np.maximum(np.abs(target - a @ coef), 1e-12))
    return LinearModel(mean, coef, float(y[-1]))


def one_step(y: np.ndarray, x: np.ndarray, start: int) -> np.ndarray:
    """Forecasts of y[start:], each from a fit on the runs before it (a fit costs well under a
    millisecond, so there is no stale-fit shortcut to offer)."""
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    return np.array([fit(y[:t], x[:t]).predict(x[t])[0] for t in range(start, len(y))])
