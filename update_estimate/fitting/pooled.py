"""Borrowed shape: a plugin with few runs answers with the shape of its host.

A new user's plugins have a handful of runs each: too few for any model of the gap or the report
to enter a series' race (`linear` needs 8 backtest origins, so 16 runs), and the report changed
nothing. But a host's plugins share how a run grows with its work: a fixed cost of its own, plus
a cost per package, per byte and per hour of backlog, on the log1p scale. One robust ridge over
every plugin of the host with the same metric (and, for the `reports` variant, the same reported
quantities), with a level per plugin, lets the gap and the report count from a plugin's first
runs on. The slopes are shared and shrunk by the ridge penalty; the levels barely are: plugins'
levels differ most (memory: 60 MB to 900 MB), and a level shrunk towards the others' answered
a plugin's first runs at half their memory (Huber weighs its own runs down as outliers of the
others' line, so the penalty took over). Where a series has runs that
observed nothing and its inputs do not foresee them (downloads without a report), the shape is a
hurdle as in `linear`: the line is the size of what came, and the calibration replays each zero.
The plugin's own runs calibrate it, each forecast by a fit that left it out: a fit on the runs
before it alone is a learning curve from nothing, whose first errors are the intercept's, and
they widened every interval. From OWN_COSTS runs on, a report's time is read from the plugin's
own costs too (`_own_costs`). Below SHORT runs the shape answers for the series: letting the
series' own race (scored on fewer runs, one step at a time) overrule it where its error looked
lower chose by noise, and under-covered a new user's first weeks (`late-plugins`). Beyond
SHORT, most variants keep the shape until the series' own race can be calibrated (`until`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from update_estimate.fitting import grid
from update_estimate.fitting.candidates import additive, linear
from update_estimate.fitting.candidates.base import model_inputs
from update_estimate.fitting.features import CALENDAR_COLUMNS, TIMES, Series
from update_estimate.fitting.race import COVERAGE_WARMUP, MAX_ORIGINS, MIN_TRAIN

SHORT = 16  # fewer runs than this: no covariate model can enter the series' own race
# Fewer runs than this: the series' own race leaves fewer residuals than its coverage check
# needs, and most variants keep the host's shape (see `until`).
OWN_CALIBRATED = MIN_TRAIN + COVERAGE_WARMUP
# Without a report, a download's size is calibrated on the runs that downloaded: a plugin that
# downloads in two runs of five has COVERAGE_WARMUP of them only once its race has its whole
# window.
DOWNLOADS_UNTIL = MAX_ORIGINS
MIN_ROWS = 12  # runs over the host's plugins, fewest for a shape
NAME = "borrowed_shape"
LEVEL_PENALTY = 0.1  # ridge on each plugin's level: its own runs set it from the first
# Uncensored runs of its own from which a plugin's reported work is also read from its own
# costs (`_own_costs`): fewer left each left-out fit with barely more runs than costs.
OWN_COSTS = 6

Line = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Borrowed:
    """A short series' variant: its grid forecasts, per run of its own the forecast of a fit
    without that run (`centres`), and the host's other runs' errors about the line (`lent`:
    runs that observed something, widened for the line's own fit to them)."""

    predictions: np.ndarray
    centres: np.ndarray
    lent: np.ndarray


def until(variant: str, metric: str) -> int:
    """Runs from which a variant answers from the series' own race.

    With a report, the host's shape knows how a report turns into work from every plugin's
    runs, where the series' own covariate models have 8-18 origins to prove it; it keeps
    answering until the own race is calibrated (from there, a report beyond any seen is
    answered by the race's pickled model), and so does the shape of memory and downloads.
    Downloads without a report keep it longest (DOWNLOADS_UNTIL). Without a report, a run's
    time follows what was released since the last run more than the hours since: on the
    held-out histories the host's line of time on hours answered worse than the series' own
    level from SHORT runs on (bench/RESULTS.md).
    """
    if metric == "download_bytes" and variant == "base":
        return DOWNLOADS_UNTIL
    return SHORT if variant == "base" and metric in TIMES else OWN_CALIBRATED


def lends_at(s: Series, runs: int) -> bool:
    """Whether the host lends `s` a shape for some variant after `runs` runs of its own."""
    return s.phase is None and runs < max(until(v, s.metric) for v in grid.variants(s))


def wanted(s: Series) -> bool:
    """Whether the host lends `s` its shape now: time from a plugin's first run, where its
    one run answered for a run of either kind (a check's seconds for a build's minutes) and
    under-covered (`bench/first_runs.py`); memory and downloads, a level of each kind, from
    their second."""
    return s.n >= (1 if s.metric in TIMES else 2) and lends_at(s, s.n)


def borrow_all(
    target: Series, siblings: Sequence[Series], before: str | None = None
) -> dict[str, Borrowed]:
    """The borrowed shape of each of `target`'s variants that its host can lend."""
    out = {}
    for variant in grid.variants(target):
        if target.n >= until(variant, target.metric):
            continue
        shape = borrow(target, siblings, variant, before)
        if shape is not None:
            out[variant] = shape
    return out


def borrow(
    target: Series, siblings: Sequence[Series], variant: str, before: str | None = None
) -> Borrowed | None:
    """`target`'s shape for one variant from its host's series of the same metric (and
    reports); siblings' runs count only when they started before `before` (a backtest cut)."""
    same = (target.host, target.metric, target.phase)
    members = [target] + [
        s
        for s in siblings
        if s.key != target.key
        and (s.host, s.metric, s.phase) == same
        and (variant == "base" or s.reports == target.reports)
    ]
    if len(members) < 2:
        return None
    designs, values = [], []
    for index, s in enumerate(members):
        end = s.n if before is None or index == 0 else bisect.bisect_left(s.starts, before)
        designs.append(_inputs(s, variant, index, len(members))[:end])
        values.append(s.y[:end])
    design, y = np.vstack(designs), np.concatenate(values)
    censored = np.concatenate([s.censored[: len(v)] for s, v in zip(members, values, strict=True)])
    own_x = _inputs(target, variant, 0, len(members))
    hurdle = bool((target.y == 0).any()) and not linear.foreseen(own_x[:, len(members) :], target.y)
    usable = ~censored & ((y > 0) if hurdle else True)
    if usable.sum() < MIN_ROWS:
        return None
    g = grid.build(target, variant)
    nodes = np.column_stack([_one_hot(0, len(members), len(g.rows)), g.rows[:, :-CALENDAR_COLUMNS]])
    line = partial(_line, members=len(members))
    full = line(design[usable], y[usable])
    centres = np.empty(target.n)
    for j in range(target.n):  # the target's runs come first in the stack
        left_out = usable & (np.arange(len(y)) != j)
        fit = line(design[left_out], y[left_out]) if usable[j] else full
        centres[j] = fit(own_x[j : j + 1])[0]
    predictions = full(nodes)
    own = _own_costs(target, g.rows) if variant == "reports" and target.metric in TIMES else None
    if own is not None:
        predictions, centres = (predictions + own[0]) / 2, (centres + own[1]) / 2
    return Borrowed(predictions, centres, _lent(full, design, y, usable & (y > 0), target.n))


def _own_costs(target: Series, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The plugin's own costs summed on the raw scale (`additive`): its forecasts at the grid's
    `rows`, and per run of its own the forecast of a fit without that run; None before
    OWN_COSTS runs.

    The host's line bends every plugin's sum of a fixed cost and costs per package and byte
    alike, with slopes shared by plugins whose fixed costs differ tenfold; a plugin's own
    costs, fitted alone, follow its own sum but swing on its first runs. From six runs on,
    their forecasts averaged on the log scale erred less than the line's, and no more than
    the own costs' alone; without a report, the hours alone, the own costs erred more than
    the line (`bench/RESULTS.md`)."""
    x = model_inputs(grid.design(target, "reports"), False)
    kept = np.flatnonzero(~target.censored)
    if len(kept) < OWN_COSTS:
        return None
    whole = additive.fit(target.y[kept], x[kept])
    centres = np.empty(target.n)
    for j in range(target.n):  # as the line's: a censored run is left out of every fit
        others = kept[kept != j]
        fit = additive.fit(target.y[others], x[others]) if len(others) < len(kept) else whole
        centres[j] = fit.predict(x[j])[0]
    return whole.predict(model_inputs(rows, False)), centres


def _lent(
    full: Line, design: np.ndarray, y: np.ndarray, usable: np.ndarray, own: int
) -> np.ndarray:
    """The other plugins' errors about the host's line, each widened by sqrt(n / (n - k)):
    the line was fitted to them too, so they understate an error out of sample."""
    others = usable.copy()
    others[:own] = False  # the target's runs come first in the stack
    rows, columns = int(usable.sum()), design.shape[1]
    widen = np.sqrt(rows / (rows - columns)) if rows > columns else 1.0
    return (y[others] - full(design[others])) * widen


def _one_hot(index: int, size: int, rows: int) -> np.ndarray:
    out = np.zeros((rows, size))
    out[:, index] = 1.0
    return out


def _inputs(s: Series, variant: str, index: int, members: int) -> np.ndarray:
    """The plugin's indicator, then the variant's estimate-time inputs without the calendar."""
    x = grid.design(s, variant)[:, :-CALENDAR_COLUMNS]
    return np.column_stack([_one_hot(index, members, s.n), x])


def _line(design: np.ndarray, target: np.ndarray, members: int) -> Line:
    penalties = np.full(design.shape[1], linear.PENALTY)
    penalties[:members] = LEVEL_PENALTY
    mean, coef = linear.huber(design, target, np.ones(len(target)), True, penalties)
    return lambda rows: coef[0] + (rows - mean) @ coef[1:]
