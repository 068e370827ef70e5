"""Run-indexed series on log1p scale, robust outlier flags and the covariates known before a run.

A run is the time step (design.md, decision 1): series are indexed by execution order, never by
calendar day, and the irregular gaps between runs become a covariate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    pass

MAD_SCALE = 1.4826
OUTLIER_Z = 3.5
TARGET_STATUSES = ("success", "timeout")


def robust_outliers(values: np.ndarray) -> np.ndarray:
    """Flag points far from the median on the log1p scale, in units of the scaled MAD.

    The MAD is not inflated by the outlier it looks for, unlike a z-score on the raw scale.
    Zeros are never outliers (a run with nothing to do is real) and do not shift the centre.
    When more than half the points are equal (MAD 0), the mean absolute deviation stands in.
    """
    raw = np.asarray(values, dtype=float)
    logged = np.log1p(raw)
    ok = np.isfinite(logged) & (raw > 0)
    flags = np.zeros(logged.shape, dtype=bool)
    if ok.sum() < 3:
        return flags
    centre = np.median(logged[ok])
    deviation = np.abs(logged - centre)
    scale = MAD_SCALE * np.median(deviation[ok])
    if scale <= 0:
        scale = 1.2533 * float(np.mean(deviation[ok]))
    if scale <= 0:
        return flags
    flags[ok] = deviation[ok] / scale > OUTLIER_Z
    return flags
