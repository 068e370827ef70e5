"""The baselines: the last run's value and the median of recent runs. numpy only, always
available, always in the race: a model must beat them to be chosen.

Where some runs observed nothing and nothing before the run foresees which (a download
without a report), a baseline is of the size of what comes, as `linear`'s hurdle is: the
calibration replays each zero as a zero. A median across zeros and sizes is neither: in a
new user's first weeks flatpak's (300 MB, 0, 4.5 GB, 0) forecast 17 KB, its next 80 MB
download left an error of 8.4 in the log, and an hour after its last run it read 9.5 GB
[0 B, 15.8 GB]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from update_estimate.fitting.candidates.base import (
    Backtest,
    Candidate,
    Fitted,
    arrays,
    constant,
    model_inputs,
)
from update_estimate.fitting.candidates.linear import hurdle

ROLLING_WINDOW = 10
NAMES = ("naive_last", "rolling_median")


def _counted(y: np.ndarray, x: np.ndarray, ends: Sequence[int]) -> list[np.ndarray]:
    """For each end t, the runs before it a baseline reads: those that observed something
    where the runs so far are a hurdle (`linear.hurdle`), else all."""
    y, x = arrays(y, x)
    inputs = model_inputs(x, False)
    return [y[:t][y[:t] > 0] if hurdle(y[:t], inputs[:t]) else y[:t] for t in ends]


def _naive_backtest(y: np.ndarray, x: np.ndarray, start: int, retrain: int) -> Backtest:
    return Backtest(np.array([seen[-1] for seen in _counted(y, x, range(start, len(y)))]))


def _naive_fit(y: np.ndarray, x: np.ndarray) -> Fitted:
    value = float(_counted(y, x, [len(y)])[0][-1])
    return Fitted("naive_last", value, constant(value))


def rolling_median(values: np.ndarray, window: int = ROLLING_WINDOW) -> float:
    return float(np.median(values[-window:]))


def _median_backtest(y: np.ndarray, x: np.ndarray, start: int, retrain: int) -> Backtest:
    runs = _counted(y, x, range(start, len(y)))
    return Backtest(np.array([rolling_median(seen) for seen in runs]))


def _median_fit(y: np.ndarray, x: np.ndarray) -> Fitted:
    value = rolling_median(_counted(y, x, [len(y)])[0])
    return Fitted("rolling_median", value, constant(value))


def baselines() -> list[Candidate]:
    return [
        Candidate("naive_last", 2, False, _naive_backtest, _naive_fit),
        Candidate("rolling_median", 3, False, _median_backtest, _median_fit),
    ]
