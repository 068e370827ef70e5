"""Several hosts as one batch: each host's totals replayed together where their past runs fell
on one day, the batch's wall time the sum (one after another) or the slowest host's (at once),
and never below what any host says on its own."""

from __future__ import annotations

import random
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from update_estimate.record import METRICS
from update_estimate.serving.batch import batch
from update_estimate.serving.estimate import EstimateResult
from update_estimate.serving.predictive import MetricEstimate
from update_estimate.serving.totals import from_samples

AT = datetime(2026, 12, 1, 9, 0)
WALL, MEMORY = "wall_clock_seconds", "memory_peak_bytes"


def _host(name: str, values: list[float], first_run: int = 0) -> EstimateResult:
    """A host whose every total took these values in its past runs `first_run`, ...."""
    replay = [(first_run + i, v) for i, v in enumerate(values)]
    part = MetricEstimate(1.0, 0.0, 1.0, len(values), "joint", "model")
    total = {m: from_samples(values, 0.9, [part]) for m in METRICS}
    return EstimateResult(0.9, name, "cache", [], total, replays={m: replay for m in METRICS})


def _days(first_run: int, n: int, first_day: int) -> dict[int, str]:
    return {
        first_run + i: f"2026-{1 + (first_day + i) // 28:02d}-{1 + (first_day + i) % 28:02d}"
        for i in range(n)
    }


def test_hosts_that_ran_on_the_same_days_are_replayed_together() -> None:
    rng = random.Random(4)
    work = [max(rng.gauss(300, 80), 0.0) for _ in range(40)]  # the same releases hit both hosts
    hosts = [_host("a", work), _host("b", work, first_run=100)]
    same = {"a": _days(0, 40, 0), "b": _days(100, 40, 0)}
    apart = {"a": _days(0, 40, 0), "b": _days(100, 40, 200)}
    together = batch(hosts, same, False, 0.9, AT)
    independent = batch(hosts, apart, False, 0.9, AT)
    assert (together.shared_days, independent.shared_days) == (40, 0)
    wide, narrow = (r.total[WALL].upper - r.total[WALL].lower for r in (together, independent))
    # together, the batch is exactly twice one host; apart, the hosts' errors partly cancel
    single = hosts[0].total[WALL]
    assert together.total[WALL].upper == 2 * single.upper
    assert wide > 1.25 * narrow


def test_too_few_shared_days_pair_the_hosts_at_random() -> None:
    hosts = [_host("a", [10.0] * 18), _host("b", [20.0] * 18, first_run=50)]
    days = {"a": _days(0, 18, 0), "b": _days(50, 18, 0)}  # 18 shared days: too few for 90%
    result = batch(hosts, days, False, 0.9, AT)
    assert result.shared_days == 0
    assert result.total[WALL].point == 30.0
    assert result.total[MEMORY].point == 20.0  # each host is its own machine: the largest


# 19 replays or more: a 90% interval read off ranks, which keep the order of the samples
replays = st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=19, max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.lists(replays, min_size=1, max_size=4), st.integers(0, 40), st.booleans())
def test_a_batch_total_is_never_below_a_host_and_at_once_never_above_one_by_one(
    columns, offset, share
) -> None:
    hosts = [_host(f"h{i}", c, first_run=1000 * i) for i, c in enumerate(columns)]
    days = {
        f"h{i}": _days(1000 * i, len(c), 0 if share else offset * i) for i, c in enumerate(columns)
    }
    one_by_one = batch(hosts, days, False, 0.9, AT)
    at_once = batch(hosts, days, True, 0.9, AT)
    for metric in METRICS:
        whole, fastest = one_by_one.total[metric], at_once.total[metric]
        for h in hosts:
            part = h.total[metric]
            for bound in ("lower", "point", "upper"):
                assert getattr(whole, bound) >= getattr(part, bound)
                assert getattr(fastest, bound) >= getattr(part, bound)
        assert whole.lower <= whole.point <= whole.upper
        if metric != MEMORY:  # a sum is at least its parts' lower bounds added up
            assert whole.lower >= sum(h.total[metric].lower for h in hosts) - 1e-6
    for bound in ("lower", "point", "upper"):
        assert getattr(at_once.total[WALL], bound) <= getattr(one_by_one.total[WALL], bound)
    # peak memory is the largest host's either way: hosts are separate machines
    assert at_once.total[MEMORY] == one_by_one.total[MEMORY]
    assert one_by_one.finish.point >= AT


def test_a_sum_of_hosts_is_at_least_their_lower_bounds_added_up() -> None:
    """Each host's two lightest days are the other's second lightest: read off the ranks of
    the days' sums, the batch's lower bound (2.0) fell below the hosts' own added up (2.9).
    Wall time at once is the slowest host's: held to each host only."""
    n = 40
    a = [0.0, 1.0] + [10.0 + i for i in range(n - 2)]
    b = [1.0, 0.0] + [10.0 + i for i in range(n - 2)]
    hosts = [_host("a", a), _host("b", b, first_run=100)]
    days = {"a": _days(0, n, 0), "b": _days(100, n, 0)}
    added = sum(h.total[WALL].lower for h in hosts)
    assert batch(hosts, days, False, 0.9, AT).total[WALL].lower >= added - 1e-9
    assert batch(hosts, days, True, 0.9, AT).total[WALL].lower < added


def test_a_batch_of_one_host_is_that_host() -> None:
    rng = random.Random(2)
    alone = _host("a", [rng.uniform(10, 100) for _ in range(30)])
    for at_once in (False, True):
        result = batch([alone], {"a": _days(0, 30, 0)}, at_once, 0.9, AT)
        assert result.total == alone.total and result.shared_days == 0
