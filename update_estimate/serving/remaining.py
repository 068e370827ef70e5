"""The remaining time of a run under way: the running plugin conditioned on having run this
long, and the plugins still to start, drawn jointly."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace

from update_estimate.serving import conformal
from update_estimate.serving.memo import Memo
from update_estimate.serving.predictive import MetricEstimate, Predictive, shared_single
from update_estimate.serving.totals import coherent, from_samples, joint_draws, total

MIN_CONDITIONAL = 5


def _remaining_samples(
    draws: Sequence[tuple[float, float]], elapsed: float
) -> tuple[list[float], bool]:
    """Remaining wall time per joint draw (the running plugin's time, the sum of the others'),
    the running plugin conditioned on T > elapsed.

    Also whether the running plugin has outrun nearly every past run, so that its remaining
    time is scaled from its slowest runs rather than read from them.
    """
    kept = [(first, rest) for first, rest in draws if first > elapsed]
    if len(kept) >= MIN_CONDITIONAL:
        return [first - elapsed + rest for first, rest in kept], False
    tail = sorted(draws, key=lambda d: d[0])[-MIN_CONDITIONAL:]
    scale = elapsed / max(tail[0][0], 1e-9)
    return [first * scale - elapsed + rest for first, rest in tail], True


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


def remaining(
    running: Predictive | None,
    others: Sequence[Predictive],
    elapsed: float,
    level: float,
    memo: Memo | None = None,
) -> tuple[MetricEstimate, bool]:
    """Remaining wall time, and whether the running plugin outran its past runs.

    The point never rises as `elapsed` grows (no wild jumps): it is the lowest conditional
    median over the fixed checkpoints up to `elapsed`, stateless and monotone by construction.
    The answer is never below any plugin still to start: all of it is still ahead.
    """
    memo = memo or Memo()
    members = tuple(p for p in (running, *others) if p is not None)
    if not members:
        return MetricEstimate(0.0, 0.0, 0.0, 0, "joint", "model"), False
    if running is None:
        return total("wall_clock_seconds", members, level, False, memo), False
    draws = memo.get(
        "remaining", members, None, lambda: [(d[0], sum(d[1:])) for d in joint_draws(members)]
    )
    samples, overrun = _remaining_samples(draws, elapsed)
    est = from_samples(samples, level, members)
    # the conditional median at each checkpoint passed, computed once as `elapsed` grows
    medians: list[float] = memo.get("medians", members, None, list)
    passed = bisect.bisect_right(CHECKPOINTS, elapsed)
    for s in CHECKPOINTS[len(medians) : passed]:
        medians.append(conformal.median(_remaining_samples(draws, s)[0]))
    point = min(medians[:passed])
    est = replace(est, point=point, lower=min(est.lower, point), upper=max(est.upper, point))
    parts = [shared_single(p, level, memo) for p in others]
    return coherent(est, parts), overrun
