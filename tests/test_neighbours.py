"""The `gap_neighbours` candidate: the median of recent runs after breaks of about the same
length, the line where too few are alike."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from update_estimate.fitting.candidates import linear, neighbours


def test_the_median_of_runs_after_similar_breaks() -> None:
    gaps = np.log1p([2.0, 3.0, 2.5, 300.0, 400.0, 350.0, 2.2, 330.0])
    values = np.array([1.0, 2.0, 3.0, 7.0, 9.0, 8.0, 4.0, 6.0])
    model = neighbours.fit(values, gaps[:, None])
    assert model.predict(np.log1p([[2.4], [360.0]])).tolist() == [2.5, 7.5]


def test_too_few_alike_take_the_line() -> None:
    """Three runs after weeks away, then a longer break: their median would ignore that it is
    longer; the line through all runs answers, above each of theirs."""
    rng = np.random.default_rng(0)
    gaps = rng.permutation(np.r_[rng.uniform(1, 2, 20), [5.6, 5.8, 6.0]])
    values = 2 * gaps + rng.normal(0, 0.05, len(gaps))
    model = neighbours.fit(values, gaps[:, None])
    longest = values[gaps > 5].max()
    answer = model.predict(np.array([[7.0]]))[0]
    assert answer == linear.fit(values, gaps[:, None]).predict(np.array([7.0]))[0]
    assert answer > longest
    assert neighbours.MIN_NEIGHBOURS == 4
    short = model.predict(np.array([[1.5]]))[0]
    assert short == np.median(values[np.abs(gaps - 1.5) <= neighbours.WIDTH])


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
    assert np.isfinite(preds).all()
