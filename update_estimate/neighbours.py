"""The median of the recent runs after a break of about the same length: no shape assumed.

A plugin's time grows with its backlog, and the backlog with the hours since its last run, but
not along a line on any scale: after a few hours there is mostly nothing to do, after weeks a
pile. Where breaks come in clusters (`bursty`: hours apart, then weeks away), a line through
both clusters answered a 15-hour break with twice the time the runs after such breaks took.
The runs after breaks within a factor of about 1.65 know better: median APE of wall time
without reports 0.145 -> 0.122 in `bursty` with snap among the plugins, 3-8% lower in `trend`,
`level-shift` and `slow-network`, higher in `steady` and `sparse` (`bench/linear_models.py`,
`bench/RESULTS.md`). It races the other candidates like any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WIDTH = 0.5  # on log1p hours: breaks within a factor of about 1.65 are neighbours
MIN_NEIGHBOURS = 3  # fewer within WIDTH: the nearest ones
WINDOW = 60  # the most recent runs only, so a level shift ages out


@dataclass(frozen=True)
class GapNeighbours:
    """log1p break hours (a design's first column) and values of the last WINDOW runs."""

    gaps: np.ndarray
    values: np.ndarray

    def predict(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(rows, dtype=float))
        return np.array([self._at(gap) for gap in rows[:, 0]])

    def _at(self, gap: float) -> float:
        distance = np.abs(self.gaps - gap)
        near = np.flatnonzero(distance <= WIDTH)
        if len(near) < MIN_NEIGHBOURS:
            near = np.argsort(distance, kind="stable")[:MIN_NEIGHBOURS]
        return float(np.median(self.values[near]))


def fit(y: np.ndarray, x: np.ndarray) -> GapNeighbours:
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    return GapNeighbours(x[-WINDOW:, 0].copy(), np.asarray(y, dtype=float)[-WINDOW:].copy())


def one_step(y: np.ndarray, x: np.ndarray, start: int) -> np.ndarray:
    """Forecasts of y[start:], each from the runs before it."""
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    return np.array([fit(y[:t], x[:t]).predict(x[t])[0] for t in range(start, len(y))])
