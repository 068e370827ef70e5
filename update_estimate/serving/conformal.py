"""Split-conformal interval bounds from out-of-sample residuals, with finite-sample ranks.

Stdlib only: `train` uses it to score calibration and `estimate` on its warm path to serve any
`--level` from the stored residuals, without numpy.

With n residuals, the two-sided interval reads the sorted residuals at the ranks (n+1)a/2 and
(n+1)(1-a/2) (a = 1 - level); skewed errors (slow days) keep their skew. When n is too small for
those ranks, the symmetric form at rank (n+1)*level on distances from the centre needs fewer (9
for 90%), each side's distances in its own scale (`side_scales`). Below that no interval is
honest by construction: a Student-t interval stands in, and the bound is marked not calibrated.

A rank that falls between two residuals is read between them, in proportion. The whole rank
above it covers more than the level (k/(n+1)): with 15 residuals it is the largest, which covers
15/16 where 0.90 was asked, and a new user's first weeks are served from 9-18 residuals
(`bench/interpolated_ranks.py` measures both).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple, TypeVar

WIDEN = 1.5
LIMITED_PAD = math.log(2.0)
# Nothing but values at the floor (a plugin that has never downloaded): their distance from the
# centre says nothing about a size, so a limited interval reaches tenfold above the centre,
# which a host's shape (`pooled`) sets to a size its other plugins download.
UNSEEN_SPREAD = math.log(10.0)
CENSORED_PAD = math.log(1.5)
# Levels are decimals, and binary floats land their ranks a hair off the integer: for 39 values
# at 90%, 40 * (1 - 0.9) / 2 is 1.9999999999999996, so the lower rank was 1 instead of 2 and the
# interval covered 0.925 instead of 0.90.
RANK_SLACK = 1e-9
KIND_FLOOR = 2  # values of a kind, fewest to measure distances from its level (`kinds_bounds`)
SIDE_MIN = 3  # values on a side of the centre, fewest to scale that side apart (`side_scales`)


class Bounds(NamedTuple):
    lower: float
    upper: float
    calibrated: bool


def min_residuals(level: float) -> int:
    """Fewest residuals for which the symmetric finite-sample rank exists."""
    return _ceil(level / (1 - level))


def min_two_sided(level: float) -> int:
    """Fewest values for which both ranks of the two-sided interval exist (19 for 90%)."""
    return _ceil(2 / (1 - level)) - 1


def _floor(value: float) -> int:
    return math.floor(value + RANK_SLACK)


def _ceil(value: float) -> int:
    return math.ceil(value - RANK_SLACK)


def _upper_values(values: Sequence[float], censored: Sequence[bool] | None) -> list[float]:
    """A censored value (a timeout) is only a lower bound: it counts as exceeding everything."""
    if not censored:
        return list(values)
    return [math.inf if c else v for v, c in zip(values, censored, strict=True)]


def _finite_cap(values: Sequence[float]) -> float:
    """Replace an infinite upper rank by the largest value seen, censored ones included, padded."""
    return max(values) + CENSORED_PAD


def bounds(
    values: Sequence[float],
    level: float,
    centre: float = 0.0,
    censored: Sequence[bool] | None = None,
    floor: float | None = None,
) -> Bounds:
    """Conformal bounds of the next value from exchangeable `values` (residuals or samples).

    `floor`: no value can lie below it (nothing downloaded). When the lower rank lands on
    values at the floor (or there is no lower rank, and some value is at the floor), the lower
    bound is the floor and holds every such value; the whole miss budget then goes to the
    upper end, or the interval would cover more than `level`. An upper rank between the last
    value at the floor and the first above it reads the one above: a reading between nothing
    and a size is neither (in the log, a run hours after the last that most likely fetches
    nothing read [0 B, 5.7 MB] where its one package is 80 MB). Values at the floor say
    nothing about the size of what comes when something does: a limited interval's spread is
    taken from the others.
    """
    n = len(values)
    if n == 0:
        return Bounds(-math.inf, math.inf, False)
    alpha = 1 - level
    j_lo, j_hi, j_level = (n + 1) * alpha / 2, (n + 1) * (1 - alpha / 2), (n + 1) * level
    k_lo = _floor(j_lo)
    upper_sorted = sorted(_upper_values(values, censored))
    at_floor = 0 if floor is None else sum(v <= floor for v in values)
    if floor is not None and at_floor >= max(k_lo, 1) and _ceil(j_level) <= n:
        reading = at_floor + 1.0 if at_floor < j_level < at_floor + 1 else j_level
        upper = at_rank(upper_sorted, reading)
        return Bounds(floor, _finite_cap(values) if math.isinf(upper) else upper, True)
    if k_lo >= 1 and _ceil(j_hi) <= n:
        lower = at_rank(sorted(values), j_lo)
        upper = at_rank(upper_sorted, j_hi)
        if math.isinf(upper):
            upper = _finite_cap(values)
        if upper > lower:
            return Bounds(lower, upper, True)
    if _ceil(j_level) <= n:
        up, down = side_scales(upper_sorted, centre)
        scores = sorted(_scaled(v, centre, up, down) for v in upper_sorted)
        q = at_rank(scores, j_level)
        if math.isinf(q):
            q = _finite_cap([_scaled(v, centre, up, down) for v in values])
        if q > 0:
            return Bounds(centre - q * down, centre + q * up, True)
    sizes = [v for v in values if floor is None or v > floor]
    q = limited_half_width(sizes, level, centre) if sizes else UNSEEN_SPREAD
    return Bounds(floor if at_floor and floor is not None else centre - q, centre + q, False)


def side_scales(values: Sequence[float], centre: float) -> tuple[float, float]:
    """How far the values reach above and below the centre, relative to both sides: each
    side's mean distance, halfway to both sides' (a side of SIDE_MIN values is too few to set
    a scale alone; a censored value, infinite, sets neither). (1, 1) where a side has fewer,
    or nothing varies: the symmetric form.

    Read on one scale, skewed errors mirrored their long side onto the short one: a plugin
    with two runs ten times its typical one (a heavy package) was answered down to a fraction
    of its fastest run. The distance scaled by its side's scale is the score instead, and its
    rank bounds each side in that side's scale. Both scales come from the values themselves,
    so the finite-sample guarantee is approximate; the coverage measured on short histories
    is in bench/RESULTS.md."""
    finite = [v - centre for v in values if not math.isinf(v)]
    above = [d for d in finite if d > 0]
    below = [-d for d in finite if d < 0]
    if min(len(above), len(below)) < SIDE_MIN:
        return 1.0, 1.0
    both = (sum(above) + sum(below)) / (len(above) + len(below))
    up, down = sum(above) / len(above), sum(below) / len(below)
    return (up + both) / (2 * both), (down + both) / (2 * both)


def _scaled(value: float, centre: float, up: float, down: float) -> float:
    return (value - centre) / up if value >= centre else (centre - value) / down


def kinds_bounds(
    values: Sequence[float],
    quiet: Sequence[bool],
    level: float,
    floor: float | None = None,
    only: bool | None = None,
) -> Bounds:
    """Bounds of values from two kinds of run (nothing to do, some work), too few for the
    two-sided ranks. The symmetric form around one centre mirrors the gap between the kinds:
    quiet runs at a third of the work's memory sent the upper bound to three times it. Here
    each value's distance from its own kind's median is the score, its symmetric rank the
    half-width around each kind's level, and the interval spans both: valid whichever kind
    the next run is, as the symmetric form is for one. A kind of one run sets its level but
    has no distance to measure (it is its own median). `only`: the kind the next run is
    known to be (True: quiet), whose level alone the interval spans; every distance still
    sets the half-width. Without both kinds, or with fewer than KIND_FLOOR distances:
    `bounds`."""
    kinds = split_kinds(values, quiet)
    levels = [median(k) for k in kinds]
    distances = [
        v - levels[kind]
        for v, kind in zip(values, (int(not q) for q in quiet), strict=True)
        if len(kinds[kind]) >= KIND_FLOOR
    ]
    if not all(kinds) or len(distances) < KIND_FLOOR:
        return bounds(values, level, floor=floor)
    j_level = (len(distances) + 1) * level
    if _ceil(j_level) <= len(distances):
        half, calibrated = at_rank(sorted(abs(d) for d in distances), j_level), True
    else:
        half, calibrated = limited_half_width(distances, level, 0.0), False
    if half <= 0:
        return bounds(values, level, floor=floor)
    spanned = levels if only is None else [levels[int(not only)]]
    return Bounds(min(spanned) - half, max(spanned) + half, calibrated)


def split_kinds(values: Sequence[float], quiet: Sequence[bool]) -> tuple[list[float], list[float]]:
    """The values of quiet runs, then those of runs with work."""
    pairs = list(zip(values, quiet, strict=True))
    return [v for v, q in pairs if q], [v for v, q in pairs if not q]


T = TypeVar("T")


def evenly_spaced(ordered: Sequence[T], count: int) -> list[T]:
    """`count` of `ordered` at evenly spaced ranks (the middle of each of `count` equal
    shares), so that any number of picks keeps the shape of what they are picked from."""
    return [ordered[int((j + 0.5) * len(ordered) / count)] for j in range(count)]


def at_rank(ordered: Sequence[float], rank: float) -> float:
    """The value at a 1-based `rank` of `ordered`, read between neighbours when it falls
    between them; an infinite neighbour (a timeout) makes it infinite. Below the first rank
    (a low `--level` on few values), the first."""
    k = _floor(rank)
    if k < 1:
        return ordered[0]
    share = rank - k
    if share <= RANK_SLACK or k >= len(ordered):
        return ordered[k - 1]
    below, above = ordered[k - 1], ordered[k]
    return above if math.isinf(above) else below + share * (above - below)


def limited_half_width(values: Sequence[float], level: float, centre: float) -> float:
    """Too few values for the ranks, or ranks that land on one value: no interval is honest
    by construction, so this one is marked limited. From three values on, Student's
    prediction interval for normal errors around the centre, never inside the widest value
    seen; with fewer, or values that do not vary, the widest widened and padded (a point is
    not an interval)."""
    deviations = [abs(v - centre) for v in values if not math.isinf(v)]
    n = len(deviations)
    widest = max(deviations, default=0.0)
    if n >= 3 and widest > 0:
        scale = math.sqrt(sum(d * d for d in deviations) / len(deviations))
        return max(student_t((1 + level) / 2, n) * scale * math.sqrt(1 + 1 / n), widest)
    return widest * WIDEN + LIMITED_PAD


def student_t(p: float, df: int) -> float:
    """The p quantile of Student's t: exact for 1 and 2 degrees of freedom, Cornish-Fisher's
    expansion beyond (within 0.1% of the exact value at df 3 and p 0.975)."""
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = NormalDist().inv_cdf(p)
    terms = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(term / df ** (i + 1) for i, term in enumerate(terms))


def bias(residuals: Sequence[float]) -> float:
    """The residuals' median where a sign test shows one (|positives - negatives| > 2 sqrt(n)),
    else 0: a point moved by every sample median carries the median's own noise.

    Moving the point by every sample median raised its median APE in every scenario of the
    accuracy bench except after a level shift, which the test still catches.
    """
    positives = sum(1 for r in residuals if r > 0)
    negatives = sum(1 for r in residuals if r < 0)
    if abs(positives - negatives) <= 2 * math.sqrt(positives + negatives):
        return 0.0
    return median(residuals)


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return 0.0
    mid = n // 2
    return ordered[mid] if n % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])
