"""A fixed cost plus a cost per hour of backlog, per package and per byte, on the raw scale.

How a plugin's run really adds up: a check that costs the same every time, then each package
installed and each byte downloaded costs about the same as the last. The line on log1p values
(`linear`) bends that sum with knees; it fits it within the range it has seen, and leans
below it beyond: after a lasting jump in work, the reports were larger than any it had fitted,
and its residuals leaned up (`bench/RESULTS.md`). Summed on the raw scale, the costs
extrapolate as they add up, so a report larger than any seen is answered in proportion.

Errors are relative (a run twice as long is twice as noisy), so the fit weighs each run by the
inverse square of its fitted value, and by Huber's weight on its relative error, so a few runs
that waited on a slow mirror do not set the costs for all. Every cost is at least zero: a
negative cost per package would answer a big report with less time than a small one. The hours
since the last success count up to the longest break seen: packages pile up with the days, but
no plugin has an unbounded number of them, and a year away must not read as a year of work.
The costs can change for good (more software installed, a new release's churn): `additive_recent`
races beside it with the same line, recent runs weighing more (half as much every HALF_LIFE runs
back), so a lasting jump is followed within a few dozen runs rather than averaged with every run
before it. Weighed so in every fit, it followed `simulate`'s jump but answered worse where work
comes in releases: the race picks, series by series. A level shift (work x2.5 for good) is
followed faster still by `additive_since`: where the line's errors after some run differ from
those before it (`changes.change`), the costs are fitted on the runs since. Weighing recent
runs more still averaged the runs before the shift with those after: runs with much work were
answered short, small ones too long (`bench/RESULTS.md`).
numpy only, like `linear`: its fit costs a fraction of a millisecond, and it refits at every
backtest origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from update_estimate.fitting.candidates import base
from update_estimate.fitting.candidates.base import Candidate
from update_estimate.fitting.changes import change
from update_estimate.fitting.features import width

NAME = "additive"
RECENT = "additive_recent"
# The expanded design's groups, in order: the gap, then each report (features.expand)
GROUPS = (width("gap_hours"), width("package_count"), width("download_bytes"))
ITERATIONS = 8
HUBER = 0.25  # relative error beyond which a run counts by its absolute error
FLOOR_SHARE = 0.05  # fitted values below this share of the typical run weigh as this much
MIN_FLOOR = 1e-3  # and never below a millisecond (or byte): a weight must stay finite
# Runs before the race's first origin: 20 means it races from 80 runs on, with the race's full
# 60 origins. On fewer, a new entrant mostly added a chance to win by noise: on a 30-run
# parallel history it won every plugin's wall time, one of them with an interval a
# two-hundredfold wide (`tests/test_makespan.py` failed).
MIN_POINTS = 20
# Times only. A peak of memory is not a sum over packages, and a download's size is its report
# (the line on log values has slope one there): raced there, it won by noise and widened the
# downloads' intervals.
METRICS = ("wall_clock_seconds", "cpu_seconds")
HALF_LIFE = 30  # runs back at which a run weighs half the last one, in `additive_recent`
SINCE = "additive_since"


def raw_inputs(x: np.ndarray) -> np.ndarray:
    """Hours since the last success and each reported quantity, unlogged: the first column
    of each of the design's groups."""
    starts, at = [], 0
    for size in GROUPS:
        if at >= x.shape[1]:
            break
        starts.append(at)
        at += size
    return np.expm1(x[:, starts])


@dataclass(frozen=True)
class AdditiveModel:
    """The fixed cost and one cost per raw input; the longest break seen (`longest`)."""

    coef: np.ndarray
    longest: float

    def predict(self, rows: np.ndarray) -> np.ndarray:
        raw = raw_inputs(np.atleast_2d(np.asarray(rows, dtype=float)))
        raw[:, 0] = np.minimum(raw[:, 0], self.longest)
        return np.log1p(np.maximum(self.coef[0] + raw @ self.coef[1:], 0.0))


def fit(y: np.ndarray, x: np.ndarray, half_life: float | None = None) -> AdditiveModel:
    """Costs of y's runs from x's inputs (the run's own design row: what was known before it);
    with `half_life`, a run that many runs before the last weighs half as much."""
    y, x = base.arrays(y, x)
    target = np.expm1(y)
    raw = raw_inputs(x)
    scale = raw.max(axis=0)
    scale[scale <= 0] = 1.0
    design = np.column_stack([np.ones(len(target)), raw / scale])
    positive = target[target > 0]
    floor = max(FLOOR_SHARE * float(np.median(positive)) if len(positive) else 1.0, MIN_FLOOR)
    ages = np.arange(len(target))[::-1]
    recency = np.ones(len(target)) if half_life is None else 0.5 ** (ages / half_life)
    coef = _nonnegative(design, target, recency)
    for _ in range(ITERATIONS):
        fitted = np.maximum(design @ coef, floor)
        relative = np.abs(target - fitted) / fitted
        weights = recency * np.minimum(1.0, HUBER / np.maximum(relative, 1e-12)) / fitted**2
        coef = _nonnegative(design, target, weights)
    return AdditiveModel(np.concatenate([coef[:1], coef[1:] / scale]), float(raw[:, 0].max()))


def _nonnegative(design: np.ndarray, target: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least squares with every coefficient at least zero: the most negative one is
    dropped and the rest refitted until none is (a handful of columns: exact enough)."""
    keep = list(range(design.shape[1]))
    root = np.sqrt(weights)
    while True:
        coef = np.zeros(design.shape[1])
        if keep:
            coef[keep] = np.linalg.lstsq(
                design[:, keep] * root[:, None], target * root, rcond=None
            )[0]
        negative = [k for k in keep if coef[k] < 0]
        if not negative:
            return coef
        keep.remove(min(negative, key=lambda k: coef[k]))


def fit_since(y: np.ndarray, x: np.ndarray) -> AdditiveModel:
    """The costs of the runs since the last lasting change, where one shows (`change`)."""
    y, x = base.arrays(y, x)
    full, since = _since(y, x)
    return full if since is None else fit(y[since:], x[since:])


def hindsight(y: np.ndarray, x: np.ndarray, start: int, raced: np.ndarray) -> np.ndarray:
    """Forecasts of y[start:] as the final fit would have made them, for its calibration: it
    knows the change the whole series shows, where the backtest's fits could call it only
    SINCE_RUNS runs after it. Their errors in between (the old costs read for the new) spoke
    for every run after it: intervals as wide as if the costs changed again before each run.
    Before the change, each run keeps the race's forecast (`raced`, from the runs before it);
    from it on, the fit on every other run since forecasts it (leave one out), as the final
    fit errs on a run of its own regime."""
    y, x = base.arrays(y, x)
    forecasts = np.array(raced, dtype=float)
    _, since = _since(y, x)
    if since is None:
        return forecasts
    after = np.arange(since, len(y))
    for t in range(max(start, since), len(y)):
        others = after[after != t]
        forecasts[t - start] = fit(y[others], x[others]).predict(x[t])[0]
    return forecasts


def _since(y: np.ndarray, x: np.ndarray) -> tuple[AdditiveModel, int | None]:
    """The fit on every run, and the run from which its errors show a lasting change."""
    full = fit(y, x)
    return full, change(y - full.predict(x))


def one_step(y: np.ndarray, x: np.ndarray, start: int) -> np.ndarray:
    return base.one_step(fit, y, x, start)


def candidate() -> Candidate:
    """Costs summed on the raw scale, from the gap and the reports."""
    return base.refitted(NAME, MIN_POINTS, fit, METRICS, summed=True)


def recent_candidate() -> Candidate:
    """The same costs, recent runs weighing more."""
    return base.refitted(
        RECENT, MIN_POINTS, partial(fit, half_life=HALF_LIFE), METRICS, summed=True
    )


def since_candidate() -> Candidate:
    """The same costs, fitted on the runs since the last lasting change."""
    return base.refitted(SINCE, MIN_POINTS, fit_since, METRICS, hindsight, summed=True)
