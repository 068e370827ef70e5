"""The chance of work after a gap, fitted: a logistic curve in log hours since the last success,
read by `serving.idle` to weigh the two kinds of run."""

from __future__ import annotations

import math

import numpy as np

from update_estimate.serving.idle import MIN_GAP_HOURS, MIN_KIND

LEVEL_WINDOW = 10  # the latest runs of a kind, whose median is a typical one
PENALTY = 0.5  # ridge on the curve's slope: a few runs never make it a step
ITERATIONS = 50
RATE_GRID = 800  # log rates from one release in 1100 years to 100 an hour
RATE_POINTS = 9  # rates kept from the posterior (`release_rates`)
# The rate's prior before a plugin's first check (`rates_before_a_check`), log-normal, per
# hour: real plugins' runs had nothing to do in 32-94% of their daily runs (the real client's
# file), rates of 0.003-0.05 an hour about 0.02; its spread reaches ten times busier.
RATE_PRIOR = (0.02, 1.5)


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


def level_rise(values: np.ndarray, gaps: np.ndarray) -> float:
    """How far the runs with work's peak memory rises per log1p hour of break: a level for
    each kind, which a larger backlog raises a little. Least squares, and zero unless it
    rises by more than twice its standard error: a slope that the noise explains moved a
    level that does not move."""
    n = len(values)
    if n < 3:
        return 0.0
    centred = np.asarray(gaps, dtype=float) - np.mean(gaps)
    spread = float(centred @ centred)
    if spread <= 0.0:
        return 0.0
    deviations = np.asarray(values, dtype=float) - np.mean(values)
    slope = float(centred @ deviations) / spread
    misfit = float(np.sum((deviations - slope * centred) ** 2))
    return slope if slope > 2.0 * math.sqrt(misfit / (n - 2) / spread) else 0.0


def levels(y: np.ndarray, idle: np.ndarray) -> tuple[float, float] | None:
    """The typical quiet run and the typical run with work (log1p scale): the medians of the
    latest of each kind, None with fewer than MIN_KIND of either."""
    quiet = np.asarray(idle, dtype=bool)
    latest = (y[quiet][-LEVEL_WINDOW:], y[~quiet][-LEVEL_WINDOW:])
    if min(len(kind) for kind in latest) < MIN_KIND:
        return None
    return float(np.median(latest[0])), float(np.median(latest[1]))


def jumps(
    y: np.ndarray, idle: np.ndarray, start: int, centres: np.ndarray
) -> tuple[list[int], list[float]]:
    """The runs from `start` with work whose forecast lay nearer the typical quiet run and
    whose value nearer the typical run with work (indices from `start`), and the typical
    work before each.

    A forecast of a mixture sits near the quiet runs after a short break, and a run with work
    then leaves a residual that is mostly the jump between the kinds. Replayed on a forecast
    already at the level of work, that jump counted twice, and a peak memory's upper bound lay
    far above any run with work. `serving.predictive` replays such a run from its own value.
    """
    runs, typical = [], []
    for k, t in enumerate(range(start, len(y))):
        before = levels(y[:t], idle[:t])
        if before is None or idle[t]:
            continue
        split = sum(before) / 2
        if centres[k] < split < y[t]:
            runs.append(k)
            typical.append(before[1])
    return runs, typical


def release_rates(log_gaps: np.ndarray, idle: np.ndarray) -> list[float] | None:
    """Releases per hour, where the curve cannot be fitted: a run has nothing to do when no
    release came since the last success, P(quiet | gap) = exp(-rate * gap). One parameter is
    measured from a new plugin's first runs, where the curve's two need MIN_KIND of each
    kind. A few runs leave it uncertain: the rates at RATE_POINTS equal shares of its
    posterior (flat in log rate), whose chances `serving.idle.quiet_chance` averages: the
    most likely rate alone, read as certain, left out kinds that then came
    (`bench/RESULTS.md`). None without both kinds (the rate would be 0 or infinite)."""
    hours = np.maximum(np.expm1(np.asarray(log_gaps, dtype=float)), MIN_GAP_HOURS)
    quiet = np.asarray(idle, dtype=bool)
    if quiet.all() or not quiet.any():
        return None
    return _posterior(float(hours[quiet].sum()), hours[~quiet], None)


def rates_before_a_check(log_gaps: np.ndarray) -> list[float]:
    """`release_rates` of a plugin whose every run so far had work, on RATE_PRIOR: the flat
    prior's posterior runs off to ever more releases, where a new plugin's first runs after
    a day or two away had work as often as not."""
    hours = np.maximum(np.expm1(np.asarray(log_gaps, dtype=float)), MIN_GAP_HOURS)
    return _posterior(0.0, hours, RATE_PRIOR)


def _posterior(waited: float, work: np.ndarray, prior: tuple[float, float] | None) -> list[float]:
    """The rates at RATE_POINTS equal shares of the posterior, given the hours waited in
    quiet runs and the hours before each run with work; flat in log rate, or log-normal."""
    log_rates = np.linspace(math.log(1e-7), math.log(1e2), RATE_GRID)
    rates = np.exp(log_rates)
    exposure = np.minimum(np.outer(rates, work), 700.0)
    log_posterior = -rates * waited + np.log(-np.expm1(-exposure)).sum(axis=1)
    if prior is not None:
        centre, spread = prior
        log_posterior -= 0.5 * ((log_rates - math.log(centre)) / spread) ** 2
    posterior = np.exp(log_posterior - log_posterior.max())
    shares = np.cumsum(posterior) / posterior.sum()
    points = (np.arange(RATE_POINTS) + 0.5) / RATE_POINTS
    return [round(float(r), 12) for r in np.exp(np.interp(points, shares, log_rates))]
