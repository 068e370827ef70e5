"""The median of the recent runs after a break of about the same length, or else the line.

A plugin's time grows with its backlog, and the backlog with the hours since its last run, but
not along a line on any scale: after a few hours there is mostly nothing to do, after weeks a
pile. Where breaks come in clusters (`bursty`: hours apart, then weeks away), a line through
both clusters answered a break of hours with far more time than the runs after such breaks
took. The runs after breaks within a factor of about 1.65 know better, where there are enough
of them. After a break few recent runs had (weeks away, once in a dozen runs), the median of
the nearest few ignores how much longer this break was than theirs: the line (`linear`, on all
the covariates) answers there (`bench/linear_models.py`, `bench/RESULTS.md`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from update_estimate.fitting.candidates import base, linear
from update_estimate.fitting.candidates.base import Candidate

WIDTH = 0.5  # on log1p hours: breaks within a factor of about 1.65 are neighbours
MIN_NEIGHBOURS = 4  # fewer within WIDTH: the line answers
WINDOW = 60  # the most recent runs only, so a level shift ages out


@dataclass(frozen=True)
class GapNeighbours:
    """log1p break hours (a design's first column) and values of the last WINDOW runs, and the
    line through the whole history for breaks with too few neighbours."""

    gaps: np.ndarray
    values: np.ndarray
    line: linear.LinearModel

    def predict(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(rows, dtype=float))
        return np.array([self._at(row) for row in rows])

    def _at(self, row: np.ndarray) -> float:
        near = np.flatnonzero(np.abs(self.gaps - row[0]) <= WIDTH)
        if len(near) < MIN_NEIGHBOURS:
            return float(self.line.predict(row)[0])
        return float(np.median(self.values[near]))


def fit(y: np.ndarray, x: np.ndarray) -> GapNeighbours:
    y, x = base.arrays(y, x)
    return GapNeighbours(x[-WINDOW:, 0].copy(), y[-WINDOW:].copy(), linear.fit(y, x))


def one_step(y: np.ndarray, x: np.ndarray, start: int) -> np.ndarray:
    return base.one_step(fit, y, x, start)


def candidate() -> Candidate:
    """The median of recent runs after similar breaks, else the line."""
    return base.refitted("gap_neighbours", 10, fit)
