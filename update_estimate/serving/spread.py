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

# The most a residual is stretched or shrunk. A series that is nothing most runs and much in
# some (a download phase: half a second, or minutes) fits a steep slope across centres far
# apart, and a residual from a quiet run rescaled to a busy one's centre grew 180-fold: an
# upper bound of 10^14 seconds.
MAX_FACTOR = 4.0


def rescale(
    residuals: Sequence[float], centres: Sequence[float], rate: float, centre: float
) -> list[float]:
    """Residuals as they would be at `centre`, which is held within the centres they came
    from: the slope is not extrapolated, and no residual changes size more than MAX_FACTOR."""
    if not rate or not centres:
        return list(residuals)
    held = min(max(centre, min(centres)), max(centres))
    bound = math.log(MAX_FACTOR)
    return [
        r * math.exp(min(max(rate * (held - c), -bound), bound))
        for r, c in zip(residuals, centres, strict=True)
    ]
