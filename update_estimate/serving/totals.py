"""Joint totals: whole past runs' residual vectors replayed together (a slow-network day slows
every plugin of that run), each replay summed, and the conformal ranks read off the sums."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Protocol

from update_estimate.record import CALIBRATION_LEVEL
from update_estimate.serving import conformal
from update_estimate.serving.memo import Memo
from update_estimate.serving.predictive import (
    MetricEstimate,
    Predictive,
    limited,
    raw,
    shared_single,
    stand_ins,
)

Replay = list[tuple[int, float]]  # a total's value in each past run replayed
MIN_NAMED = 10  # past runs replayed by number, below which unnumbered errors are replayed too
# A member with fewer errors than FEW_ERRORS, its interval limited, replays stand-ins spread
# as that interval (`predictive.stand_ins`), and the total then has STAND_INS draws: its
# ranks fall between draws, not on the extremes of a member's stand-ins. From FEW_ERRORS on,
# its own errors spread its draws: stand-ins there widened a new user's totals beyond what
# their parts' errors, replayed together, showed (`bench/RESULTS.md`).
FEW_ERRORS = 3
STAND_INS = 2 * (conformal.min_two_sided(CALIBRATION_LEVEL) + 1)


def joint_draws(
    predictives: Sequence[Predictive], seed: int = 0, memo: Memo | None = None
) -> list[list[float]]:
    """One draw per past run (see `joint_replay`), without the runs' numbers."""
    return joint_replay(predictives, seed, memo)[1]


def joint_replay(
    predictives: Sequence[Predictive], seed: int = 0, memo: Memo | None = None
) -> tuple[tuple[int, ...], list[list[float]]]:
    """The past runs replayed, and one draw per run, on the raw scale: each plugin's value had
    that run's errors happened again. Without run numbers (defaults, borrowed calibration),
    the runs are numbered below zero.

    A predictive weighed by the chance of nothing to do replays some runs more than once
    (`idle.mix`): such a run is replayed as often in the total, each plugin's error of that
    run beside each copy where it has as many. Counted once, a re-run's zeros, replayed in
    three of four of the plugin's own draws, came in three of five of its draws in the
    total, and the total's median summed downloads that most such re-runs never make.

    A plugin without a residual from a run (it was skipped, or its calibration is borrowed)
    takes one of its own values there (`_column`). Each plugin's column is computed once for
    the answers sharing `memo`. Where the members name fewer than MIN_NAMED runs between
    them, the one with most residuals has its others replayed in runs numbered below zero,
    where the other members take their own: more runs would only break the joint runs'
    ties (a long gap since the last run is long for every plugin). A member of one or two
    errors, its interval limited, takes stand-ins spread as that interval
    (`predictive.stand_ins`) where it has no error of its own: a new user's first runs
    replayed each plugin's one or two errors in every draw, and the total was a point.
    """
    memo = memo or Memo()
    values = [memo.get("raw", (p,), None, partial(_raw_values, p)) for p in predictives]
    maps = [
        memo.get("by-run", (p,), None, partial(_by_run, p, own))
        for p, own in zip(predictives, values, strict=True)
    ]
    copies: dict[int, int] = {}
    for m in maps:
        for run, own in m.items():
            copies[run] = max(copies.get(run, 0), len(own))
    runs = tuple(run for run in sorted(copies) for _ in range(copies[run]))
    spread = [memo.get("few", (p,), None, partial(_few, p)) for p in predictives]
    if len(runs) < MIN_NAMED:
        # too few runs to read an interval from (plugins new here, their calibration mostly
        # borrowed): as many as the member with most residuals has, the others unnamed
        most = max((len(p.residuals) for p in predictives), default=0)
        unnamed = max(most, STAND_INS if any(spread) else 0) - len(runs)
        runs = tuple(range(-unnamed, 0)) + runs if unnamed > 0 else runs
    columns = [
        memo.get("column", (p,), (seed, runs), partial(_column, p, m, own, runs, seed, few))
        for p, m, own, few in zip(predictives, maps, values, spread, strict=True)
    ]
    return runs, [list(row) for row in zip(*columns, strict=True)]


def _few(p: Predictive) -> bool:
    """Too few errors of its own to spread its draws as its (limited) interval says."""
    return len(p.residuals) < FEW_ERRORS and limited(p)


def _raw_values(p: Predictive) -> list[float]:
    return [raw(p.value(e)) for e in p.residuals]


def _by_run(p: Predictive, values: list[float]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for r, v in zip(p.runs, values, strict=True):
        if r is not None:
            out.setdefault(r, []).append(v)
    return out


def _column(
    p: Predictive,
    own: dict[int, list[float]],
    values: list[float],
    runs: tuple[int, ...],
    seed: int,
    few: bool,
) -> list[float]:
    """The plugin's value in each of these runs (each copy of a run it replays more than
    once); where it has none, first its values of no run (errors its host lent it), so that
    its column holds what its own interval is read from, then its values at evenly spaced
    ranks, or with `few` errors stand-ins spread as its interval (`stand_ins`), in an order
    shuffled by a seed of the plugin (`Predictive.source`), so its draws there have its own
    spread and move with no other plugin's.

    The order stays put as the hours since its last run grow: drawn from a seed of its centre,
    the picks changed every minute, and the demo's total wall time read 1707 s [984, 3031] at
    06:10 and 1792 s [1146, 3047] at 06:11, its plugins unchanged."""
    seen: dict[int, int] = {}
    column: list[float | None] = []
    for run in runs:
        k = seen.get(run, 0)
        seen[run] = k + 1
        copies = own.get(run, [])
        column.append(copies[k] if k < len(copies) else None)
    missing = column.count(None)
    if not missing:
        return [v for v in column if v is not None]
    picks = sorted(v for v, run in zip(values, p.runs, strict=True) if run is None)
    if few:
        picks = stand_ins(p, missing)
    elif len(picks) >= missing:
        picks = conformal.evenly_spaced(picks, missing)
    else:
        picks += conformal.evenly_spaced(sorted(values), missing - len(picks))
    random.Random(f"{seed}:{p.source}:{missing}").shuffle(picks)
    fill = iter(picks)
    return [next(fill) if v is None else v for v in column]


def adds_up(metric: str, parallel: bool) -> bool:
    """Whether a run's total is its plugins' sum: peak memory is the largest plugin's when
    they run one after another."""
    return metric != "memory_peak_bytes" or parallel


def combine(metric: str, values: Sequence[float], parallel: bool = False) -> float:
    """A run's total of its plugins' values (see `adds_up`)."""
    return sum(values) if adds_up(metric, parallel) else max(values)


def total(
    metric: str,
    predictives: Sequence[Predictive],
    level: float,
    parallel: bool,
    memo: Memo | None = None,
) -> MetricEstimate:
    """The joint total, held to what its parts say (see `coherent`)."""
    if not predictives:
        return MetricEstimate(0.0, 0.0, 0.0, 0, "joint", "model")
    memo = memo or Memo()

    def joint() -> MetricEstimate:
        parts = [shared_single(p, level, memo) for p in predictives]
        if len(parts) == 1:
            return parts[0]
        sums = [value for _, value in total_replay(metric, predictives, parallel, memo)]
        whole = from_samples(sums, level, predictives)
        return coherent(whole, parts, adds_up(metric, parallel))

    return memo.get("total", tuple(predictives), (metric, level, parallel), joint)


def total_replay(
    metric: str, predictives: Sequence[Predictive], parallel: bool, memo: Memo | None = None
) -> Replay:
    """The total in each past run replayed: what several hosts' totals are combined from."""
    memo = memo or Memo()

    def replay() -> Replay:
        runs, draws = joint_replay(predictives, memo=memo)
        return [(r, combine(metric, d, parallel)) for r, d in zip(runs, draws, strict=True)]

    return memo.get("replay", tuple(predictives), (metric, parallel), replay)


def coherent(
    whole: MetricEstimate, parts: Sequence[MetricEstimate], summed: bool = False
) -> MetricEstimate:
    """A total of non-negative parts (their sum, or their max) is at least each part, draw by
    draw, so each of its quantiles is at least that quantile of every part. Read from a
    finite replay, and from ranks of another sample size, the joint bounds can fall below a
    plugin's own (a memory total under its largest plugin); they are raised to the parts'.

    A sum (`summed`) is also held to its parts' lower bounds added up: they are its lower
    bound where the parts' lows all come together, and the less the parts move together,
    the higher the sum's. From the few past runs a new user's first weeks replay, one
    plugin's long tail set the joint interval's width on both sides, and its lower bound
    fell far below that (`bench/RESULTS.md`)."""
    lower = max([whole.lower, *(p.lower for p in parts)])
    if summed:
        lower = max(lower, sum(p.lower for p in parts))
    point = max([whole.point, *(p.point for p in parts)])
    upper = max([whole.upper, *(p.upper for p in parts)])
    return replace(whole, point=point, lower=min(lower, point), upper=max(upper, point))


class Evidence(Protocol):
    """What a total's basis is judged from: its parts' (predictives, or hosts' totals)."""

    @property
    def basis(self) -> str: ...

    @property
    def data_points(self) -> int: ...


def from_samples(
    samples: Sequence[float], level: float, predictives: Sequence[Evidence]
) -> MetricEstimate:
    point = conformal.median(samples)
    b = conformal.bounds(samples, level, centre=point, floor=0.0)
    bases = {p.basis for p in predictives}
    basis = "model" if bases == {"model"} and b.calibrated else "limited"
    if bases == {"default"}:
        basis = "default"
    return MetricEstimate(
        point,
        max(min(b.lower, point), 0.0),
        max(b.upper, point),
        min(p.data_points for p in predictives),
        "joint",
        basis,
    )
