"""How the size of a series' errors changes with the level of its forecast.

On the log scale a long run errs less than a short one: a backlog of many packages is a
Poisson count with a smaller relative spread, and a fixed overhead weighs less. Calibration
residuals come from the forecasts before a run; where the level has moved since (a growing
backlog in `trend`, the runs after weeks away in `bursty`), they are the wrong size for this
forecast, and split-conformal intervals over-covered (`trend` 0.95 where 0.90 was asked,
`bench/normalized_conformal.py`). Each residual is rescaled by the spread at today's forecast
over the spread at its own (normalized conformal), where the spread's slope is clear
(`fitting.spread` finds it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def rescale(
    residuals: Sequence[float], centres: Sequence[float], rate: float, centre: float
) -> list[float]:
    """Residuals as they would be at `centre`, which is held within the centres they came
    from: the slope is not extrapolated, and no rescaled residual is larger than the largest
    the series has seen. A series that is nothing most runs and much in some (a download
    phase: half a second, or minutes) fits a steep slope across centres far apart; rescaled
    without that bound, a quiet run's residual grew 180-fold, an upper bound of 10^14 s."""
    if not rate or not centres:
        return list(residuals)
    held = min(max(centre, min(centres)), max(centres))
    largest = max((abs(r) for r in residuals), default=0.0)
    return [
        min(max(r * math.exp(rate * (held - c)), -largest), largest)
        for r, c in zip(residuals, centres, strict=True)
    ]
