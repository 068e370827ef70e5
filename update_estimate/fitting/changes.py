"""Where a series moved for good: the run from which its errors' mean shifted.

More software installed, a release's churn, a mirror that became faster: a plugin's costs,
sizes and chance of nothing to do can change for good. Fits and counts over every run average
the runs before such a change with those after it; from it on, the runs since speak for the
next one (`candidates.additive`'s costs, `candidates.linear`'s sizes, the zero chance's
breaks in `record_builder`).
"""

from __future__ import annotations

import numpy as np

from update_estimate.serving.idle import zero_chance

SINCE_RUNS = 12  # runs on each side of a change, fewest to call it one and to fit after it
SINCE_T = 4.0  # the errors' shift across it, in standard errors, beyond which it is one


def change(errors: np.ndarray) -> int | None:
    """The run from which the errors' mean moved most, in pooled standard errors, where
    that is over SINCE_T with SINCE_RUNS runs on each side; None where no run does."""
    n = len(errors)
    if n < 2 * SINCE_RUNS:
        return None
    sums = np.concatenate([[0.0], np.cumsum(errors)])
    squares = np.concatenate([[0.0], np.cumsum(errors * errors)])
    split = np.arange(SINCE_RUNS, n - SINCE_RUNS + 1)
    before, after = split.astype(float), (n - split).astype(float)
    mean_before = sums[split] / before
    mean_after = (sums[n] - sums[split]) / after
    spread = (squares[split] - before * mean_before**2) + (
        squares[n] - squares[split] - after * mean_after**2
    )
    variance = np.maximum(spread / (n - 2), 1e-12) * (1 / before + 1 / after)
    t = np.abs(mean_after - mean_before) / np.sqrt(variance)
    best = int(np.argmax(t))
    return int(split[best]) if t[best] > SINCE_T else None


def nothing_since(hours: np.ndarray, fetched: np.ndarray) -> int:
    """The first run since the share of runs that fetched nothing moved for good, 0 where it
    did not: each run's outcome against its chance of nothing, counted among the breaks of
    every run as long as its own (`serving.idle.zero_chance`), shifted (`change`).

    A plugin with more software installed fetches something after breaks a day long that
    once often brought nothing; counted over every run, a run a day after the last replayed
    the old share of zeros. Against the chance of its own break, a change of schedule (re-runs
    hours apart) does not read as one."""
    zero = ~np.asarray(fetched, dtype=bool)
    hours = np.asarray(hours, dtype=float)
    breaks = ([float(h) for h in hours[zero]], [float(h) for h in hours[~zero]])
    share = float(zero.mean())
    chances = np.array([zero_chance(breaks, float(h), share) for h in hours])
    return change(zero - chances) or 0
