"""The `linear` candidate's fit: robust to a few wild runs, plain ridge where zeros are real."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from update_estimate import linear

ROWS = np.array([[0.0], [5.0]])


def _history(seed: int, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """log1p wall = 3 + 0.5 * log gap + small noise: the truth is known."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 5, n)
    return 3.0 + 0.5 * x + rng.normal(0, 0.05, n), x[:, None]


def _ridge(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """An independent one-lag ridge (sklearn), predicting ROWS after the last run."""
    model = Ridge(alpha=linear.PENALTY).fit(np.column_stack([y[:-1], x[1:]]), y[1:])
    return model.predict(np.column_stack([np.full(len(ROWS), y[-1]), ROWS]))


def test_a_few_wild_runs_do_not_tilt_the_line() -> None:
    """Five slow-network runs, the longer the backlog the slower: ridge follows them, the
    Huber reweighting does not (fails if the fit stops after its ridge start)."""
    y, x = _history(0)
    wild = np.array([10, 20, 30, 40, 50])
    y[wild] += np.log(8) * x[wild, 0] / 5
    truth = 3.0 + 0.5 * ROWS[:, 0]
    robust_error = np.abs(linear.fit(y, x).predict(ROWS) - truth).max()
    ridge_error = np.abs(_ridge(y, x) - truth).max()
    assert robust_error < 0.1
    assert ridge_error > 3 * robust_error


def test_series_with_zeros_keep_the_plain_ridge() -> None:
    """Runs that downloaded nothing are half of the story, not outliers."""
    y, x = _history(1)
    y[::4] = 0.0
    assert np.allclose(linear.fit(y, x).predict(ROWS), _ridge(y, x))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 25, allow_nan=False), min_size=4, max_size=40),
    st.integers(0, 2**32 - 1),
)
def test_one_step_forecasts_only_see_the_past(values: list[float], seed: int) -> None:
    y = np.array(values)
    x = np.random.default_rng(seed).uniform(0, 8, (len(y), 2))
    start = 2
    out = linear.one_step(y, x, start)
    assert out.shape == (len(y) - start,) and np.isfinite(out).all()
    for t in (start, len(y) - 1):
        expected = linear.fit(y[:t], x[:t]).predict(x[t])[0]
        assert np.isclose(out[t - start], expected)
        changed = y.copy()
        changed[t:] += 100.0  # the future changes, the forecast for t does not
        assert np.isclose(linear.one_step(changed, x, start)[t - start], out[t - start])
