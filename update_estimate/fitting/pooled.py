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
own costs too (`_with_own_costs`); a report of nothing to do, from the checks (`borrow`); a
report of a download's size, from the size (`_reported_size`). Below SHORT runs the shape
answers for the series: letting the series' own race (scored on fewer runs, one step at a
time) overrule it where its error looked lower chose by noise, and under-covered a new user's
first weeks (`late-plugins`). Beyond SHORT, most variants keep the shape until the series' own
race can be calibrated (`until`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from update_estimate.fitting import grid
from update_estimate.fitting.candidates import additive, linear
from update_estimate.fitting.candidates.base import model_inputs
from update_estimate.fitting.features import CALENDAR_COLUMNS, Series, plausible_cap, width
from update_estimate.fitting.race import COVERAGE_WARMUP, MAX_ORIGINS, MIN_TRAIN
from update_estimate.record import HOST_SHAPE, TIMES
from update_estimate.reports import reads_reports
from update_estimate.serving import conformal
from update_estimate.serving.predictive import WIDE, ZERO_LOG

SHORT = 16  # fewer runs than this: no covariate model can enter the series' own race
# Fewer runs than this: the series' own race leaves fewer residuals than its coverage check
# needs, and most variants keep the host's shape (see `until`).
OWN_CALIBRATED = MIN_TRAIN + COVERAGE_WARMUP
# Without a report, a download's size is calibrated on the runs that downloaded: a plugin that
# downloads in two runs of five has COVERAGE_WARMUP of them only once its race has its whole
# window.
DOWNLOADS_UNTIL = MAX_ORIGINS
MIN_ROWS = 12  # runs over the host's plugins, fewest for a shape
NAME = HOST_SHAPE
LEVEL_PENALTY = 0.1  # ridge on each plugin's level: its own runs set it from the first
# Uncensored runs of its own from which a plugin's reported work is also read from its own
# costs (`_with_own_costs`): fewer left each left-out fit with barely more runs than costs.
OWN_COSTS = 6
SIZE = "download_bytes"
MEMORY = "memory_peak_bytes"
CHECK, CHECK_METRIC = "CHECK", "wall_clock_seconds"  # the phase series a check's spread reads
ONLY_CHECKED = 2  # runs, all checks, that bound a plugin's time no further than its errors
QUIET_DF = 2  # fewest degrees of freedom of the checks' pooled variance (`quiet_spread`)
# Stand-in errors of a check: ranks 1..99 of 100 hold every level's bounds up to 98%
QUIET_STEPS = 99

Line = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Borrowed:
    """A short series' variant: its grid forecasts, per run of its own the forecast of a fit
    without that run (`centres`), and the host's other runs' errors about the line (`lent`:
    runs that observed something, widened for the line's own fit to them); a time's, how far
    a check of its may fall from its level of them (`quiet_errors`: stand-in errors, see
    `quiet_spread`; none where it has no such run of its own: with a report, runs that
    reported nothing to do, before the run, runs that had nothing to do); where a run with
    nothing to do stands in for its first before it has had one, its level (`quiet_level`:
    peak memory's `_first_check`, a time's `_first_timed_check`)."""

    predictions: np.ndarray
    centres: np.ndarray
    lent: np.ndarray
    quiet_errors: np.ndarray
    quiet_level: float | None = None


def until(variant: str, metric: str) -> int:
    """Runs from which a variant answers from the series' own race.

    With a report, the host's shape knows how a report turns into work from every plugin's
    runs, where the series' own covariate models have 8-18 origins to prove it; it keeps
    answering until the own race is calibrated (from there, a report beyond any seen is
    answered by the race's pickled model, or beyond the race's reports by the plugin's own
    costs where the winner reads none: `beyond_race`), and so does the shape of memory and
    downloads.
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


def only_checked(s: Series) -> bool:
    """Whether `s` is a time whose every run so far, ONLY_CHECKED at most, had nothing to
    do. A check or two say nothing of what a run with work costs: capped at 1.5 times the
    largest of them (`features.plausible_cap`), the host's errors lent it could not reach a
    run with work, and such a plugin's next run, a build of minutes where its checks took
    seconds, was mostly missed in a new host's first week (`bench/RESULTS.md`)."""
    if s.metric not in TIMES or s.idle is None:
        return False
    kept = ~s.censored
    return 0 < int(kept.sum()) <= ONLY_CHECKED and bool(s.idle[kept].all())


def checked_cap(s: Series, shapes: Mapping[str, Borrowed]) -> float:
    """The cap of a time that has only checked (`only_checked`): 1.5 times its largest run
    moved up by as far as its errors reach, the largest its host lends it, or without a
    shape the wide spread of a series with no errors (`serving.predictive.WIDE`)."""
    lent = [float(np.max(shape.lent)) for shape in shapes.values() if len(shape.lent)]
    reach = max(lent) if lent else WIDE
    return plausible_cap(np.array([float(np.max(s.y)) + reach]))


@dataclass(frozen=True)
class Stack:
    """The host's runs a line is fitted on: `target`'s first, then its siblings' (`members`),
    each row its plugin's indicator and the variant's inputs (`design`), and the runs the line
    may fit (`usable`: uncensored, and where the target's zeros are a hurdle, of some size)."""

    members: list[Series]
    design: np.ndarray
    y: np.ndarray
    usable: np.ndarray

    def line(self, rows: np.ndarray) -> Line:
        """The line fitted on the usable `rows` (a boolean mask over the stack)."""
        return _line(self.design[rows], self.y[rows], len(self.members))


def stack(
    target: Series, siblings: Sequence[Series], variant: str, before: str | None = None
) -> Stack | None:
    """`target`'s host's runs of the same metric (and reports); siblings' runs count only when
    they started before `before` (a backtest cut). None with no sibling, or too few runs.

    Peak memory without a report is drawn through the runs with work alone: the host's
    checks come after short breaks at a third of the memory, and the shared slope on the
    break read them as its effect on every plugin, where each plugin's chance of work is its
    own (`serving.idle` weighs the kinds): a plugin that had work an hour after its last run
    was forecast at half its memory there, and those errors widened all its intervals. A
    plugin whose every run so far was a check keeps them: they are the level it has shown."""
    members = [target] + [
        s
        for s in _host_series(target, siblings)
        if variant == "base" or s.reports == target.reports
    ]
    if len(members) < 2:
        return None
    designs, values = [], []
    for index, s in enumerate(members):
        end = s.n if index == 0 else _seen(s, before)
        designs.append(inputs(s, variant, index, len(members))[:end])
        values.append(s.y[:end])
    design, y = np.vstack(designs), np.concatenate(values)
    censored = np.concatenate([s.censored[: len(v)] for s, v in zip(members, values, strict=True)])
    own_x = design[: target.n, len(members) :]
    hurdle = bool((target.y == 0).any()) and not linear.foreseen(own_x, target.y)
    usable = ~censored & ((y > 0) if hurdle else True)
    if variant == "base" and target.metric == MEMORY:
        quiet = [_idle(s, len(v)) for s, v in zip(members, values, strict=True)]
        if quiet[0].all():  # no run with work of its own: its checks set its level
            quiet[0] = np.zeros(target.n, dtype=bool)
        usable &= ~np.concatenate(quiet)
    return Stack(members, design, y, usable) if usable.sum() >= MIN_ROWS else None


def _seen(s: Series, before: str | None) -> int:
    """How many of `s`'s runs started before `before` (a backtest cut; None: all)."""
    return s.n if before is None else bisect.bisect_left(s.starts, before)


def _kept(s: Series, before: str | None, quiet: bool | None = None) -> np.ndarray:
    """Which of `s`'s runs before `before` (a backtest cut) ran to their end: all of them,
    or those that had nothing to do (`quiet` True) or work (False); a mask over those runs."""
    end = _seen(s, before)
    kept = ~s.censored[:end]
    return kept if quiet is None else kept & (_idle(s, end) == quiet)


def _values(s: Series, before: str | None, quiet: bool | None = None) -> np.ndarray:
    """The values of `_kept`'s runs."""
    kept = _kept(s, before, quiet)
    return s.y[: len(kept)][kept]


def _idle(s: Series, end: int) -> np.ndarray:
    """Which of `s`'s first `end` runs had nothing to do (none where that is unknown)."""
    return np.zeros(end, dtype=bool) if s.idle is None else s.idle[:end]


def _host_series(target: Series, siblings: Sequence[Series]) -> list[Series]:
    """The other series of `target`'s host with its metric and phase."""
    same = (target.host, target.metric, target.phase)
    return [s for s in siblings if s.key != target.key and (s.host, s.metric, s.phase) == same]


def borrow(
    target: Series, siblings: Sequence[Series], variant: str, before: str | None = None
) -> Borrowed | None:
    """`target`'s shape for one variant from its host's series of the same metric (and
    reports); siblings' runs count only when they started before `before` (a backtest cut).

    A time reported with nothing to do is a check, answered at the median of the plugin's
    own runs that reported nothing, with the spread of its own and its host's checks, and of
    every run's CHECK phase (`check_phases`), about each plugin's level of them
    (`quiet_spread`). Read off the line, a check sat where the runs with work bent it, and
    its interval was calibrated on those runs, whose downloads vary far more than a check:
    in a new user's first weeks a check's interval scored about three times the truth's
    (`bench/RESULTS.md`). Before the run, the same spread stands in for a time's few runs
    that had nothing to do (`serving.predictive`)."""
    host = stack(target, siblings, variant, before)
    if host is None:
        return None
    design, y, usable = host.design, host.y, host.usable
    g = grid.build(target, variant)
    size = len(host.members)
    nodes = np.column_stack([_one_hot(0, size, len(g.rows)), g.rows[:, :-CALENDAR_COLUMNS]])
    full = host.line(usable)
    centres = np.empty(target.n)
    for j in range(target.n):  # the target's runs come first in the stack
        fit = host.line(usable & (np.arange(len(y)) != j)) if usable[j] else full
        centres[j] = fit(design[j : j + 1])[0]
    predictions = full(nodes)
    if variant == "reports" and SIZE in target.reports and target.metric == SIZE:
        return _reported_size(target, host.members[1:], g.rows, predictions, centres, before)
    lent = _lent(full, design, y, usable & (y > 0), target.n)
    if variant == "base" and target.metric in TIMES and target.idle is not None:
        checked = target.y[_kept(target, None, quiet=True)]
        first = None if len(checked) else _first_timed_check(target, siblings, before)
        own = checked if first is None else np.array([first])
        spread = _check_spread(target, siblings, own, before)
        return Borrowed(predictions, centres, lent, spread, first)
    if variant == "base" and target.metric == MEMORY:
        first_check = _first_check(target, siblings, before)
        return Borrowed(predictions, centres, lent, np.empty(0), first_check)
    if variant == "base" and target.metric == SIZE:  # a run that fetched nothing, if it has none
        return Borrowed(predictions, centres, lent, np.empty(0), ZERO_LOG)
    if variant != "reports" or target.metric not in TIMES:
        return Borrowed(predictions, centres, lent, np.empty(0))
    if sums_own_costs(target, variant):
        predictions, centres = _with_own_costs(target, g.rows, predictions, centres)
    quiet = _quiet_runs(target)
    if not quiet.any():
        return Borrowed(predictions, centres, lent, np.empty(0))
    predictions = np.where(
        (_reports_at(g.rows, target) == 0).all(axis=1), np.median(target.y[quiet]), predictions
    )
    about = _about_level(target.y, quiet)
    own = np.isfinite(about)
    centres = np.where(own, target.y - about, centres)
    return Borrowed(
        predictions, centres, lent, _check_spread(target, siblings, target.y[quiet], before)
    )


def _check_spread(
    target: Series, siblings: Sequence[Series], own: np.ndarray, before: str | None
) -> np.ndarray:
    """Stand-in errors of a check of `target` about its level of its `own` checks
    (`quiet_spread`), spread as its own, its host's (siblings' runs before `before`) and every
    run's CHECK phase (`check_phases`) spread."""
    checks = [own]
    checks += [_values(member, before, quiet=True) for member in _host_series(target, siblings)]
    checks += [_values(member, before) for member in check_phases(target, siblings)]
    return quiet_spread(checks, len(own))


def _first_check(target: Series, siblings: Sequence[Series], before: str | None) -> float | None:
    """The peak memory of a plugin's first run with nothing to do, before it has had one:
    its runs' median moved by its host's plugins' median of their checks' level below their
    updates' (log). None where it has had one, or no plugin of its host has both kinds.

    A check reads an index where an update unpacks packages, and a new plugin whose every run
    had work was answered at their level alone: its first check, at a third of it, was
    never covered (`bench/RESULTS.md`)."""
    if target.idle is None or target.idle.any():
        return None
    below = []
    for member in _host_series(target, siblings):
        quiet, work = _values(member, before, quiet=True), _values(member, before, quiet=False)
        if len(quiet) and len(work):
            below.append(float(np.median(quiet) - np.median(work)))
    if not below:
        return None
    return float(np.median(target.y[~target.censored])) + float(np.median(below))


def _first_timed_check(
    target: Series, siblings: Sequence[Series], before: str | None
) -> float | None:
    """A time's first run with nothing to do, before it has had one: the median of its own
    runs' CHECK phases moved by how far its host's runs with nothing to do lay above their
    own CHECK phase (log). None without its CHECK phases, or no such run on its host.

    Every run passes through its check, and a run with nothing to do is its check and a
    little more: answered from its runs with work and its host's errors, a new plugin's
    first check read an interval twice as wide as its check's own (`bench/RESULTS.md`)."""
    phases = {s.plugin: s for s in check_phases(target, siblings)}
    own = phases.get(target.plugin)
    checked = np.empty(0) if own is None else _values(own, before)
    if not len(checked):
        return None
    above = []
    for member in _host_series(target, siblings):
        check = phases.get(member.plugin)
        if check is None:
            continue
        at = dict(zip(check.run_ids, check.y, strict=True))
        quiet = np.flatnonzero(_kept(member, before, quiet=True))
        above += [
            float(member.y[i] - at[member.run_ids[i]]) for i in quiet if member.run_ids[i] in at
        ]
    if not above:
        return None
    return float(np.median(checked)) + float(np.median(above))


def check_phases(target: Series, siblings: Sequence[Series]) -> list[Series]:
    """The host's CHECK phases' wall clock, the target plugin's own among them: where the
    phases were read (`train --phases`), a check's spread counts them.

    Every run passes through its check, work or none, and a run with nothing to do is little
    more than it, its CPU with it. A new user's plugins have checked once or twice: their few
    pairs set the spread, which swung from far narrower than a check's to several times it,
    or, with no pair, a check was answered with the errors of the runs with work
    (`bench/RESULTS.md`)."""
    return [
        s for s in siblings if (s.host, s.metric, s.phase) == (target.host, CHECK_METRIC, CHECK)
    ]


def quiet_spread(checks: Sequence[np.ndarray], own: int) -> np.ndarray:
    """Stand-in errors of a check about the median of the plugin's `own` checks so far:
    Student's prediction quantiles (at evenly spaced ranks) from the variance of each
    plugin's checks about their mean, pooled over the plugins with two or more (`checks`:
    each plugin's values of them). None with fewer than QUIET_DF degrees of freedom.

    A new user's host has a few checks per plugin: their errors about each plugin's level
    (each left out of it) were too few for the conformal ranks before 9 of them, and a pair's
    two errors are one difference twice, so that a handful of them was a sample of half as
    many; a plugin's own level from one to three of its checks is uncertain too
    (`sqrt(1 + 1 / own)`). Pooled, the plugins' checks spread alike (their noise is the
    network's and the machine's), and a check's interval is their prediction interval:
    measured in bench/RESULTS.md."""
    counted = [c for c in checks if len(c) >= 2]
    df = sum(len(c) - 1 for c in counted)
    if df < QUIET_DF or own < 1:
        return np.empty(0)
    squares = sum(float(((c - c.mean()) ** 2).sum()) for c in counted)
    scale = math.sqrt(squares / df * (1 + 1 / own))
    ranks = np.arange(1, QUIET_STEPS + 1) / (QUIET_STEPS + 1)
    return np.array([scale * _student_t_at(p, df) for p in ranks])


def _student_t_at(p: float, df: int) -> float:
    return conformal.student_t(p, df) if p >= 0.5 else -conformal.student_t(1 - p, df)


def _reported_size(
    target: Series,
    others: Sequence[Series],
    rows: np.ndarray,
    predictions: np.ndarray,
    centres: np.ndarray,
    before: str | None,
) -> Borrowed:
    """A download with a report of its size: the size reported times the plugin's own
    ratio of what came to what was reported (the median over its runs), or its host's where
    it has none; the errors its host lends are each plugin's ratios about its own.

    The host's line on log values fitted the gap and the package count beside the size,
    with as many columns as a new user's first weeks have runs: its errors were a third wider
    than a report's own noise, and a report beyond those seen was answered from the line's
    edge, widened with its distance. A size as reported is what came, with the plugin's
    bias and noise, at any size (`bench/RESULTS.md`). Every node holds it, a size of nothing
    too, so that beyond the sizes the plugin has reported it grows in proportion: kept from
    the line there, a plugin whose runs had all reported nothing read a first report of 1 GB
    as 1 byte off its grid's edge."""
    ratios = [_ratios(s, before) for s in others]
    pooled_ratios = _finite(ratios)
    own = _ratios(target, None)
    has = np.isfinite(own)
    if not has.any() and not len(pooled_ratios):
        return Borrowed(predictions, centres, np.empty(0), np.empty(0))
    host_level = float(np.median(pooled_ratios)) if len(pooled_ratios) else None
    level = float(np.median(own[has])) if has.any() else host_level
    column = target.reports.index(SIZE)
    sized = _reports_at(rows, target)[:, column]
    predictions = np.log1p(sized) + level
    centres = centres.copy()
    for j in np.flatnonzero(has):  # the size it reported is what came less its ratio
        mine = has & (np.arange(target.n) != j)
        if mine.any() or host_level is not None:
            other = np.median(own[mine]) if mine.any() else host_level
            centres[j] = target.y[j] - own[j] + other
    lent = _finite([_about_level(r, np.isfinite(r)) for r in ratios])
    return Borrowed(predictions, centres, lent, np.empty(0))


def _finite(parts: Sequence[np.ndarray]) -> np.ndarray:
    """The finite values of every part, one after another (NaN marks a run without one)."""
    return np.concatenate([p[np.isfinite(p)] for p in parts] + [np.empty(0)])


def _ratios(s: Series, before: str | None) -> np.ndarray:
    """Per run before `before`, what came over what was reported (log); NaN where either
    is nothing, or the run was cut short."""
    end = _seen(s, before)
    if SIZE not in s.reports:
        return np.full(end, np.nan)
    sized = _reports_at(grid.design(s, "reports"), s)[:end, s.reports.index(SIZE)]
    came = (s.y[:end] > 0) & (sized > 0) & ~s.censored[:end]
    return np.where(came, s.y[:end] - np.log1p(np.maximum(sized, 0.0)), np.nan)


def _quiet_runs(s: Series) -> np.ndarray:
    """The runs, uncensored, whose every report said there was nothing to do."""
    return ~s.censored & (_reports_at(grid.design(s, "reports"), s) == 0).all(axis=1)


def _reports_at(rows: np.ndarray, s: Series) -> np.ndarray:
    """The raw value of each of `s`'s reported quantities at rows of its reports design."""
    starts = np.cumsum([0] + [width(name) for name in grid.names(s, "reports")])[1:-1]
    return np.expm1(rows[:, starts])


def _about_level(y: np.ndarray, quiet: np.ndarray) -> np.ndarray:
    """Each quiet run's value less the median of the other quiet runs' (its level, left out
    of it); NaN for every other run, and where it is the only quiet run."""
    out = np.full(len(y), np.nan)
    members = np.flatnonzero(quiet)
    if len(members) < 2:
        return out
    for j in members:
        out[j] = y[j] - np.median(y[members[members != j]])
    return out


def sums_own_costs(target: Series, variant: str) -> bool:
    """Whether `target`'s shape for `variant` is joined with its own costs (`_with_own_costs`),
    so that, half a sum on the raw scale, it is read there between the grid's nodes."""
    return (
        variant == "reports"
        and target.metric in TIMES
        and int((~target.censored).sum()) >= OWN_COSTS
    )


def _with_own_costs(
    target: Series, rows: np.ndarray, predictions: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The line's forecasts at the grid's `rows` (`predictions`) and of each own run
    (`centres`, leave one out) joined on the log scale with the plugin's own costs summed on
    the raw scale (`additive`), from OWN_COSTS runs on (`sums_own_costs`).

    The host's line bends every plugin's sum of a fixed cost and costs per package and byte
    alike, with slopes shared by plugins whose fixed costs differ tenfold; a plugin's own
    costs, fitted alone, follow its own sum but swing on its first runs. From six runs on,
    their forecasts averaged on the log scale erred less than the line's, and no more than
    the own costs' alone; without a report, the hours alone, the own costs erred more than
    the line. Beyond every report the plugin has seen (the weeks-long backlog after a break),
    the line's shared log slopes fell far short where the costs, summed, grow in proportion:
    the own costs answer alone there, at a grid node past the largest report and for a run
    whose report exceeded every other's (`bench/RESULTS.md`). So they do below the smallest:
    a first report of nothing to do, after runs of 5-90 packages, was answered by the log
    slopes fallen towards nothing, at half a check's time."""
    x = own_inputs(target)
    kept = np.flatnonzero(~target.censored)
    reports = _reported(x)
    whole = additive.fit(target.y[kept], x[kept])
    own = np.empty(target.n)
    beyond = np.empty(target.n, dtype=bool)
    for j in range(target.n):  # as the line's: a censored run is left out of every fit
        others = kept[kept != j]
        fit = additive.fit(target.y[others], x[others]) if len(others) < len(kept) else whole
        own[j] = fit.predict(x[j])[0]
        beyond[j] = _outside(reports[j : j + 1], reports[others])[0]
    at_rows = model_inputs(rows, False)
    past = _outside(_reported(at_rows), reports[kept])
    return _joined(predictions, whole.predict(at_rows), past), _joined(centres, own, beyond)


def own_costs_beyond_race(target: Series, variant: str, winner: str) -> bool:
    """Whether a raced variant's grid answers reports beyond its race's from the plugin's own
    costs (`beyond_race`): a time's reports race won by a model that reads no report, from
    OWN_COSTS runs on."""
    return sums_own_costs(target, variant) and not reads_reports(winner)


def beyond_race(
    target: Series, rows: np.ndarray, predictions: np.ndarray, start: int
) -> np.ndarray:
    """The winner's forecasts at the grid's `rows`, those whose report lies beyond every
    report of the race's runs (from `start` on) replaced by the plugin's own costs summed
    (`additive`, fitted on all its runs).

    A reports race is won by a model that reads no report where the reports of its runs
    barely vary (checks and a few packages): a report beyond them is a case the winner was
    never judged on, and it answered it as a typical run: a new user's apt, whose first run
    brought 60 packages, answered a report of 78 as a few seconds' check on the day its own
    race took over from the host's shape, which reads the report (`bench/RESULTS.md`)."""
    x = own_inputs(target)
    kept = np.flatnonzero(~target.censored)
    at_rows = model_inputs(rows, False)
    own = additive.fit(target.y[kept], x[kept]).predict(at_rows)
    raced = kept[kept >= start]
    if not len(raced):  # every run of the race timed out: none of its reports was judged
        return own
    beyond = _outside(_reported(at_rows), _reported(x[raced]))
    return np.where(beyond, own, predictions)


def _reported(inputs: np.ndarray) -> np.ndarray:
    """The reported quantities of the own costs' `inputs`, on the raw scale (hours left out)."""
    return additive.raw_inputs(inputs)[:, 1:]


def _outside(reports: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Per row of `reports`, whether any reported quantity lies beyond the range `seen`."""
    return ((reports > seen.max(axis=0)) | (reports < seen.min(axis=0))).any(axis=1)


def own_inputs(s: Series) -> np.ndarray:
    """What the plugin's own costs are fitted on and read from: the hours and each report."""
    return model_inputs(grid.design(s, "reports"), False)


def _joined(line: np.ndarray, own: np.ndarray, beyond: np.ndarray) -> np.ndarray:
    """The average of the line's and the own costs' forecasts, the own costs' alone beyond."""
    return np.where(beyond, own, (line + own) / 2)


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


def inputs(s: Series, variant: str, index: int, members: int) -> np.ndarray:
    """The plugin's indicator, then the variant's estimate-time inputs without the calendar."""
    x = grid.design(s, variant)[:, :-CALENDAR_COLUMNS]
    return np.column_stack([_one_hot(index, members, s.n), x])


def _line(design: np.ndarray, target: np.ndarray, members: int) -> Line:
    penalties = np.full(design.shape[1], linear.PENALTY)
    penalties[:members] = LEVEL_PENALTY
    mean, coef = linear.huber(design, target, np.ones(len(target)), True, penalties)
    return lambda rows: coef[0] + (rows - mean) @ coef[1:]
