"""How the size of a series' errors changes with the level of its forecast.

On the log scale a long run errs less than a short one: a backlog of many packages is a
Poisson count with a smaller relative spread, and a fixed overhead weighs less. Calibration
residuals come from the forecasts before a run; where the level has moved since (a growing
backlog in `trend`, the runs after weeks away in `bursty`), they are the wrong size for this
forecast, and split-conformal intervals over-covered (`trend` 0.95 where 0.90 was asked,
`bench/normalized_conformal.py`). Each residual is rescaled by the spread at today's forecast
over the spread at its own (normalized conformal), where the spread's slope is clear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy only where `train` fits the slope; `estimate` only rescales
    import numpy as np

FLOOR = 0.001  # log1p units added to |residual| before its log: an exact hit is no spread
MIN_RUNS = 19  # fewer usable residuals: no slope is trusted
T_RATIO = 2.0  # the slope must stand this many standard errors from zero


def slope(centres: np.ndarray, residuals: np.ndarray, usable: np.ndarray) -> float:
    """The slope of log(|residual| + FLOOR) on the forecast, or 0 where it is not clear."""
    import numpy as np

    c, r = centres[usable], residuals[usable]
    if len(c) < MIN_RUNS or np.ptp(c) <= 0:
        return 0.0
    size = np.log(np.abs(r) + FLOOR)
    a = np.column_stack([np.ones(len(c)), c - c.mean()])
    coef, *_ = np.linalg.lstsq(a, size, rcond=None)
    noise = size - a @ coef
    se = math.sqrt(float(noise @ noise) / (len(c) - 2) / float(((c - c.mean()) ** 2).sum()))
    return float(coef[1]) if abs(coef[1]) > T_RATIO * se else 0.0


def rescale(
    residuals: Sequence[float], centres: Sequence[float], rate: float, centre: float
) -> list[float]:
    """Residuals as they would be at `centre`, which is held within the centres they came
    from: the slope is not extrapolated."""
    if not rate or not centres:
        return list(residuals)
    held = min(max(centre, min(centres)), max(centres))
    return [r * math.exp(rate * (held - c)) for r, c in zip(residuals, centres, strict=True)]
