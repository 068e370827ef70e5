"""The slope of the residuals' size on the forecast, fitted in `train`; `serving.spread`
rescales with it."""

from __future__ import annotations

import math

import numpy as np

FLOOR = 0.001  # log1p units added to |residual| before its log: an exact hit is no spread
MIN_RUNS = 19  # fewer usable residuals: no slope is trusted
T_RATIO = 2.0  # the slope must stand this many standard errors from zero


def slope(centres: np.ndarray, residuals: np.ndarray, usable: np.ndarray) -> float:
    """The slope of log(|residual| + FLOOR) on the forecast, or 0 where it is not clear."""
    c, r = centres[usable], residuals[usable]
    if len(c) < MIN_RUNS or np.ptp(c) <= 0:
        return 0.0
    size = np.log(np.abs(r) + FLOOR)
    a = np.column_stack([np.ones(len(c)), c - c.mean()])
    coef, *_ = np.linalg.lstsq(a, size, rcond=None)
    noise = size - a @ coef
    se = math.sqrt(float(noise @ noise) / (len(c) - 2) / float(((c - c.mean()) ** 2).sum()))
    return float(coef[1]) if abs(coef[1]) > T_RATIO * se else 0.0
