"""The model's view of the covariates: knees that let a linear model bend at the right scale."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.scenarios import make_series
from update_estimate.fitting import grid
from update_estimate.fitting.features import KNEES, expand, plausible_cap, timeout_of, width

raw_values = st.lists(st.floats(0, 1e12, allow_nan=False), min_size=2, max_size=30)


@settings(max_examples=60, deadline=None)
@given(raw_values)
def test_knees_keep_the_value_and_bend_below_it(values: list[float]) -> None:
    logs = np.log1p(np.array(values))[:, None]
    cols = expand(logs, ["gap_hours"])
    assert cols.shape == (len(values), width("gap_hours"))
    assert np.array_equal(cols[:, 0], logs[:, 0])
    order = np.argsort(logs[:, 0], kind="stable")
    for j, knee in enumerate(KNEES["gap_hours"], start=1):
        assert (cols[:, j] <= cols[:, 0] + 1e-12).all()
        assert (np.diff(cols[order, j]) >= -1e-12).all()  # monotone in the value
        big = np.array(values) > 1e6 * knee  # far past the knee: slope 1, shifted by log(knee)
        assert np.allclose(cols[big, 0] - cols[big, j], math.log(knee), atol=1e-3)


def test_grid_rows_and_designs_have_the_same_columns() -> None:
    """A model fitted on the design must be fed grid rows of the same layout."""
    s = make_series(np.linspace(10, 50, 40), np.linspace(2, 400, 40))
    g = grid.build(s, "base")
    assert g.rows.shape[1] == grid.design(s, "base").shape[1]
    node_gaps = np.expm1(g.rows[: g.nodes, 0])
    assert np.allclose(node_gaps, grid.GAP_HOURS_BASE)
    assert np.allclose(g.rows[: g.nodes, 1], np.log1p(node_gaps / KNEES["gap_hours"][0]))


def test_reports_rows_reduce_to_the_base_layout() -> None:
    from dataclasses import replace

    base = make_series(np.linspace(10, 50, 40), np.linspace(2, 400, 40))
    reports = np.log1p(np.column_stack([np.arange(40), np.arange(40) * 1e6]))
    s = replace(
        base,
        covariates=np.column_stack([base.covariates, reports]),
        reports=("package_count", "download_bytes"),
    )
    g = grid.build(s, "reports")
    assert g.rows.shape[1] == grid.design(s, "reports").shape[1]
    assert grid.base_columns(g.rows, "reports").shape[1] == grid.design(s, "base").shape[1]


def test_a_small_report_after_many_quiet_runs_is_not_blended_with_the_backlog() -> None:
    """Most runs report nothing to do, a few a weeks-long backlog, a few one package. The grid
    must have nodes where the work is, or a report of one package is read halfway to the
    backlog; the answer through the grid stays near the truth, 10 s + 8 s a package."""
    from dataclasses import replace
    from datetime import datetime

    from update_estimate.fitting.series_training import train_series
    from update_estimate.serving.predictive import predictive

    rng = np.random.default_rng(3)
    packages = np.where(rng.random(90) < 0.8, 0, rng.choice([1, 2, 30, 40], 90)).astype(float)
    wall = (10 + 8 * packages) * np.exp(rng.normal(0, 0.05, 90))
    base = make_series(wall, np.full(90, 6.0))
    reports = np.log1p(np.column_stack([packages, packages * 5e7]))
    s = replace(
        base,
        covariates=np.column_stack([base.covariates, reports]),
        reports=("package_count", "download_bytes"),
    )
    result = train_series(s, None, include_extras=False, only=["linear"])
    for n in (1, 2):
        p, used = predictive(
            result.record,
            datetime(2026, 11, 1, 12),
            {"package_count": n, "download_bytes": n * 5e7},
        )
        assert used
        assert abs(p.centre - math.log1p(10 + 8 * n)) < 0.15


def test_a_timeout_caps_the_time_where_no_run_lasted_longer() -> None:
    """Builds timed out at 1800 s (killed there): no later run lasts longer, so no bound
    reaches past it, where 1.5 times the longest said 2700 s might. Where a run outlasted
    every timed-out one (a timeout raised since), the cap stays above the longest."""
    y = np.log1p(np.array([120.0, 300.0, 1800.0, 600.0, 1800.0]))
    killed = np.array([False, False, True, False, True])
    timeout = timeout_of(y, killed)
    assert timeout is not None and math.expm1(timeout) == pytest.approx(1800.0)
    assert math.expm1(plausible_cap(y)) == pytest.approx(2700.0)
    longer = np.log1p(np.array([120.0, 2400.0, 1800.0]))
    assert timeout_of(longer, np.array([False, False, True])) is None
    assert timeout_of(y, np.zeros(5, dtype=bool)) is None
