"""Several hosts updated as one batch (update-all's `remote run`): each host's run, and the
batch's totals.

Hosts updated one after another take the sum of their wall times; hosts updated at once
(`remote run --parallel`) take the slowest host's. CPU time and downloads add up; peak memory
is the largest host's, since each host is its own machine.

The hosts' totals are replayed together where their past runs fell on one day: a day heavy on
every host (the same upstream releases) is heavy for the batch. With too few days on which
every host ran for an interval read off ranks, each host's replays are paired at random, as if
the hosts were independent.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from update_estimate.record import METRICS
from update_estimate.serving import conformal
from update_estimate.serving.estimate import EstimateResult, Finish, finish
from update_estimate.serving.predictive import MetricEstimate
from update_estimate.serving.totals import Replay, coherent, from_samples

WALL, MEMORY = "wall_clock_seconds", "memory_peak_bytes"


@dataclass
class BatchResult:
    level: float
    hosts: list[EstimateResult]
    total: dict[str, MetricEstimate]
    at_once: bool
    shared_days: int  # past days on which every host ran: their replays went together
    finish: Finish
    warnings: list[str] = field(default_factory=list)


def adds_up(metric: str, at_once: bool) -> bool:
    """Whether the batch's value is its hosts' sum: peak memory is each machine's own, and
    hosts updated at once take the slowest one's wall time."""
    return metric != MEMORY and not (metric == WALL and at_once)


def combine(metric: str, values: Sequence[float], at_once: bool) -> float:
    """The batch's value from its hosts' values in one replay (see `adds_up`)."""
    return sum(values) if adds_up(metric, at_once) else max(values)


def batch(
    results: Sequence[EstimateResult],
    run_days: Mapping[str, Mapping[int, str]],
    at_once: bool,
    level: float,
    at: datetime,
) -> BatchResult:
    """The batch's totals from its hosts' estimates (one or more, each answered before its
    run)."""

    def by_day(r: EstimateResult, metric: str) -> dict[str, float]:
        return _by_day(r.replays.get(metric, []), run_days.get(r.host or "", {}))

    if len(results) == 1:  # a batch of one host is that host
        only = results[0]
        return BatchResult(
            level, [only], dict(only.total), at_once, 0, finish(at, only.total[WALL])
        )
    shared = sorted(set.intersection(*(set(by_day(r, WALL)) for r in results)))
    together = len(shared) >= conformal.min_two_sided(level)
    total = {}
    for metric in METRICS:
        parts = [r.total[metric] for r in results]
        if together:
            per_host = [by_day(r, metric) for r in results]
            rows = [[values[day] for values in per_host] for day in shared]
        else:
            # a host without a replay (nothing left to run) adds its point
            columns = [[v for _, v in r.replays.get(metric, [])] for r in results]
            rows = _independent([c or [p.point] for c, p in zip(columns, parts, strict=True)])
        samples = [combine(metric, row, at_once) for row in rows]
        whole = replace(from_samples(samples, level, parts), model="batch")
        total[metric] = coherent(whole, parts, adds_up(metric, at_once))
    return BatchResult(
        level,
        list(results),
        total,
        at_once,
        len(shared) if together else 0,
        finish(at, total[WALL]),
    )


def _by_day(replay: Replay, days: Mapping[int, str]) -> dict[str, float]:
    """A host's replayed values by the day of their run (a day's last run, where it ran
    twice); runs of unknown day are left out."""
    out: dict[str, float] = {}
    for run, value in sorted(replay):
        if run in days:
            out[days[run]] = value
    return out


def _independent(columns: Sequence[Sequence[float]]) -> list[list[float]]:
    """Rows pairing each host's replays at random (a fixed seed per host, so answers repeat),
    as many as the longest host has."""
    n = max(len(c) for c in columns)
    orders = []
    for i, column in enumerate(columns):
        order = list(column)
        random.Random(f"batch:{i}:{len(column)}").shuffle(order)
        orders.append(order)
    return [[order[k % len(order)] for order in orders] for k in range(n)]
