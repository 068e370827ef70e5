"""Calibration over many seeds: 90% intervals must contain 85-95% of the *next observations*.

Each trial is the real path: a simulated history is cut before a run, each plugin's series is
trained as `train` does, and `estimate`'s warm path answers for the run that followed; the
answer is then checked against what that run really took, per plugin and in total.
Histories have 80 runs, so each series calibrates on the full 60 backtest residuals.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from joblib import Parallel, delayed

from update_estimate.fitting.candidates.base import quiet_libraries
from update_estimate.fitting.features import build_series
from update_estimate.fitting.series_training import train_series
from update_estimate.history import reader as history
from update_estimate.history import simulate
from update_estimate.requests import EstimateRequest
from update_estimate.serving.estimate import estimate

PLUGINS = ("apt", "pip", "flatpak")
METRIC = "wall_clock_seconds"
FAST: tuple[str, ...] = ()  # baselines only: the totals check is about calibration


@dataclass(frozen=True)
class Trial:
    hits: list[bool]
    total_hit: bool
    summed_hit: bool
    width_ratio: float  # joint interval width / width of summed bounds


def trial(seed: int, only: Sequence[str] | None) -> Trial:
    quiet_libraries()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(simulate.generate(plugins=PLUGINS, runs=81, seed=seed), db)
        ex = history.read(db).executions
    ok = ex[ex.status == "success"].groupby("run_id").filter(lambda g: len(g) == len(PLUGINS))
    last_run = ok.groupby("run_id").start_time.min().idxmax()
    target = ok[ok.run_id == last_run]
    cut = target.start_time.min()
    records = {}
    for s in build_series(ex[ex.start_time < cut], None, [METRIC]):
        result = train_series(s, None, include_extras=False, only=only)
        records[s.key] = result.record
    request = EstimateRequest(plugins=PLUGINS, at=cut.to_pydatetime())
    answer = estimate(records, "workstation", request, "cache")
    actual = dict(zip(target.plugin, target[METRIC], strict=True))
    truth = sum(actual.values())
    estimates = [p.metrics[METRIC] for p in answer.plugins]
    total = answer.total[METRIC]
    low, high = sum(m.lower for m in estimates), sum(m.upper for m in estimates)
    return Trial(
        hits=[
            m.lower <= actual[p.plugin] <= m.upper
            for p, m in zip(answer.plugins, estimates, strict=True)
        ],
        total_hit=total.lower <= truth <= total.upper,
        summed_hit=low <= truth <= high,
        width_ratio=(total.upper - total.lower) / (high - low),
    )


def run_trials(seeds: range, only: Sequence[str] | None) -> list[Trial]:
    return Parallel(n_jobs=2)(delayed(trial)(seed, only) for seed in seeds)


@pytest.fixture(scope="module")
def full_race() -> list[Trial]:
    """Every candidate competes, as in `train`."""
    return run_trials(range(40), None)


@pytest.fixture(scope="module")
def fast_race() -> list[Trial]:
    """The naive baselines only: cheap enough for many seeds."""
    return run_trials(range(1000, 1200), FAST)


def test_per_plugin_intervals_cover_next_runs(full_race: list[Trial]) -> None:
    hits = [h for t in full_race for h in t.hits]
    assert len(hits) == 40 * len(PLUGINS)
    assert 0.85 <= np.mean(hits) <= 0.95, np.mean(hits)


def test_total_intervals_cover_next_run_totals(fast_race: list[Trial]) -> None:
    coverage = np.mean([t.total_hit for t in fast_race])
    assert 0.85 <= coverage <= 0.95, coverage
    per_plugin = np.mean([h for t in fast_race for h in t.hits])
    assert 0.85 <= per_plugin <= 0.95, per_plugin


def test_joint_totals_are_narrower_than_summed_bounds(fast_race: list[Trial]) -> None:
    """The trap design.md warns of: summed bounds are wider than their label needs."""
    joint = np.mean([t.total_hit for t in fast_race])
    assert np.mean([t.summed_hit for t in fast_race]) > joint
    assert np.median([t.width_ratio for t in fast_race]) < 1.0
