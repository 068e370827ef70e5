"""The `gap_neighbours` candidate: the median of recent runs after breaks of about the same
length, the nearest ones where too few are alike."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from update_estimate import neighbours


def test_the_median_of_runs_after_similar_breaks() -> None:
    gaps = np.log1p([2.0, 3.0, 2.5, 300.0, 400.0, 350.0, 2.2])
    values = np.array([1.0, 2.0, 3.0, 7.0, 9.0, 8.0, 4.0])
    model = neighbours.fit(values, gaps[:, None])
    assert model.predict(np.log1p([[2.4], [360.0]])).tolist() == [2.5, 8.0]


def test_too_few_alike_take_the_nearest() -> None:
    """One run after a 60-hour break: alone it is no median; the three nearest answer."""
    gaps = np.log1p([2.0, 3.0, 60.0, 300.0, 400.0])
    values = np.array([1.0, 2.0, 5.0, 7.0, 9.0])
    model = neighbours.fit(values, gaps[:, None])
    assert model.predict(np.log1p([[60.0]]))[0] == 7.0  # 60, 300 and 400 h: 5, 7 and 9
    assert neighbours.MIN_NEIGHBOURS == 3


def test_only_the_recent_window_counts() -> None:
    """A level shift ages out: runs older than the window are not neighbours."""
    n = neighbours.WINDOW + 20
    values = np.r_[np.full(20, 9.0), np.full(neighbours.WINDOW, 1.0)]
    model = neighbours.fit(values, np.zeros((n, 1)))
    assert model.predict(np.zeros((1, 1)))[0] == 1.0


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(0, 10), min_size=12, max_size=40),
    st.integers(0, 2**16),
)
def test_one_step_forecasts_only_see_the_past(values: list[float], seed: int) -> None:
    y = np.array(values)
    x = np.random.default_rng(seed).uniform(0, 6, (len(y), 3))
    start = 5
    preds = neighbours.one_step(y, x, start)
    changed = y.copy()
    changed[-1] += 100.0
    assert np.array_equal(preds, neighbours.one_step(changed, x, start))
    assert ((preds >= y.min()) & (preds <= y.max())).all()
