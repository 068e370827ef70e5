"""Calibration over many seeds: 90% intervals must contain 85-95% of the *next observations*.

Each trial is the real path: a simulated history is cut before a run, each plugin's series is
trained as `train` does, and `estimate`'s warm path answers for the run that followed; the
answer is then checked against what that run really took, per plugin and in total.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from update_estimate import forecast, history, simulate
from update_estimate.candidates import quiet_libraries
from update_estimate.features import build_series
from update_estimate.train import train_series

SEEDS = range(50)
PLUGINS = ("apt", "pip", "flatpak")
METRIC = "wall_clock_seconds"


Trial = tuple[list[bool], bool, tuple[bool, bool]]


def _trial(seed: int, folder: Path) -> Trial:
    db = folder / f"h{seed}.duckdb"
    simulate.write(simulate.generate(plugins=PLUGINS, runs=41, seed=seed), db)
    ex = history.read(db).executions
    ok = ex[ex.status == "success"].groupby("run_id").filter(lambda g: len(g) == len(PLUGINS))
    last_run = ok.groupby("run_id").start_time.min().idxmax()
    target_run = ok[ok.run_id == last_run]
    cut = target_run.start_time.min()
    records = {}
    for s in build_series(ex[ex.start_time < cut], None, [METRIC]):
        result = train_series(s, None, include_extras=False)
        records[s.key] = {**result.record, "basis": result.basis}
    request = forecast.Request(plugins=PLUGINS, at=cut.to_pydatetime())
    answer = forecast.estimate(records, "workstation", request, "cache")
    actual = dict(zip(target_run.plugin, target_run[METRIC], strict=True))
    hits = [
        p.metrics[METRIC].lower <= actual[p.plugin] <= p.metrics[METRIC].upper
        for p in answer.plugins
    ]
    total = answer.total[METRIC]
    low = sum(p.metrics[METRIC].lower for p in answer.plugins)
    high = sum(p.metrics[METRIC].upper for p in answer.plugins)
    summed = (low <= sum(actual.values()) <= high, total.upper - total.lower < high - low)
    return (
        hits,
        total.lower <= sum(actual.values()) <= total.upper,
        summed,
    )


@pytest.fixture(scope="module")
def trials(tmp_path_factory: pytest.TempPathFactory) -> list[Trial]:
    quiet_libraries()
    folder = tmp_path_factory.mktemp("calibration")
    return [_trial(seed, folder) for seed in SEEDS]


def test_per_plugin_intervals_cover_next_runs(trials) -> None:
    hits = [h for plugin_hits, _, _ in trials for h in plugin_hits]
    assert len(hits) == len(SEEDS) * len(PLUGINS)
    assert 0.85 <= np.mean(hits) <= 0.95, np.mean(hits)


def test_total_intervals_cover_next_run_totals(trials) -> None:
    coverage = np.mean([total for _, total, _ in trials])
    assert 0.85 <= coverage <= 0.95, coverage


def test_summed_bounds_overcover_and_joint_totals_are_narrower(trials) -> None:
    """The trap design.md warns of: summed bounds are wider than their label needs."""
    joint = np.mean([total for _, total, _ in trials])
    assert np.mean([summed for _, _, (summed, _) in trials]) >= joint
    assert np.mean([narrower for _, _, (_, narrower) in trials]) > 0.9
