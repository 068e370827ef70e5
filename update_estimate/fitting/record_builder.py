"""Forecast records (`update_estimate.record`) built from a fitted series: the grid's
forecasts, the calibration residuals and what serving needs to read them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from update_estimate import reports
from update_estimate.fitting import changes, grid, idle, spread
from update_estimate.fitting.calibration import LEVEL
from update_estimate.fitting.candidates import linear
from update_estimate.fitting.candidates.base import model_inputs
from update_estimate.fitting.features import MAD_SCALE, Series, plausible_cap, timeout_of
from update_estimate.record import TIMES, Axis, Idle, LoneBreaks, SeriesRecord, Spread, Variant
from update_estimate.serving import conformal
from update_estimate.serving.predictive import ZERO_LOG

# A break more than twice as long as every other calibration run's (or less than half as
# long as every other's), on log1p hours.
LONE_MARGIN = math.log(2.0)


def variant_record(
    s: Series,
    chosen: str,
    residuals: np.ndarray,
    censored: np.ndarray,
    start: int,
    predictions: np.ndarray,
    g: grid.Grid,
    centres: np.ndarray,
    usable: np.ndarray,
    variant: str,
    summed: bool = False,
) -> Variant:
    points, weekday, hour = g.split(predictions)
    noise = MAD_SCALE * float(np.median(np.abs(residuals))) if len(residuals) else 0.0
    weekday = grid.shrunk(weekday, s.calendar, 2, noise)
    hour = grid.shrunk(hour, s.calendar, 0, noise)
    rate = spread.slope(centres, residuals, usable)
    constant = bool(np.ptp(predictions) < 1e-9)
    names = [name for name, _ in g.axes[1:]]
    deciding = [names.index(name) for name in reports.deciding(s.metric, names)]
    reported = s.covariates[start:, 1 : len(g.axes)][:, deciding]
    return Variant(
        model=chosen,
        axes=[] if constant else [Axis(name, list(values)) for name, values in g.axes],
        points=[points[0]] if constant else points,
        weekday=None if constant else weekday,
        hour=None if constant else hour,
        residuals=[round(float(r), 6) for r in residuals],
        censored=[bool(c) for c in censored],
        runs=list(s.run_numbers[start:]),
        zeros=[int(i) for i in np.flatnonzero(s.y[start:] == 0)],
        quiet=[int(i) for i in np.flatnonzero((reported == 0).all(axis=1))]
        if reported.shape[1]
        else [],
        typical=_typical_reports(s, names),
        spread=Spread(round(rate, 6), [round(float(c), 6) for c in centres]) if rate else None,
        idle=_idle(s, start, centres) if variant == "base" else None,
        borrowed=False,
        # times only: memory is a level for each kind, and a download's calibration replays
        # its zeros; without their lone breaks' residuals both under-covered
        lone_breaks=_lone_breaks(s.covariates[start:, 0]) if s.metric in TIMES else None,
        summed=summed,
    )


def _lone_breaks(gaps: np.ndarray) -> LoneBreaks | None:
    """The calibration runs after a break far beyond all the others' (`LoneBreaks`).

    A short history's one break of weeks is where every forecast of it extrapolates: its own
    fit, left without it, has no run near it, and the host's shape on the break bends as the
    other plugins' work does. That error, often the largest, speaks for a run after a break
    as far out and for no other: read for a run a day away, it set the interval's width. Only
    a break beyond the other runs' by the margin is answered with it (a Mondrian split of the
    residuals by how far out the break lies; `bench/RESULTS.md`)."""
    if len(gaps) < 3:
        return None
    order = np.argsort(gaps, kind="stable")
    above = int(order[-1]) if gaps[order[-1]] > gaps[order[-2]] + LONE_MARGIN else None
    below = int(order[0]) if gaps[order[0]] < gaps[order[1]] - LONE_MARGIN else None
    if above is None and below is None:
        return None
    rest = np.delete(gaps, [i for i in (above, below) if i is not None])
    return LoneBreaks(
        above,
        below,
        round(float(rest.min()) - LONE_MARGIN, 6),
        round(float(rest.max()) + LONE_MARGIN, 6),
    )


def _idle(s: Series, start: int, centres: np.ndarray) -> Idle | None:
    """Before the run, only the gap says whether it will have anything to do (`idle`): the
    chance of work fitted on every run, and which residuals came from quiet runs, with their
    values: a quiet run's size owes nothing to the gap that moves the model's centre.

    A download's quiet runs are its zeros (`_fetched_nothing`).

    Peak memory is a level for each kind (an index read, or packages unpacked), not a sum
    over the work as time is. A calibration of it too short for the two-sided ranks keeps
    both kinds' own values: a forecast from a few runs of two kinds (their median, a host's
    shape on the gap) lands anywhere between them, and residuals from it spread the runs
    with work as far as it moved. Each kind then answers around its own level
    (`conformal.kinds_bounds`), where one interval around the centre reached as far above
    the runs with work as the quiet runs lay below them.

    A short calibration with too few of a kind for the curve keeps the release rate
    (`idle.release_rates`): the kind it makes unlikely today does not answer
    (`serving.idle.one_kind`). With the two-sided ranks the rare kind sits in a tail of its
    own."""
    if s.metric == "download_bytes":
        return _fetched_nothing(s, start)
    if s.idle is None:
        return None
    quiet = np.flatnonzero(s.idle[start:])
    fewest = min(len(quiet), s.n - start - len(quiet))
    odds = idle.fit(s.covariates[:, 0], s.idle) if fewest >= idle.MIN_KIND else None
    short = s.n - start < conformal.min_two_sided(LEVEL)
    levels = s.metric == "memory_peak_bytes" and short
    rates = None
    if odds is None and short and (s.metric in TIMES or levels):
        rates = idle.release_rates(s.covariates[:, 0], s.idle)
    if fewest == 0 or (odds is None and not levels and rates is None):
        return None
    values, working = s.y[start:][quiet], ~s.idle[start:]
    runs, typical = idle.jumps(s.y, s.idle, start, centres) if not levels else ([], [])
    work = s.y[start:][working] if levels else []
    moves = odds is not None  # how far a run with work may move (`serving.predictive._lift_work`)
    rise = 0.0
    if moves and s.metric == "memory_peak_bytes":
        rise = idle.level_rise(s.y[start:][working], s.covariates[start:, 0][working])
    return Idle(
        [int(i) for i in quiet],
        [round(float(v), 6) for v in values],
        odds,
        runs,
        [round(float(s.y[start + k]), 6) for k in runs],
        [round(float(centres[k]), 6) for k in runs],
        [round(v, 6) for v in typical],
        [round(float(v), 6) for v in work],
        rates,
        own=tuple(round(float(v), 6) for v in s.y[start:]) if moves else (),
        gaps=tuple(round(float(g), 6) for g in s.covariates[start:, 0]) if moves else (),
        rise=round(rise, 6),
    )


def before_first_quiet(variant: Variant, s: Series, value: float) -> Variant:
    """A short calibration whose runs all had work, with a stand-in run of nothing to do at
    `value` (its host's, `fitting.pooled`; a download's is nothing fetched), weighed by the
    chance of nothing to do before any such run (`idle.rates_before_a_check`). Peak memory's
    kinds each answer around their own level (`conformal.kinds_bounds`); a time's check is
    spread as its host's checks (`serving.predictive._checks_lent`); a download's zero
    replays as nothing.

    With no run of nothing to do yet, no chance of one was known and no level: a new plugin's
    first check (its memory at a third of an update's, its time a check's, its download
    nothing) was never covered, where nothing to do after a day away is as likely as not for
    most real plugins (`bench/RESULTS.md`)."""
    n = len(variant.residuals)
    apart, zero = s.metric == "memory_peak_bytes", s.metric == "download_bytes"
    stand_in = Idle(
        [n],
        [round(value, 6)],
        None,
        [],
        [],
        [],
        [],
        [round(float(v), 6) for v in s.y] if apart else [],
        idle.rates_before_a_check(s.covariates[:, 0]),
    )
    spread = variant.spread  # the stand-in's residual is replaced: its centre moves nothing
    if spread is not None:
        spread = spread._replace(centres=[*spread.centres, spread.centres[-1]])
    return variant._replace(
        residuals=[*variant.residuals, 0.0],
        censored=[*variant.censored, False],
        runs=[*variant.runs, None],
        zeros=[*variant.zeros, n] if zero else variant.zeros,
        spread=spread,
        idle=stand_in,
    )


def _fetched_nothing(s: Series, start: int) -> Idle | None:
    """A download's runs that fetched nothing, with the hours before every run of its history
    of each kind. The calibration replays its zeros as nothing (`Variant.zeros`); after a
    break as long as those after which runs rarely fetched nothing, fewer are replayed
    (`serving.idle.zero_chance`). Two weeks away, a plugin that had fetched something after
    every break of a week replayed its re-runs' zeros, and its interval and the run's total
    both read from 0 B. The breaks are those since the sizes or the share of nothing last
    changed for good (`changes`): with more software installed, a run a day after the last
    replayed the zeros of days that had brought less."""
    fetched = s.y > 0
    zeros = np.flatnonzero(~fetched[start:])
    if not len(zeros):
        return None
    hours = np.round(np.expm1(s.covariates[:, 0]), 3)
    sizes = linear.since(s.y, model_inputs(grid.design(s, "base"), False))
    first = max(sizes, changes.nothing_since(hours, fetched))
    hours, fetched = hours[first:], fetched[first:]
    breaks = ([float(h) for h in hours[~fetched]], [float(h) for h in hours[fetched]])
    return Idle(
        [int(i) for i in zeros], [ZERO_LOG] * len(zeros), None, [], [], [], [], [], None, breaks
    )


def _typical_reports(s: Series, names: list[str]) -> dict[str, float]:
    """Per reported quantity, its median over the runs that reported some work: what a
    partial report (a package count without a size) stands in for the missing one."""
    out = {}
    for i, name in enumerate(names, start=1):
        raw = np.expm1(s.covariates[:, i])
        work = raw[raw > 0]
        out[name] = round(float(np.median(work)), 3) if len(work) else 0.0
    return out


def series_record(s: Series, variants: dict[str, Variant], basis: str) -> SeriesRecord:
    # a timeout stops the plugin's time in the phase it is in (the last); its other series
    # are not cut at it
    cut = s.metric == "wall_clock_seconds" and s.phase in (None, "EXECUTE")
    timeout = timeout_of(s.y, s.censored) if cut else None
    return SeriesRecord(
        host=s.host,
        plugin=s.plugin,
        metric=s.metric,
        phase=s.phase,
        data_points=s.n,
        last_success=s.last_success,
        cap=plausible_cap(s.y) if timeout is None else timeout,
        basis=basis,
        variants=variants,
        outcomes=s.outcomes,
        stopped=timeout is not None,
    )


def run_days(
    series: Sequence[Series], records: Sequence[SeriesRecord]
) -> dict[str, dict[int, str]]:
    """Per host, the day of each past run that some record's residuals name."""
    named: dict[str, set[int]] = {}
    for r in records:
        runs = named.setdefault(r.host, set())
        runs.update(run for v in r.variants.values() for run in v.runs if run is not None)
    out: dict[str, dict[int, str]] = {}
    for s in series:
        days, wanted = out.setdefault(s.host, {}), named.get(s.host, set())
        for run, start in zip(s.run_numbers, s.starts, strict=True):
            if run in wanted:
                days[run] = start[:10]
    return out
