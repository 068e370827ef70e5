"""The remaining time of a run under way: the running plugin conditioned on having run this
long, and the plugins still to start, drawn jointly."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from update_estimate.serving import conformal
from update_estimate.serving.memo import Memo
from update_estimate.serving.predictive import MetricEstimate, Predictive, shared_single
from update_estimate.serving.totals import coherent, from_samples, joint_draws, total

MIN_CONDITIONAL = 5
MAX_RATIO = 3.0


def conditional_samples(
    draws: Sequence[tuple[float, float]], elapsed: float
) -> tuple[list[float], bool]:
    """Remaining wall time per joint draw (the running plugin's time, the sum of the others'),
    the running plugin conditioned on T > elapsed.

    Also whether the running plugin has outrun nearly every past run, so that its remaining
    time is scaled from its slowest runs rather than read from them: each of them ran `ratio`
    times the slowest five's shortest, so today's may run that many times what it has so far.
    The ratio is at least a little above one, rising with the draw's rank (ties would say it
    ends now, yet it still runs), and at most MAX_RATIO (a tail of near-zero draws would
    make it absurd).
    """
    kept = [(first, rest) for first, rest in draws if first > elapsed]
    if len(kept) >= MIN_CONDITIONAL:
        return [first - elapsed + rest for first, rest in kept], False
    tail = sorted(draws, key=lambda d: d[0])[-MIN_CONDITIONAL:]
    shortest = tail[0][0]
    samples = []
    for i, (first, rest) in enumerate(tail):
        floor = 1 + (i + 1) / (2 * len(tail))
        ratio = min(max(first / shortest if shortest > 0 else 0.0, floor), MAX_RATIO)
        samples.append(elapsed * (ratio - 1) + rest)
    return samples, True


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


class Medians:
    """The conditional median at each checkpoint passed, computed once as `elapsed` grows:
    the draws still running at a checkpoint are a shrinking set, kept sorted by their whole
    remaining time, so each checkpoint costs a removal and a lookup, not a sort."""

    def __init__(self, draws: Sequence[tuple[float, float]]) -> None:
        self._draws = draws
        self._by_first = sorted(draws)
        self._gone = 0  # draws that ended by the last checkpoint seen
        self._ahead = sorted(first + rest for first, rest in draws)
        self._lowest: list[float] = []  # the lowest median up to each checkpoint

    def lowest(self, passed: int) -> float:
        """The lowest conditional median over the first `passed` checkpoints."""
        for s in CHECKPOINTS[len(self._lowest) : passed]:
            while self._gone < len(self._by_first) and self._by_first[self._gone][0] <= s:
                first, rest = self._by_first[self._gone]
                del self._ahead[bisect.bisect_left(self._ahead, first + rest)]
                self._gone += 1
            if len(self._ahead) >= MIN_CONDITIONAL:
                n, mid = len(self._ahead), len(self._ahead) // 2
                centre = (
                    self._ahead[mid] if n % 2 else 0.5 * (self._ahead[mid - 1] + self._ahead[mid])
                )
                value = centre - s
            else:
                value = conformal.median(conditional_samples(self._draws, s)[0])
            self._lowest.append(min(value, self._lowest[-1]) if self._lowest else value)
        return self._lowest[passed - 1]


class Left(NamedTuple):
    """What remains, and how the running member stands against its own interval."""

    estimate: MetricEstimate
    overrun: bool  # it outran nearly every past run: scaled from its slowest ones
    overdue: bool  # it is past the upper end of its interval
    upper: float  # that upper end (infinite without a running member)


def remaining(
    running: Predictive | None,
    others: Sequence[Predictive],
    elapsed: float,
    level: float,
    memo: Memo | None = None,
) -> Left:
    """Remaining wall time of `running` (conditioned on having run `elapsed`) and `others`.

    Within the running member's interval the point never rises as `elapsed` grows: it is the
    lowest conditional median over the fixed checkpoints up to `elapsed`, stateless and
    monotone by construction. Past its upper end (overdue) the point is the conditional
    median itself, so it keeps moving with the clock instead of freezing. The answer is never
    below any member still to start: all of it is still ahead.
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
    est, overrun = _conditioned(draws, members, "whole", elapsed, level, overdue, memo)
    parts = [shared_single(p, level, memo) for p in others]
    return Left(coherent(est, parts, summed=True), overrun, overdue, upper)


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
) -> tuple[MetricEstimate, bool]:
    """The remaining time of `draws` of `members` (see `remaining`), and whether it was
    scaled from the slowest of them (`conditional_samples`); `part`: "whole" (draws of every
    member) or "alone" (the running member's, the first)."""
    samples, overrun = conditional_samples(draws, elapsed)
    est = from_samples(samples, level, members if part == "whole" else members[:1])
    if not overdue:
        medians = memo.get("medians", members, part, lambda: Medians(draws))
        point = medians.lowest(bisect.bisect_right(CHECKPOINTS, elapsed))
        est = replace(est, point=point, lower=min(est.lower, point), upper=max(est.upper, point))
    return est, overrun
