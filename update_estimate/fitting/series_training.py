"""One series trained: every candidate raced on its backtest, a winner per variant, its
calibration, its final fit on the whole series and the forecast record over the grid."""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from update_estimate import logs
from update_estimate.fitting import grid, pooled
from update_estimate.fitting.calibration import LEVEL, Calibration, calibrate, role
from update_estimate.fitting.candidates import BASELINES, candidates
from update_estimate.fitting.candidates.base import Backtest, Candidate, Fitted, quiet_libraries
from update_estimate.fitting.features import Series
from update_estimate.fitting.global_model import GlobalForecast
from update_estimate.fitting.race import (
    Scored,
    backtest_each,
    backtest_start,
    choose,
    clean_for_fit,
    rolling_coverage,
)
from update_estimate.fitting.record_builder import (
    before_first_quiet,
    series_record,
    variant_record,
)
from update_estimate.record import TIMES, SeriesRecord, Variant
from update_estimate.reports import REPORTS_SUFFIX
from update_estimate.serving import conformal
from update_estimate.serving.predictive import WIDE, wide_spread

PHASE_SKIPS = ("auto_arima", "auto_theta")  # per-phase series: the cheaper candidates suffice

log = logs.get("train")


@dataclass(frozen=True)
class VariantResult:
    variant: str
    model: str
    mae: float | None
    baseline_mae: float | None
    coverage: float | None
    baseline_coverage: float | None
    residuals: int
    scores: dict[str, float | None]
    pickle: str | None = None


@dataclass
class SeriesResult:
    """How each variant's race went, the record it wrote, and the models it pickled."""

    variants: list[VariantResult]
    failures: dict[str, str]
    record: SeriesRecord
    pickles: dict[str, bytes] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.record.key

    @property
    def host(self) -> str:
        return self.record.host

    @property
    def plugin(self) -> str:
        return self.record.plugin

    @property
    def metric(self) -> str:
        return self.record.metric

    @property
    def phase(self) -> str | None:
        return self.record.phase

    @property
    def data_points(self) -> int:
        return self.record.data_points

    @property
    def basis(self) -> str:
        return self.record.basis


def _dump(obj: Any) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def pickle_name(key: str, variant: str) -> str:
    return f"{hashlib.sha1(key.encode()).hexdigest()[:16]}-{variant}.pkl"


@dataclass
class Race:
    """A series' race, set up once for both variants: its candidates, their backtests on the
    runs from `start` on, and the designs (covariate columns) each variant is fed."""

    s: Series
    by_name: dict[str, Candidate]
    covariate: list[Candidate]
    cleaned: np.ndarray
    start: int
    designs: dict[str, np.ndarray]
    backtests: dict[str, Backtest]
    failures: dict[str, str]

    def enter_reports(self) -> None:
        """The covariate models fed with the plugin's reports join, named `...+reports`."""
        with_reports, failed = backtest_each(
            self.covariate, self.s.y, self.designs["reports"], self.start
        )
        self.failures.update({k + REPORTS_SUFFIX: v for k, v in failed.items()})
        self.backtests = {
            **self.backtests,
            **{k + REPORTS_SUFFIX: v for k, v in with_reports.items()},
        }


def _race(
    s: Series,
    global_forecast: GlobalForecast | None,
    include_extras: bool,
    only: Sequence[str] | None,
    start: int,
) -> Race:
    pool, _ = candidates(include_extras)
    pool = [c for c in pool if c.metrics is None or s.metric in c.metrics]
    if s.phase is not None:
        pool = [c for c in pool if c.name not in PHASE_SKIPS]
    if only is not None:
        pool = [c for c in pool if c.name in only or c.name in BASELINES]
    cleaned = clean_for_fit(s.y, s.outlier)
    designs = {v: grid.design(s, v) for v in grid.variants(s)}
    local = [c for c in pool if not c.uses_covariates]
    covariate = [c for c in pool if c.uses_covariates]
    backtests, failures = backtest_each(local, cleaned, designs["base"], start)
    base_cov, failed = backtest_each(covariate, s.y, designs["base"], start)
    backtests.update(base_cov)
    failures.update(failed)
    if global_forecast is not None and global_forecast.start == start:
        backtests[global_forecast.name] = Backtest(global_forecast.predictions)
    by_name = {c.name: c for c in pool}
    return Race(s, by_name, covariate, cleaned, start, designs, backtests, failures)


def train_series(
    s: Series,
    global_forecast: GlobalForecast | None,
    include_extras: bool,
    only: Sequence[str] | None = None,
    borrowed: Mapping[str, pooled.Borrowed] | None = None,
) -> SeriesResult:
    """Backtest every candidate, choose per variant, calibrate, fit, and predict the grid.

    Variant `base` answers without the plugin's pre-run report; `reports` (for plugins that
    report) may use it: its race holds every base forecast too, plus the covariate models fed
    with the report (named `...+reports`), so a report only wins where it really helps. A
    series too short for covariate models answers with its host's `borrowed` shapes.
    `only` restricts the race to the named candidates (the baselines always run).
    """
    quiet_libraries()
    start = backtest_start(s.n)
    if start >= s.n or set(grid.variants(s)) <= set(borrowed or ()):
        return _too_short(s, borrowed)
    race = _race(s, global_forecast, include_extras, only, start)
    baseline = race.backtests.get("rolling_median")
    baseline_coverage = (
        rolling_coverage(s.y[start:] - baseline.forecasts, s.censored[start:], LEVEL)
        if baseline is not None
        else None
    )
    refreshed: dict[str, Calibration] = {}  # winner -> its calibration: both races may pick it
    results, variants, pickles = [], {}, {}
    for variant in race.designs:
        if borrowed and variant in borrowed:
            result, variants[variant] = _borrowed_variant(s, variant, borrowed[variant])
            results.append(result)
            continue
        if variant == "reports":
            race.enter_reports()
        best, scores = choose(s.y, s.censored, start, race.backtests)
        if best.name not in refreshed:
            refreshed[best.name] = calibrate(
                s, race.by_name, race.cleaned, race.designs, start, best
            )
        final = _final_fit(race, best.name, variant, global_forecast)
        if pooled.own_costs_beyond_race(s, variant, best.name):
            # the winner's pickle reads no report: beyond the grid, its edge answers
            predictions = pooled.beyond_race(s, final.covariate_grid.rows, final.predictions, start)
            final = replace(final, predictions=predictions, pickle=None)
        if final.pickle is not None:
            pickles[final.pickle] = _dump(final.pickled)
        calibration = refreshed[best.name]
        results.append(_result(variant, best, scores, calibration, baseline_coverage, final))
        variants[variant] = _variant_of(s, race, best.name, calibration, final, variant)
    calibrated = len(s.y) - start >= conformal.min_residuals(LEVEL)
    record = series_record(s, variants, "model" if calibrated else "limited")
    return SeriesResult(results, race.failures, record, pickles)


@dataclass(frozen=True)
class FinalFit:
    """The winner fitted on the whole series: its forecasts over the variant's grid, and
    what a pickle keeps of it for the slow path (`pickle`: its file, None for a baseline)."""

    candidate: str
    covariate_grid: grid.Grid
    predictions: np.ndarray
    pickled: dict[str, Any]
    pickle: str | None
    summed: bool  # read its grid on the raw scale (`Variant.summed`)


def _final_fit(
    race: Race, winner: str, variant: str, global_forecast: GlobalForecast | None
) -> FinalFit:
    g = grid.build(race.s, variant)
    design, kind, y_fit = role(race.s, race.by_name, race.cleaned, winner)
    if kind is not None:
        rows = g.rows if design == variant else grid.base_columns(g.rows, variant)
        fitted = _fit(race.by_name, kind.name, y_fit, race.designs[design])
        predictions = fitted.predict(rows)
        chosen, model = fitted.name, fitted.model
        uses, calendar = race.by_name[chosen].uses_covariates, race.by_name[chosen].calendar
        summed = race.by_name[chosen].summed
    else:
        assert global_forecast is not None
        predictions = global_forecast.grids[variant]
        chosen, model = global_forecast.name, global_forecast.model
        uses, calendar, summed = True, True, False
    pickled = {
        "candidate": chosen,
        "model": model,
        "y": y_fit,
        "x": race.designs[design],
        "covariates": uses,
        "calendar": calendar,
        "design": design,
    }
    name = pickle_name(race.s.key, variant) if chosen not in BASELINES else None
    return FinalFit(chosen, g, predictions, pickled, name, summed)


def _result(
    variant: str,
    best: Scored,
    scores: Mapping[str, float],
    calibration: Calibration,
    baseline_coverage: float | None,
    final: FinalFit,
) -> VariantResult:
    return VariantResult(
        variant=variant,
        model=best.name,
        mae=_finite(best.mae),
        baseline_mae=_finite(scores.get("rolling_median")),
        coverage=calibration.coverage,
        baseline_coverage=baseline_coverage,
        residuals=len(calibration.residuals),
        scores={k: _finite(v) for k, v in scores.items()},
        pickle=final.pickle,
    )


def _variant_of(
    s: Series, race: Race, winner: str, calibration: Calibration, final: FinalFit, variant: str
) -> Variant:
    start = race.start
    usable = ~s.censored[start:] & (s.y[start:] > 0)  # runs whose error size a slope may learn
    return variant_record(
        s,
        winner,
        calibration.residuals,
        s.censored[start:],
        start,
        final.predictions,
        final.covariate_grid,
        calibration.centres,
        usable,
        variant,
        final.summed,
    )


def _borrowed_variant(
    s: Series, variant: str, borrowed: pooled.Borrowed
) -> tuple[VariantResult, Variant]:
    """A short series' variant from its host's shape, calibrated on its own runs, each
    forecast by a fit that left it out. Fewer runs than a conformal rank needs borrow the
    host's errors about the same line (`pooled.Borrowed.lent`): with a report, which sizes
    the work, what is left is the noise around the host's line, which its plugins share,
    where a Student-t interval on a few errors of its own is far wider or, from errors that
    happen to agree, too narrow. Without a report, time's errors about the host's line of
    the gap are checks and updates on every plugin alike. Memory without a report is
    answered per kind, at each kind's own level (`conformal.kinds_bounds`), which lent
    errors do not have; a download's size without a report is the plugin's own (measured
    both ways in bench/RESULTS.md). Time's shape with a report, where half of it is the
    plugin's own costs summed, is read between the grid's nodes on the raw scale
    (`Variant.summed`): on the log scale, where a sum's logarithm is convex, a new user's runs
    with work were answered about 5% above the truth's point."""
    centres = borrowed.centres
    residuals = s.y - centres
    censored = s.censored
    usable = ~censored & (s.y > 0)
    g = grid.build(s, variant)
    record = variant_record(
        s,
        pooled.NAME,
        residuals,
        censored,
        0,
        borrowed.predictions,
        g,
        centres,
        usable,
        variant,
        pooled.sums_own_costs(s, variant),
    )
    enough = conformal.min_residuals(LEVEL)
    lends = variant == "reports" or s.metric in TIMES
    if lends and len(residuals) < enough <= len(borrowed.lent):
        record = record.lent([round(float(r), 6) for r in borrowed.lent])
    if len(borrowed.quiet_errors):
        record = record._replace(
            quiet_errors=tuple(round(float(e), 6) for e in borrowed.quiet_errors)
        )
    if record.idle is None and borrowed.quiet_level is not None:
        record = before_first_quiet(record, s, borrowed.quiet_level)
    fitted = residuals[~censored]
    error = _finite(float(np.mean(np.abs(fitted)))) if len(fitted) else None
    result = VariantResult(variant, pooled.NAME, error, None, None, None, len(residuals), {})
    return result, record


def _too_short(s: Series, borrowed: Mapping[str, pooled.Borrowed] | None) -> SeriesResult:
    """Too few runs for any backtest, or too few to race the host's shapes: the shapes where
    the host has them, else the runs' median (with calibration borrowed later). Shapes alone
    are a model where the series' own runs are enough for a conformal rank, as a race's
    residuals are: a plugin with 20 runs answered by its host's shape is not `limited`."""
    median = _typical(s)
    results = [VariantResult("base", "rolling_median", None, None, None, None, 0, {})]
    variants = {"base": median}
    for name, shape in (borrowed or {}).items():
        result, variants[name] = _borrowed_variant(s, name, shape)
        results = [r for r in results if r.variant != name] + [result]
    shaped = set(variants) <= set(borrowed or ()) and s.n >= conformal.min_residuals(LEVEL)
    record = series_record(s, variants, "model" if shaped else "limited")
    if pooled.only_checked(s):  # its checks bound no run with work
        record = record._replace(cap=pooled.checked_cap(s, borrowed or {}))
    return SeriesResult(results, {}, record)


def _typical(s: Series) -> Variant:
    """A series too short for anything else: the median of its runs, its spread calibrated
    later (or the wide spread of a series with none, `serving.predictive`). A download whose
    runs fetched something and nothing answers at the median of what came, its wide spread's
    lowest stand-ins nothing in the share its runs fetched nothing: the median of 0 B and
    38 MB on the log scale, 6 kB, read a new user's apt as 6.2 kB [0 B, 21 kB], a size it
    never fetched, and a run's total as a few kilobytes where half its draws fetch nothing
    and the rest tens of megabytes."""
    sized = s.y[s.y > 0] if s.metric == pooled.SIZE else s.y
    if len(sized) in (0, s.n):
        return Variant.constant("rolling_median", float(np.median(s.y)))
    spread = wide_spread(-WIDE, WIDE)
    nothing = max(1, round(len(spread) * (1 - len(sized) / s.n)))
    return Variant.constant(
        "rolling_median",
        float(np.median(sized)),
        residuals=spread,
        censored=[False] * len(spread),
        runs=[None] * len(spread),
    )._replace(zeros=list(range(nothing)))


def _fit(by_name: dict[str, Candidate], name: str, y: np.ndarray, x: np.ndarray) -> Fitted:
    """Fit the winner on the whole series; a failure falls back to the rolling median."""
    try:
        return by_name[name].fit(y, x)
    except Exception as exc:
        log.info("final fit failed, using rolling median", model=name, error=str(exc)[:200])
        return by_name["rolling_median"].fit(y, x)


def _finite(value: float | None) -> float | None:
    """Scores for JSON: an all-censored backtest has no MAE, not an infinite one."""
    return None if value is None or not math.isfinite(value) else round(value, 5)
