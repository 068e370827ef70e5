"""Whether the next run has anything to do, and the mixture of the two kinds of run.

A run with nothing to do (no package updated, nothing downloaded) checks and ends: seconds where
a run with work takes minutes, a fraction of its memory. Every metric is two populations, in
shares that real plugins spread from 0.04 to 0.94. Before the run, the time since the plugin's
last success says which is likelier: work arrives in releases, so the longer the wait, the
likelier some came. The chance of work is a logistic curve in the log of that time (slope 1 at
short gaps is releases arriving at a steady rate, slope 0 a share that no wait changes).

The predictive then weighs the residuals of each kind by that chance for this run, not by their
shares in the history: a re-run an hour later is answered from the quiet runs, a run after a
month away from the runs with work.

A new plugin's first runs have too few of a kind for the curve: there one release rate
(nothing to do after a gap g with chance exp(-rate g), averaged over the rate's posterior) says
which kind is too unlikely today to answer at all (`one_kind`), and the point of a run that may
be either (`mixture_median`).

The curve and the rate are fitted in `train` (`fitting.idle`); here they are read (stdlib
only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from update_estimate.serving import conformal

MIN_KIND = 5  # runs of each kind, fewest to fit the chance or to mix residuals by it
# a kind less likely than this today is left out of time's residuals (`one_kind`); memory's
# interval leaves out a kind less likely than its own miss budget on one side
ONE_KIND = 0.05
# a download's chance of nothing (`zero_chance`): the runs that the share after breaks within
# a factor of two of today's is drawn towards the share within a factor of four with, and how
# many doublings of that factor
PRIOR_RUNS = 2
REACH_STEPS = 4
# and the most it may be where the calibration's share is lower: a tenth of the draws still
# fetch something, so the interval's upper end reaches a download
CEILING = 0.9
MIN_GAP_HOURS = 1 / 60  # a gap of zero: work then could not have come from a release

T = TypeVar("T")


def _log_odds(odds: Sequence[float], gap_hours: float) -> float:
    """The curve's log-odds of work after `gap_hours`."""
    intercept, slope = odds
    return intercept + slope * math.log1p(max(gap_hours, 0.0))


def chance_of_work(odds: Sequence[float], gap_hours: float) -> float:
    z = _log_odds(odds, gap_hours)
    return 1 / (1 + math.exp(-z)) if z > -700 else 0.0


def _packages(rate: float) -> float:
    """Packages a run with work brings where `rate` are expected: rate / (1 - exp(-rate))."""
    return rate / -math.expm1(-rate) if rate > 1e-12 else 1.0


def work_moved(
    odds: Sequence[float], value: float, check: float, gap_hours: float, then_hours: float
) -> float:
    """A run with work after `then_hours`, its value (log1p) moved to a break of `gap_hours`:
    a check's cost (`check`, log1p) plus a cost per package, as many as the break brings.

    Releases come at a rate: the curve's chance of work today, 1 - exp(-rate), gives today's
    expected packages, and a break k times as long expects k times as many (the curve's own
    tail flattens, and read there a month away brought seven packages where a day brought
    two)."""
    gap_hours, then_hours = max(gap_hours, MIN_GAP_HOURS), max(then_hours, MIN_GAP_HOURS)
    z = _log_odds(odds, gap_hours)
    today = z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))
    then = today * then_hours / gap_hours
    fixed = math.expm1(check)
    per = max(math.expm1(value) - fixed, 0.0) / _packages(then)
    return math.log1p(fixed + per * _packages(today))


def zero_chance(
    breaks: tuple[Sequence[float], Sequence[float]],
    gap_hours: float,
    share: float,
    prior: float = PRIOR_RUNS,
    ceiling: float = CEILING,
    steps: int = REACH_STEPS,
    sooner: bool = True,
) -> float:
    """The chance that a download after `gap_hours` fetches nothing, never above the larger
    of `share` (the calibration's share of zeros) and CEILING. `breaks`: the hours before the
    runs that fetched nothing and before those that fetched something.

    Counted, not fitted: the share of zeros among the runs after a break within a factor of
    two of today's, drawn towards the share among those within a factor of four (as if
    PRIOR_RUNS runs had it), and so on out to `share`. A curve in the log of the hours
    misreads releases that come on the calendar: it thinned the zeros of runs a day apart,
    which fetched nothing as often as runs hours apart. A few runs after long breaks, none
    of which fetched nothing, count for as many as they are. Counted among every break at
    least half as long instead, a re-run hours later was answered by the shares of runs
    days apart: a third of its zeros replayed where most such re-runs fetched nothing, and a
    run's total download read about twice the truth's (`bench/RESULTS.md`). The weight, the
    ceiling and the doublings may be others (`bench/zero_chance.py` tries them).

    A break shorter than every one seen is at least as likely to bring nothing as the
    shortest: the count there, raised to the power of how much shorter today's is, as
    releases that come at their pace leave nothing the sooner the more likely. Counted
    alone, a re-run five minutes after the last, where no break had been shorter than an
    hour, read the share of breaks up to a day long: flatpak's point fetched 30 MB, and the
    run's total 41 MB [1.1 MB, 180 MB], where nothing can have come since (`sooner`
    False: the count alone, as `bench/zero_chance.py` compares)."""
    gap = max(gap_hours, 0.0)
    chance = _counted(breaks, gap, share, prior, steps)
    shortest = min([*breaks[0], *breaks[1]], default=0.0)
    if sooner and gap < shortest:
        there = _counted(breaks, shortest, share, prior, steps)
        chance = max(chance, there ** (gap / shortest) if there > 0 else 0.0)
    return min(chance, max(share, ceiling))


def _counted(
    breaks: tuple[Sequence[float], Sequence[float]],
    gap: float,
    share: float,
    prior: float,
    steps: int,
) -> float:
    """`zero_chance`'s count among the breaks about as long as `gap`."""
    chance = share
    for doublings in range(steps, 0, -1):
        low, high = gap / 2**doublings, gap * 2**doublings
        nothing = sum(low <= h <= high for h in breaks[0])
        runs = nothing + sum(low <= h <= high for h in breaks[1])
        chance = (nothing + prior * chance) / (runs + prior)
    return chance


def quiet_chance(rates: Sequence[float], gap_hours: float) -> float:
    """The chance of nothing to do after `gap_hours`, averaged over the release rates kept
    from their posterior (`fitting.idle.release_rates`)."""
    gap = max(gap_hours, 0.0)
    return sum(math.exp(-r * gap) for r in rates) / len(rates)


def one_kind(nothing: float, quiet: int, work: int, unlikely: float = ONE_KIND) -> bool | None:
    """The kind that alone answers a run that has nothing to do with chance `nothing` (a
    short calibration's `quiet_chance`), given `quiet` and `work` residuals of each kind:
    quiet (True) where work is less likely than `unlikely`, work (False) where nothing to do
    is; None where either may come (or the likely kind has no residual to answer with).

    A kind of a few runs in a calibration too short for the two-sided ranks otherwise sets
    both bounds: a re-run half an hour later reached up to the minutes of the runs with work
    (`tests/test_release_rate.py`)."""
    if nothing < unlikely and work:
        return False
    if 1.0 - nothing < unlikely and quiet:
        return True
    return None


def mixture_median(quiet: Sequence[float], work: Sequence[float], nothing: float) -> float:
    """The median of a run that is quiet with chance `nothing`, each kind's values equally
    likely within it: where either kind may come, a typical run of the likelier kind, not the
    centre of a fit through both (`tests/test_release_rate.py`)."""
    weighted = sorted(
        [(v, nothing / len(quiet)) for v in quiet] + [(v, (1 - nothing) / len(work)) for v in work]
    )
    seen = 0.0
    for value, weight in weighted:
        seen += weight
        if seen >= 0.5:
            return value
    return weighted[-1][0]


def mix(
    items: Sequence[T],
    values: Sequence[float],
    idle: Sequence[int],
    work: float,
    counted: bool = False,
) -> list[T]:
    """As many items as given, a `work` share of them from the runs with work and the rest from
    the quiet runs, each kind's picks spread evenly over its own values in order (so each kind
    keeps its shape). Unchanged when a kind is too thin to stand for itself (fewer than
    MIN_KIND runs), unless the chance was `counted` on a long history (a download's zeros,
    `zero_chance`) and the kind stands for no more runs than it has, or all its values are
    one (nothing fetched, replayed as often as the count says). Kept whole, four zeros in
    sixty re-runs were replayed two days after the last run as often as minutes after it,
    and the interval read from nothing where no run so far apart had ever fetched nothing.
    In a new user's first weeks the chance rests on a few runs, and thinned so, their
    downloads were covered less (`bench/RESULTS.md`)."""
    quiet = set(idle)
    kinds = (
        sorted((i for i in range(len(items)) if i not in quiet), key=lambda i: values[i]),
        sorted((i for i in range(len(items)) if i in quiet), key=lambda i: values[i]),
    )
    wanted = round(work * len(items))
    shares = tuple(zip(kinds, (wanted, len(items) - wanted), strict=True))

    def stands(members: list[int], count: int) -> bool:
        if len(members) >= MIN_KIND:
            return True
        return counted and (count <= len(members) or len({values[i] for i in members}) == 1)

    if not all(stands(members, count) for members, count in shares):
        return list(items)
    out: list[T] = []
    for members, count in shares:
        out.extend(items[i] for i in conformal.evenly_spaced(members, count))
    return out
