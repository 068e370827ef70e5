"""A run's total from its plugins' joint replays, held to what its parts say."""

from __future__ import annotations

import math

import numpy as np

from update_estimate.serving import totals
from update_estimate.serving.predictive import Predictive, single

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
