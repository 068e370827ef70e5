"""The remaining time of a run under way: the running plugin conditioned on having run this
long, and the plugins still to start, drawn jointly."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from update_estimate.serving import conformal
from update_estimate.serving.memo import Memo
from update_estimate.serving.predictive import MetricEstimate, Predictive, shared_single
from update_estimate.serving.totals import coherent, from_samples, joint_draws, total

MIN_CONDITIONAL = 5
MAX_RATIO = 3.0


def conditional_samples(
    draws: Sequence[tuple[float, float]], elapsed: float, ceiling: float = math.inf
) -> tuple[list[float], bool]:
    """Remaining wall time per joint draw (the running plugin's time, the sum of the others'),
    the running plugin conditioned on T > elapsed.

    Also whether the running plugin has outrun nearly every past run, so that its remaining
    time is scaled from its slowest runs rather than read from them: each of them ran `ratio`
    times the slowest five's shortest, so today's may run that many times what it has so far.
    The ratio is at least a little above one, rising with the draw's rank (ties would say it
    ends now, yet it still runs), and at most MAX_RATIO (a tail of near-zero draws would
    make it absurd). Never past the running plugin's `ceiling` (the timeout it is killed at,
    raw) while it has not reached it: 1700 s into a 30-minute timeout, 100 s remain at most,
    the draws' remainders scaled into them.
    """
    kept = [(first, rest) for first, rest in draws if first > elapsed]
    if len(kept) >= MIN_CONDITIONAL:
        return [first - elapsed + rest for first, rest in kept], False
    tail = sorted(draws, key=lambda d: d[0])[-MIN_CONDITIONAL:]
    shortest = tail[0][0]
    ahead = []
    for i, (first, _) in enumerate(tail):
        floor = 1 + (i + 1) / (2 * len(tail))
        ratio = min(max(first / shortest if shortest > 0 else 0.0, floor), MAX_RATIO)
        ahead.append(elapsed * (ratio - 1))
    limit = ceiling - elapsed if elapsed < ceiling else math.inf  # a timeout raised since
    # scaled into what the timeout leaves, not cut at it: cut, every draw said the same
    shrink = min(limit / max(ahead), 1.0) if max(ahead) > 0 else 1.0
    return [a * shrink + rest for a, (_, rest) in zip(ahead, tail, strict=True)], True


def conditioned(
    rows: Sequence[Sequence[float]],
    spent: Mapping[int, float],
    ceilings: Mapping[int, float] | None = None,
) -> tuple[list[list[float]], bool]:
    """Joint draws with the members at the columns of `spent` (time run, or bytes downloaded,
    so far) conditioned on exceeding it, their values turned into what remains of them; also
    whether one had outrun nearly every draw (scaled from its slowest ones).

    One member: the draws where it does (`conditional_samples`), so the others are those of
    the past runs where it took this long. Several (a parallel run): few past runs outlasted
    them all, so each is conditioned on its own and its remaining values are laid over the
    draws rank for rank: a draw where it was quick gets a quick remainder, and a past run
    quick for every plugin stays quick for all of them. `ceilings`: a member's timeout (raw),
    which its remaining value never passes."""
    if len(spent) == 1:
        ((j, s),) = spent.items()
        kept = [row for row in rows if row[j] > s]
        if len(kept) >= MIN_CONDITIONAL:
            return [[v - s if i == j else v for i, v in enumerate(row)] for row in kept], False
    out = [list(row) for row in rows]
    scaled = False
    for j, s in spent.items():
        ceiling = (ceilings or {}).get(j, math.inf)
        alone, overrun = conditional_samples([(row[j], 0.0) for row in rows], s, ceiling)
        scaled |= overrun
        ahead = sorted(alone)
        order = sorted(range(len(rows)), key=lambda k: rows[k][j])
        for rank, k in enumerate(order):
            out[k][j] = ahead[min(len(ahead) * (2 * rank + 1) // (2 * len(rows)), len(ahead) - 1)]
    return out, scaled


# Elapsed times at which the conditional median is evaluated: fixed, so that a later elapsed
# time always sees a superset of an earlier one's checkpoints.
CHECKPOINTS = [0.0] + [1.07**i for i in range(260)]


@dataclass(frozen=True)
class Remaining:
    done: list[str]
    running: str | None
    elapsed: float
    wall_clock_seconds: MetricEstimate
    overdue: bool = False  # the running plugin is past its interval's upper end
    running_wall_clock_seconds: MetricEstimate | None = None  # what remains of it alone


def first_and_rest(members: tuple[Predictive, ...], memo: Memo) -> list[tuple[float, float]]:
    """Each joint draw as (the first member's value, the sum of the others'), once per
    members for the answers sharing `memo`."""
    return memo.get(
        "first-and-rest",
        members,
        None,
        lambda: [(d[0], sum(d[1:])) for d in joint_draws(members, memo=memo)],
    )


class Held(NamedTuple):
    """A point held while only the clock moves: its value, the checkpoint it was read at, and
    whether it was raised once (`hold`)."""

    value: float
    at: float
    revised: bool = False


def hold(before: Held | None, median: float, s: float, outran: bool = False) -> Held:
    """The point held at checkpoint `s`: a lower median replaces the one held, and any median
    does once the running plugin has `outran` the end its held answer foretold (a check that
    turns out a build: 35 s left, held for minutes, said it should have ended long ago). A
    point raised so is a revision, and what is held after it is too."""
    if before is None:
        return Held(median, s)
    if median < before.value:
        return Held(median, s, before.revised)
    if outran:
        return Held(median, s, True)
    return before


def ended_before(held: Held, s: float) -> bool:
    """The held answer foretold an end before checkpoint `s`."""
    return held.at + held.value < s


class Medians:
    """The conditional median at each checkpoint passed, of the running member alone and of
    every member, computed once as `elapsed` grows: the draws still running at a checkpoint
    are a shrinking set, kept sorted, so each checkpoint costs a removal and a lookup, not a
    sort. The points held from them (`hold`): both read again once the running member has
    outrun its own held end."""

    def __init__(self, draws: Sequence[tuple[float, float]], ceiling: float = math.inf) -> None:
        self._draws = draws
        self._ceiling = ceiling  # the running member's timeout (raw)
        self._by_first = sorted(draws)
        self._gone = 0  # draws that ended by the last checkpoint seen
        self._ahead = {
            "alone": sorted(first for first, _ in draws),
            "whole": sorted(first + rest for first, rest in draws),
        }
        self._held: list[dict[str, Held]] = []  # per checkpoint, the point held per part

    def held(self, passed: int, part: str) -> Held:
        """The point held over the first `passed` checkpoints, of `part` ("alone": the
        running member; "whole": every member)."""
        for s in CHECKPOINTS[len(self._held) : passed]:
            while self._gone < len(self._by_first) and self._by_first[self._gone][0] <= s:
                first, rest = self._by_first[self._gone]
                for name, value in (("alone", first), ("whole", first + rest)):
                    kept = self._ahead[name]
                    del kept[bisect.bisect_left(kept, value)]
                self._gone += 1
            before = self._held[-1] if self._held else {}
            outran = "alone" in before and ended_before(before["alone"], s)
            self._held.append(
                {
                    name: hold(before.get(name), self._median(name, s), s, outran)
                    for name in ("alone", "whole")
                }
            )
        return self._held[passed - 1][part]

    def _median(self, part: str, s: float) -> float:
        ahead = self._ahead[part]  # sorted
        n = len(ahead)
        if n >= MIN_CONDITIONAL:
            middle = ahead[n // 2] if n % 2 else 0.5 * (ahead[n // 2 - 1] + ahead[n // 2])
            return middle - s
        draws = self._draws if part == "whole" else [(first, 0.0) for first, _ in self._draws]
        return conformal.median(conditional_samples(draws, s, self._ceiling)[0])


class Left(NamedTuple):
    """What remains, and how the running member stands against its own interval."""

    estimate: MetricEstimate
    overrun: bool  # it outran nearly every past run: scaled from its slowest ones
    overdue: bool  # it is past the upper end of its interval
    upper: float  # that upper end (infinite without a running member)
    revised: bool = False  # it ran past the end an earlier answer foretold: read again


def remaining(
    running: Predictive | None,
    others: Sequence[Predictive],
    elapsed: float,
    level: float,
    memo: Memo | None = None,
) -> Left:
    """Remaining wall time of `running` (conditioned on having run `elapsed`) and `others`.

    Within the running member's interval the point is held from the conditional medians at
    the fixed checkpoints up to `elapsed` (`Medians`, stateless): it never rises as `elapsed`
    grows until the running member has run past the end a held answer foretold, when it is
    read again (`revised`). Past its upper end (overdue) the point is the conditional median
    itself, so it keeps moving with the clock instead of freezing. The answer is never below
    any member still to start: all of it is still ahead.
    """
    memo = memo or Memo()
    members = tuple(p for p in (running, *others) if p is not None)
    if not members:
        return Left(MetricEstimate(0.0, 0.0, 0.0, 0, "joint", "model"), False, False, math.inf)
    if running is None:
        return Left(
            total("wall_clock_seconds", members, level, False, memo), False, False, math.inf
        )
    draws = first_and_rest(members, memo)
    upper = shared_single(running, level, memo).upper
    overdue = elapsed > upper
    est, overrun, revised = _conditioned(draws, members, "whole", elapsed, level, overdue, memo)
    parts = [shared_single(p, level, memo) for p in others]
    return Left(coherent(est, parts, summed=True), overrun, overdue, upper, revised)


def running_alone(
    running: Predictive,
    others: Sequence[Predictive],
    elapsed: float,
    level: float,
    memo: Memo,
) -> MetricEstimate:
    """What remains of `running` alone, from the joint draws `remaining` reads for it and
    `others` (shared through `memo`): the whole is at least its running part draw by draw, so
    on one screen it is never below it. Asked for by `estimate` only: a tracker's events do
    not show it."""
    members = (running, *others)
    draws = first_and_rest(members, memo)
    alone = memo.get("running-alone", members, None, lambda: [(d[0], 0.0) for d in draws])
    overdue = elapsed > shared_single(running, level, memo).upper
    return _conditioned(alone, members, "alone", elapsed, level, overdue, memo)[0]


def _conditioned(
    draws: list[tuple[float, float]],
    members: tuple[Predictive, ...],
    part: str,
    elapsed: float,
    level: float,
    overdue: bool,
    memo: Memo,
) -> tuple[MetricEstimate, bool, bool]:
    """The remaining time of `draws` of `members` (see `remaining`), whether it was scaled
    from the slowest of them (`conditional_samples`), and whether its point is a revision
    (`hold`); `part`: "whole" (draws of every member) or "alone" (the running member's, the
    first)."""
    ceiling = members[0].seconds_ceiling
    samples, overrun = conditional_samples(draws, elapsed, ceiling)
    est = from_samples(samples, level, members if part == "whole" else members[:1])
    if elapsed < ceiling < math.inf:
        # a timeout bounds what remains: an interval read from a few draws reaches no further
        most = max(samples)
        est = replace(est, point=min(est.point, most), upper=min(est.upper, most))
    if not overdue:
        whole = first_and_rest(members, memo)
        medians = memo.get("medians", members, None, lambda: Medians(whole, ceiling))
        held = medians.held(bisect.bisect_right(CHECKPOINTS, elapsed), part)
        # a point held from an earlier checkpoint, unless it is above every draw of what
        # remains now (a timeout leaves no more): then the draws' own point
        point = held.value if held.value <= max(samples) else est.point
        est = replace(est, point=point, lower=min(est.lower, point), upper=max(est.upper, point))
        return est, overrun, held.revised
    return est, overrun, False
