"""A run's total from its plugins' joint replays, held to what its parts say."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from update_estimate.serving import totals
from update_estimate.serving.predictive import Predictive, limited, single

WALL, MEMORY = "wall_clock_seconds", "memory_peak_bytes"


def _plugins(seed: int) -> list[Predictive]:
    """Five plugins of about 20 s replayed over 12 past runs (a new user's first weeks); the
    first took ten times as long in two of them (a heavy package)."""
    rng = np.random.default_rng(seed)
    runs: list[int | None] = list(range(1, 13))
    out = []
    for k in range(5):
        residuals = rng.normal(0, 0.3, 12)
        if k == 0:
            residuals[[3, 8]] = 2.3
        out.append(
            Predictive(math.log1p(20.0), residuals.tolist(), [False] * 12, runs, 12, "m", "model")
        )
    return out


def test_a_sum_is_at_least_its_parts_lower_bounds_added_up() -> None:
    """Read from 12 replayed sums, the long tail of one plugin sets the joint interval's
    width, and its lower bound falls below what the five plugins' own lower bounds add up to;
    the total is held to that sum. A peak of memory (the largest part) only to each part."""
    for seed in range(5):
        plugins = _plugins(seed)
        parts = [single(p, 0.9) for p in plugins]
        added = sum(p.lower for p in parts)
        sums = [v for _, v in totals.total_replay(WALL, plugins, parallel=False)]
        assert totals.from_samples(sums, 0.9, plugins).lower < added
        wall = totals.total(WALL, plugins, 0.9, parallel=False)
        assert wall.lower >= added - 1e-9
        assert wall.lower <= wall.point <= wall.upper
        memory = totals.total(MEMORY, plugins, 0.9, parallel=False)
        assert max(p.lower for p in parts) - 1e-9 <= memory.lower < added


def test_a_minute_later_moves_a_total_as_little_as_its_parts() -> None:
    """A plugin that missed some of the replayed runs takes one of its own errors there, drawn
    at random. Drawn from a seed of its centre, which moves as the hours since its last run
    grow, the draws changed from one minute to the next, and the demo's total wall time read
    1707 s [984, 3031] at 06:10 and 1792 s [1146, 3047] at 06:11, its plugins unchanged."""
    for seed in range(5):
        plugins = _plugins(seed)
        late = plugins[1]
        plugins[1] = late._replace(
            residuals=late.residuals[4:],
            censored=late.censored[4:],
            runs=late.runs[4:],
            data_points=8,
        )
        later = [p._replace(centre=p.centre + 1e-5) for p in plugins]
        now = totals.total(WALL, plugins, 0.9, parallel=False)
        then = totals.total(WALL, later, 0.9, parallel=False)
        for a, b in ((now.lower, then.lower), (now.point, then.point), (now.upper, then.upper)):
            assert abs(b / a - 1) < 1e-3


def test_the_runs_a_plugin_missed_replay_its_own_spread() -> None:
    """A plugin that joined after 12 runs takes its own values at evenly spaced ranks in the
    runs it missed: the replayed total has its spread, not that of a draw with replacement
    (which repeats some values and leaves out others, its tail among them)."""
    plugins = _plugins(0)
    late = plugins[1]
    runs: list[int | None] = list(range(13, 25))
    plugins[1] = late._replace(runs=runs, source="host|late")
    replayed, draws = totals.joint_replay(plugins)
    assert replayed == tuple(range(1, 25))
    own = sorted(round(totals.raw(late.value(e)), 9) for e in late.residuals)
    missed = sorted(round(row[1], 9) for row in draws[:12])
    assert missed == own
    other = plugins[2]._replace(runs=runs, source="host|other")
    _, draws = totals.joint_replay([plugins[0], plugins[1], other])
    ranks = [np.argsort([row[k] for row in draws[:12]]).tolist() for k in (1, 2)]
    assert ranks[0] != ranks[1]  # two plugins that joined together are not in lockstep


def test_a_plugin_new_here_replays_every_error_it_was_lent() -> None:
    """A plugin with one run of its own and 26 errors lent by its host's other plugins (a
    plugin added last week): its draws are its 27 values, not the one of its only run. Drawn
    from that run alone, a tracker said 0 s remained of it as it started, and the rest of the
    run was a pause (the runs named are too few to read an interval from)."""
    rng = np.random.default_rng(1)
    lent: list[int | None] = [8, *[None] * 26]
    new = Predictive(2.0, rng.normal(0, 0.5, 27).tolist(), [False] * 27, lent, 1, "m", "model")
    runs, draws = totals.joint_replay([new])
    assert len(runs) == len(draws) == 27 and runs[-1] == 8
    assert sorted(row[0] for row in draws) == sorted(
        totals.raw(new.value(e)) for e in new.residuals
    )
    # beside a plugin with 12 runs of its own the runs it names are replayed, and only those:
    # more, unnamed, would tie none of its errors to the other plugins'
    older = _plugins(2)[0]
    runs, draws = totals.joint_replay([older, new])
    assert runs == tuple(range(1, 13))


def test_plugins_with_a_run_or_two_replay_the_spread_of_their_own_intervals() -> None:
    """A new user's third run: three plugins with one error each, all from the same run, too
    few for their ranks (their intervals are limited). Replayed as they were, that one run
    was the total's only draw, and the total's interval a point (187 s [186, 188 s] beside
    plugins of 49 s [5, 127 s], 21 s [4, 56 s] and 25 s [4, 43 s]); each now replays draws
    spread as its own interval, and the total sums them."""
    one = [2]
    plugins = [
        Predictive(math.log1p(s), [e], [False], list(one), 3, "naive_last", "limited")
        for s, e in ((50.0, 0.94), (21.0, 0.49), (25.0, 0.69))
    ]
    parts = [single(p, 0.9) for p in plugins]
    assert all(p.basis == "limited" for p in parts)
    for p, part in zip(plugins, parts, strict=True):
        drawn = sorted(totals.stand_ins(p, totals.STAND_INS))
        assert len(drawn) == totals.STAND_INS
        assert drawn[0] == pytest.approx(part.lower) and drawn[-1] == pytest.approx(part.upper)
        assert float(np.median(drawn)) == pytest.approx(part.point, rel=0.05)
    runs, draws = totals.joint_replay(plugins)
    assert len(draws) == totals.STAND_INS and 2 in runs
    wall = totals.total(WALL, plugins, 0.9, parallel=False)
    assert wall.upper > 2 * wall.lower
    assert wall.lower <= sum(p.point for p in parts) <= wall.upper
    # a plugin whose interval is read off its errors' ranks replays them, not stand-ins
    assert all(limited(p) for p in plugins) and not limited(_plugins(0)[1])


@given(
    plugins=st.lists(
        st.lists(st.tuples(st.integers(1, 30), st.floats(-3, 3)), min_size=1, max_size=40),
        min_size=2,
        max_size=4,
    )
)
def test_each_plugins_draws_are_its_predictives_values(
    plugins: list[list[tuple[int, float]]],
) -> None:
    """A predictive may replay a run more than once and another never (weighed by the chance
    of nothing to do, `idle.mix`). The total replays each run as often as the plugin that
    replays it most, and each plugin's draws at that run's copies are its own values there,
    every one of them (a copy it lacks takes one of its values): counted once, a re-run's
    zeros, replayed in three of four draws of the plugin's own, came in three of five draws
    of the total."""
    predictives = [
        Predictive(
            math.log1p(20.0),
            [e for _, e in rows],
            [False] * len(rows),
            [r for r, _ in rows],
            len(rows),
            "m",
            "model",
            source=f"host|p{k}",
        )
        for k, rows in enumerate(plugins)
    ]
    runs, draws = totals.joint_replay(predictives)
    assert len(runs) == len(draws)
    for run in {r for p in predictives for r in p.runs}:  # the rest are unnamed stand-ins
        most = max(sum(r == run for r in p.runs) for p in predictives)
        assert runs.count(run) == most
    for k, p in enumerate(predictives):
        values = [totals.raw(p.value(e)) for e in p.residuals]
        for run in set(p.runs):
            own = [v for v, r in zip(values, p.runs, strict=True) if r == run]
            replayed = [row[k] for r, row in zip(runs, draws, strict=True) if r == run]
            assert replayed[: len(own)] == own
