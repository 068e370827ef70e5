"""Calibration: the residuals each chosen model's intervals are read from, as its final fit
would have made them, and the pooled residuals short series borrow from their host."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from update_estimate import logs
from update_estimate.fitting import pooled
from update_estimate.fitting.candidates.base import Backtest, Candidate
from update_estimate.fitting.features import Series
from update_estimate.fitting.race import Scored, backtest_each, rolling_coverage
from update_estimate.record import CALIBRATION_LEVEL
from update_estimate.reports import REPORTS_SUFFIX, reads_reports
from update_estimate.serving import conformal

if TYPE_CHECKING:
    from update_estimate.fitting.series_training import SeriesResult

BORROW_WIDEN = 1.25


LEVEL = CALIBRATION_LEVEL

log = logs.get("train")


@dataclass(frozen=True)
class Calibration:
    """A candidate's one-step forecasts refitted at every origin, the residuals they leave,
    and how often the intervals served from them would have held the run, one at a time."""

    centres: np.ndarray
    residuals: np.ndarray
    coverage: float | None


def role(
    s: Series, by_name: Mapping[str, Candidate], cleaned: np.ndarray, name: str
) -> tuple[str, Candidate | None, np.ndarray]:
    """The design a raced name was fed, its candidate (None: the global model) and its
    target: models without covariates fit the series with outliers cleaned away."""
    design = "reports" if reads_reports(name) else "base"
    kind = by_name.get(name.removesuffix(REPORTS_SUFFIX))
    return design, kind, cleaned if kind is not None and not kind.uses_covariates else s.y


def calibrate(
    s: Series,
    by_name: Mapping[str, Candidate],
    cleaned: np.ndarray,
    designs: Mapping[str, np.ndarray],
    start: int,
    raced: Scored,
) -> Calibration:
    design, kind, y_fit = role(s, by_name, cleaned, raced.name)
    fresh = _every_origin(kind, raced.backtest, y_fit, designs[design], start)
    centres = fresh.forecasts
    residuals = _as_final_fit(fresh, s.y[start:] - centres)
    censored = s.censored[start:]
    usable = ~censored & (s.y[start:] > 0)
    return Calibration(
        centres, residuals, rolling_coverage(residuals, censored, LEVEL, (centres, usable))
    )


def _every_origin(
    kind: Candidate | None, raced: Backtest, y_fit: np.ndarray, x: np.ndarray, start: int
) -> Backtest:
    """The winner's backtest refitted at every origin, as its final fit is fresh, and
    knowing what it knows (`Candidate.hindsight`).

    The race refits some candidates only every few runs (cheaper); residuals of such stale fits
    are wider than the final model's errors, and intervals calibrated on them over-cover.
    """
    if kind is not None and kind.hindsight is not None:
        try:
            return kind.hindsight(y_fit, x, start, raced)
        except Exception as exc:
            log.info("calibration in hindsight failed, using the race's forecasts", error=str(exc))
            return raced
    if kind is None or kind.retrain <= 1:
        return raced
    fresh, failed = backtest_each([kind], y_fit, x, start, retrain=1)
    if failed:
        log.info("calibration refit failed, using the race's forecasts", failures=failed)
    return fresh.get(kind.name, raced)


def _as_final_fit(backtest: Backtest, residuals: np.ndarray) -> np.ndarray:
    """Residuals scaled to the error of the final fit, which saw more runs than any backtest fit
    and which the calibration serves; as they are for models whose learning curve is unknown."""
    if backtest.inflation is None:
        return residuals
    return residuals * np.sqrt(backtest.inflation[-1] / backtest.inflation[:-1])


def borrow_calibration(results: list[SeriesResult]) -> None:
    """Short series take widened residuals pooled across the host's plugins for that metric,
    except where they answer with the host's shape."""
    shared: dict[tuple, list[float]] = defaultdict(list)
    for r in results:
        if r.basis == "model":
            shared[(r.host, r.metric, r.phase)].extend(r.record.variants["base"].residuals)
    for r in results:
        if r.basis != "limited":
            continue
        borrowed = shared.get((r.host, r.metric, r.phase), [])
        if len(borrowed) < 2 * conformal.min_residuals(LEVEL):
            continue
        widened = [round(v * BORROW_WIDEN, 6) for v in borrowed]
        # a variant with the host's shape is calibrated on its own runs, as `backtest` measures it
        variants = {
            name: v if v.model == pooled.NAME else v.calibrated_on(widened)
            for name, v in r.record.variants.items()
        }
        r.record = r.record._replace(variants=variants)
