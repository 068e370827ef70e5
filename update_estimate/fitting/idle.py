"""The chance of work after a gap, fitted: a logistic curve in log hours since the last success,
read by `serving.idle` to weigh the two kinds of run."""

from __future__ import annotations

import numpy as np

from update_estimate.serving.idle import MIN_KIND

PENALTY = 0.5  # ridge on the curve's slope: a few runs never make it a step
ITERATIONS = 50


def fit(log_gaps: np.ndarray, idle: np.ndarray) -> tuple[float, float] | None:
    """Intercept and slope of log-odds(work) on log1p(hours since the last success), or None
    when either kind has fewer than MIN_KIND runs (nothing to weigh)."""
    x = np.asarray(log_gaps, dtype=float)
    work = ~np.asarray(idle, dtype=bool)
    if work.sum() < MIN_KIND or (~work).sum() < MIN_KIND:
        return None
    centre = float(x.mean())
    design = np.column_stack([np.ones(len(x)), x - centre])
    penalty = np.diag([0.0, PENALTY])
    coef = np.zeros(2)
    for _ in range(ITERATIONS):
        p = 1 / (1 + np.exp(-(design @ coef)))
        gradient = design.T @ (work - p) - penalty @ coef
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        coef = coef + step
        if float(np.abs(step).max()) < 1e-8:
            break
    intercept, slope = float(coef[0] - coef[1] * centre), float(coef[1])
    return round(intercept, 6), round(slope, 6)
