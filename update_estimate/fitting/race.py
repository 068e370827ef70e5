"""Rolling-origin, one-step-ahead backtests and the choice of a model per series.

Every candidate forecasts the same last runs of a series, each forecast from the runs before it
only. Scores are MAE on the log1p scale over uncensored runs that observed something: a run
that downloaded nothing is the calibration's to replay (`linear`'s hurdle), not an error of the
size. The naive baselines always run, so the chosen model never loses to them in its own
backtest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from update_estimate.fitting import spread
from update_estimate.fitting.candidates import BASELINES
from update_estimate.fitting.candidates.base import Backtest, Candidate
from update_estimate.serving import conformal
from update_estimate.serving.spread import rescale

MAX_ORIGINS = 60
MIN_TRAIN = 10
COVERAGE_WARMUP = 19


def backtest_start(n: int) -> int:
    """First origin: enough runs to fit the models, at most MAX_ORIGINS runs back."""
    return max(min(MIN_TRAIN, n // 2), 2, n - MAX_ORIGINS)


MAX_OUTLIER_SHARE = 0.1


def clean_for_fit(y: np.ndarray, outlier: np.ndarray) -> np.ndarray:
    """Outliers stay out of the fits of models without covariates, which cannot explain them:
    each is replaced by the median of the runs before it. Covariate models see every run (a
    long break explains a long run; `linear`'s Huber weights take the rest): cleaned, the run
    after each of `bursty`'s weeks away looked like all others, and those runs were answered
    with a tenth of their time.

    Outliers are rare by definition: when more than a tenth of the runs are flagged, the series
    has two regimes (cargo: nothing to build, or a build), and nothing is replaced.
    """
    cleaned = y.copy()
    if outlier.mean() > MAX_OUTLIER_SHARE:
        return cleaned
    for t in np.flatnonzero(outlier):
        if t > 0:
            cleaned[t] = float(np.median(cleaned[max(0, t - 10) : t]))
    return cleaned


@dataclass(frozen=True)
class Scored:
    name: str
    backtest: Backtest
    mae: float


def backtest_each(
    candidates: Iterable[Candidate],
    y_fit: np.ndarray,
    x: np.ndarray,
    start: int,
    retrain: int | None = None,
) -> tuple[dict[str, Backtest], dict[str, str]]:
    """One-step forecasts of y[start:] per candidate that can run; and why others could not.

    Each candidate refits every `retrain` origins, its own interval when None.
    """
    out: dict[str, Backtest] = {}
    failed: dict[str, str] = {}
    for cand in candidates:
        if start < cand.min_points:
            continue
        try:
            every = retrain or cand.retrain
            result = cand.backtest(y_fit, x, start, every)
        except Exception as exc:
            failed[cand.name] = f"{type(exc).__name__}: {exc}"[:200]
            continue
        preds = np.asarray(result.forecasts, dtype=float)
        if preds.shape == (len(y_fit) - start,) and np.isfinite(preds).all():
            out[cand.name] = Backtest(preds, result.inflation)
        else:
            failed[cand.name] = "non-finite or misaligned backtest forecasts"
    return out, failed


def mae(y: np.ndarray, preds: np.ndarray, censored: np.ndarray) -> float:
    ok = ~censored
    if (y[ok] > 0).any():
        ok &= y > 0
    if not ok.any():
        return math.inf
    return float(np.mean(np.abs(y[ok] - preds[ok])))


def choose(
    y: np.ndarray, censored: np.ndarray, start: int, backtests: dict[str, Backtest]
) -> tuple[Scored, dict[str, float]]:
    """Lowest backtest MAE wins; ties go to the simpler (baseline, then earlier) candidate."""
    target, cens = y[start:], censored[start:]
    scores = {name: mae(target, b.forecasts, cens) for name, b in backtests.items()}
    order = sorted(scores, key=lambda k: (scores[k], k not in BASELINES))
    best = order[0]
    return Scored(best, backtests[best], scores[best]), scores


def rolling_coverage(
    residuals: np.ndarray,
    censored: np.ndarray,
    level: float = 0.9,
    rescaled_by: tuple[np.ndarray, np.ndarray] | None = None,
) -> float | None:
    """How often run i fell inside the interval calibrated on the residuals before it.

    An honest, sequential check of the calibration that `estimate` will serve: given
    `rescaled_by`, the origin forecasts and the runs a spread slope may learn from, the earlier
    residuals are rescaled to run i's forecast by a slope fitted on them alone.
    """
    hits = []
    for i in range(COVERAGE_WARMUP, len(residuals)):
        earlier = residuals[:i].tolist()
        if rescaled_by is not None:
            centres, usable = rescaled_by
            rate = spread.slope(centres[:i], residuals[:i], usable[:i])
            earlier = rescale(earlier, centres[:i].tolist(), rate, float(centres[i]))
        b = conformal.bounds(earlier, level, censored=censored[:i].tolist())
        r = residuals[i]
        hits.append(r >= b.lower if censored[i] else b.lower <= r <= b.upper)
    return float(np.mean(hits)) if hits else None
