"""`train`: fit, select and calibrate every series, then publish a new cache generation.

Flow: history -> series (features) -> global model per (host, metric, phase) -> per series, in
parallel: backtests of every candidate, choice, conformal residuals, final fit, forecast record
over the covariate grid -> borrowed calibration for short series -> cache (manifest, records,
pickles). Nothing is refitted when the history's fingerprint and the options are unchanged.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from update_estimate import __version__, logs
from update_estimate.fitting import grid, idle, pooled, spread
from update_estimate.fitting.candidates import (
    BASELINES,
    Backtest,
    Candidate,
    Fitted,
    candidates,
    one_step,
    predict_next,
    quiet_libraries,
    to_series,
)
from update_estimate.fitting.features import Series, build_series, plausible_cap
from update_estimate.fitting.race import (
    Scored,
    backtest_start,
    choose,
    clean_for_fit,
    rolling_coverage,
    run,
)
from update_estimate.history import reader as history
from update_estimate.record import METRICS, Axis, Idle, Records, SeriesRecord, Spread, Variant
from update_estimate.requests import TrainRequest
from update_estimate.serving import cache, conformal

GLOBAL_LAGS = 3
BORROW_WIDEN = 1.25
PHASE_SKIPS = ("auto_arima", "auto_theta")  # per-phase series: the cheaper candidates suffice
LEVEL = 0.9

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
    key: str
    host: str
    plugin: str
    metric: str
    phase: str | None
    data_points: int
    basis: str
    variants: list[VariantResult]
    failures: dict[str, str]
    record: SeriesRecord
    pickles: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainResult:
    series: list[SeriesResult]
    missing_extras: list[str]
    unchanged: bool
    cache_path: Path | None
    seconds: float
    fingerprint: dict[str, Any]


@dataclass(frozen=True)
class GlobalForecast:
    """The global model's out-of-sample backtest and grid predictions for one series."""

    name: str
    start: int
    predictions: np.ndarray
    grids: dict[str, np.ndarray]
    model: Any


def _dump(obj: Any) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def pickle_name(key: str, variant: str) -> str:
    return f"{hashlib.sha1(key.encode()).hexdigest()[:16]}-{variant}.pkl"


# --- the global model, fitted across a host's plugins -------------------------------------------


def _global_factory() -> tuple[str, Callable[[], Any]]:
    from update_estimate.fitting.candidates import _available, lightgbm_model

    if _available("lightgbm", "LGBMRegressor"):
        return "global_lightgbm", lambda: lightgbm_model(
            lags=GLOBAL_LAGS, trees=80, leaves=15, min_leaf=10
        )
    from darts.models import LinearRegressionModel

    return "global_linear", lambda: LinearRegressionModel(
        lags=GLOBAL_LAGS, lags_future_covariates=[0]
    )


def global_forecasts(series: Sequence[Series]) -> dict[str, GlobalForecast]:
    """Per (host, metric, phase), one model across plugins: short series borrow strength.

    Backtests are out of sample: the model is fitted on each series' runs before its backtest
    start, then forecasts those runs one step at a time without refitting.
    """
    quiet_libraries()
    name, factory = _global_factory()
    groups: dict[tuple, list[Series]] = defaultdict(list)
    for s in series:
        if s.n >= GLOBAL_LAGS + 2:
            groups[(s.host, s.metric, s.phase)].append(s)
    out: dict[str, GlobalForecast] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        try:
            out.update(_global_group(name, factory, members))
        except Exception as exc:
            log.info("global model skipped", group=members[0].key, error=str(exc)[:200])
    return out


def _global_group(
    name: str,
    factory: Callable[[], Any],
    members: list[Series],
) -> dict[str, GlobalForecast]:
    starts = {s.key: max(backtest_start(s.n), GLOBAL_LAGS + 1) for s in members}
    designs = {s.key: grid.design(s, "base") for s in members}
    train = [s for s in members if starts[s.key] > GLOBAL_LAGS + 1]
    model = factory()
    model.fit(
        [to_series(s.y[: starts[s.key]]) for s in train],
        future_covariates=[to_series(designs[s.key][: starts[s.key]]) for s in train],
    )
    backtests = {s.key: one_step(model, s.y, starts[s.key], False, designs[s.key]) for s in members}
    final = factory()
    final.fit(
        [to_series(s.y) for s in members],
        future_covariates=[to_series(designs[s.key]) for s in members],
    )
    out = {}
    for s in members:
        target = to_series(s.y)
        grids = {
            variant: predict_next(
                final,
                target,
                designs[s.key],
                grid.base_columns(grid.build(s, variant).rows, variant),
            )
            for variant in grid.variants(s)
        }
        out[s.key] = GlobalForecast(name, starts[s.key], backtests[s.key], grids, final)
    return out


# --- one series ----------------------------------------------------------------------------------


def _variant_record(
    s: Series,
    chosen: str,
    residuals: np.ndarray,
    censored: np.ndarray,
    start: int,
    predictions: np.ndarray,
    g: grid.Grid,
    centres: np.ndarray,
    usable: np.ndarray,
    variant: str,
) -> Variant:
    points, weekday, hour = g.split(predictions)
    rate = spread.slope(centres, residuals, usable)
    constant = bool(np.ptp(predictions) < 1e-9)
    reported = s.covariates[start:, 1 : len(g.axes)]
    return Variant(
        model=chosen,
        axes=[] if constant else [Axis(name, list(values)) for name, values in g.axes],
        points=[points[0]] if constant else points,
        weekday=None if constant else weekday,
        hour=None if constant else hour,
        residuals=[round(float(r), 6) for r in residuals],
        censored=[bool(c) for c in censored],
        runs=list(s.run_numbers[start:]),
        zeros=[int(i) for i in np.flatnonzero(s.y[start:] == 0)],
        quiet=[int(i) for i in np.flatnonzero((reported == 0).all(axis=1))]
        if reported.shape[1]
        else [],
        typical=_typical_reports(s, [name for name, _ in g.axes[1:]]),
        spread=Spread(round(rate, 6), [round(float(c), 6) for c in centres]) if rate else None,
        idle=_idle(s, start) if variant == "base" else None,
        borrowed=False,
    )


def _idle(s: Series, start: int) -> Idle | None:
    """Before the run, only the gap says whether it will have anything to do (`idle`): the
    chance of work fitted on every run, and which residuals came from quiet runs, with their
    values: a quiet run's size owes nothing to the gap that moves the model's centre.

    Not for downloads, whose quiet runs are zeros the calibration already replays: weighed by
    the chance, a re-run an hour later was given [0 B, 0 B] and every download it made was
    a miss (interval score 1.01 -> 1.20 of the truth's in `steady`)."""
    if s.idle is None or s.metric == "download_bytes":
        return None
    odds = idle.fit(s.covariates[:, 0], s.idle)
    quiet = np.flatnonzero(s.idle[start:])
    if odds is None or min(len(quiet), s.n - start - len(quiet)) < idle.MIN_KIND:
        return None
    values = s.y[start:][quiet]
    return Idle([int(i) for i in quiet], [round(float(v), 6) for v in values], odds)


def _typical_reports(s: Series, names: list[str]) -> dict[str, float]:
    """Per reported quantity, its median over the runs that reported some work: what a
    partial report (a package count without a size) stands in for the missing one."""
    out = {}
    for i, name in enumerate(names, start=1):
        raw = np.expm1(s.covariates[:, i])
        work = raw[raw > 0]
        out[name] = round(float(np.median(work)), 3) if len(work) else 0.0
    return out


REPORTS_SUFFIX = "+reports"


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
    pool, _ = candidates(include_extras)
    if s.phase is not None:
        pool = [c for c in pool if c.name not in PHASE_SKIPS]
    if only is not None:
        pool = [c for c in pool if c.name in only or c.name in BASELINES]
    by_name: dict[str, Candidate] = {c.name: c for c in pool}
    cleaned = clean_for_fit(s.y, s.outlier)
    start = backtest_start(s.n)
    if start >= s.n or set(grid.variants(s)) <= set(borrowed or ()):
        return _too_short(s, borrowed)
    designs = {v: grid.design(s, v) for v in grid.variants(s)}
    local = [c for c in pool if not c.uses_covariates]
    covariate = [c for c in pool if c.uses_covariates]
    backtests, failures = run(local, cleaned, designs["base"], start)
    base_cov, failed = run(covariate, s.y, designs["base"], start)
    backtests.update(base_cov)
    failures.update(failed)
    if global_forecast is not None and global_forecast.start == start:
        backtests[global_forecast.name] = Backtest(global_forecast.predictions)
    variants: dict[str, Variant] = {}
    results, pickles = [], {}
    censored = s.censored[start:]
    usable = ~censored & (s.y[start:] > 0)  # runs whose error size a spread slope may learn
    baseline = backtests.get("rolling_median")
    baseline_coverage = (
        rolling_coverage(s.y[start:] - baseline.forecasts, censored, LEVEL)
        if baseline is not None
        else None
    )
    # winner -> its calibration: both variants' races may pick it
    refreshed: dict[str, Calibration] = {}
    for variant in designs:
        if borrowed and variant in borrowed:
            result, variants[variant] = _borrowed_variant(s, variant, borrowed[variant])
            results.append(result)
            continue
        if variant == "reports":
            with_reports, failed = run(covariate, s.y, designs["reports"], start)
            failures.update({k + REPORTS_SUFFIX: v for k, v in failed.items()})
            backtests = {
                **backtests,
                **{k + REPORTS_SUFFIX: v for k, v in with_reports.items()},
            }
        best, scores = choose(s.y, s.censored, start, backtests)
        if best.name not in refreshed:
            refreshed[best.name] = _calibration(s, by_name, cleaned, designs, start, best)
        g = grid.build(s, variant)
        design, kind, y_fit = _role(s, by_name, cleaned, best.name)
        if kind is not None:
            rows = g.rows if design == variant else grid.base_columns(g.rows, variant)
            fitted = _fit(by_name, kind.name, y_fit, designs[design])
            predictions = fitted.predict(rows)
            chosen, model = fitted.name, fitted.model
            uses, calendar = by_name[chosen].uses_covariates, by_name[chosen].calendar
        else:
            assert global_forecast is not None
            predictions = global_forecast.grids[variant]
            chosen, model = global_forecast.name, global_forecast.model
            uses, calendar = True, True
        pickle: str | None = None
        if chosen not in BASELINES:
            pickle = pickle_name(s.key, variant)
            pickles[pickle] = _dump(
                {
                    "candidate": chosen,
                    "model": model,
                    "y": y_fit,
                    "x": designs[design],
                    "covariates": uses,
                    "calendar": calendar,
                    "design": design,
                }
            )
        centres, residuals, coverage = (
            refreshed[best.name].centres,
            refreshed[best.name].residuals,
            refreshed[best.name].coverage,
        )
        results.append(
            VariantResult(
                variant=variant,
                model=best.name,
                mae=_finite(best.mae),
                baseline_mae=_finite(scores.get("rolling_median")),
                coverage=coverage,
                baseline_coverage=baseline_coverage,
                residuals=len(residuals),
                scores={k: _finite(v) for k, v in scores.items()},
                pickle=pickle,
            )
        )
        variants[variant] = _variant_record(
            s, best.name, residuals, censored, start, predictions, g, centres, usable, variant
        )
    calibrated = len(s.y) - start >= conformal.min_residuals(LEVEL)
    basis = "model" if calibrated else "limited"
    return SeriesResult(
        key=s.key,
        host=s.host,
        plugin=s.plugin,
        metric=s.metric,
        phase=s.phase,
        data_points=s.n,
        basis=basis,
        variants=results,
        failures=failures,
        record=_record(s, variants, basis),
        pickles=pickles,
    )


@dataclass(frozen=True)
class Calibration:
    """A candidate's one-step forecasts refitted at every origin, the residuals they leave,
    and how often the intervals served from them would have held the run, one at a time."""

    centres: np.ndarray
    residuals: np.ndarray
    coverage: float | None


def _role(
    s: Series, by_name: Mapping[str, Candidate], cleaned: np.ndarray, name: str
) -> tuple[str, Candidate | None, np.ndarray]:
    """The design a raced name was fed, its candidate (None: the global model) and its
    target: models without covariates fit the series with outliers cleaned away."""
    design = "reports" if name.endswith(REPORTS_SUFFIX) else "base"
    kind = by_name.get(name.removesuffix(REPORTS_SUFFIX))
    return design, kind, cleaned if kind is not None and not kind.uses_covariates else s.y


def _calibration(
    s: Series,
    by_name: Mapping[str, Candidate],
    cleaned: np.ndarray,
    designs: Mapping[str, np.ndarray],
    start: int,
    raced: Scored,
) -> Calibration:
    design, kind, y_fit = _role(s, by_name, cleaned, raced.name)
    fresh = _every_origin(kind, raced.backtest, y_fit, designs[design], start)
    centres = fresh.forecasts
    residuals = _as_final_fit(fresh, s.y[start:] - centres)
    censored = s.censored[start:]
    usable = ~censored & (s.y[start:] > 0)
    return Calibration(
        centres, residuals, rolling_coverage(residuals, censored, LEVEL, (centres, usable))
    )


def _borrowed_variant(
    s: Series, variant: str, borrowed: pooled.Borrowed
) -> tuple[VariantResult, Variant]:
    """A short series' variant from its host's shape, calibrated on its own runs, each
    forecast by a fit that left it out."""
    centres = borrowed.centres
    residuals = s.y - centres
    censored = s.censored
    usable = ~censored & (s.y > 0)
    g = grid.build(s, variant)
    record = _variant_record(
        s, pooled.NAME, residuals, censored, 0, borrowed.predictions, g, centres, usable, variant
    )
    fitted = residuals[~censored]
    error = _finite(float(np.mean(np.abs(fitted)))) if len(fitted) else None
    result = VariantResult(variant, pooled.NAME, error, None, None, None, len(residuals), {})
    return result, record


def _every_origin(
    kind: Candidate | None, raced: Backtest, y_fit: np.ndarray, x: np.ndarray, start: int
) -> Backtest:
    """The winner's backtest refitted at every origin, as its final fit is fresh.

    The race refits some candidates only every few runs (cheaper); residuals of such stale fits
    are wider than the final model's errors, and intervals calibrated on them over-cover.
    """
    if kind is None or kind.retrain <= 1:
        return raced
    fresh, failed = run([kind], y_fit, x, start, retrain=1)
    if failed:
        log.info("calibration refit failed, using the race's forecasts", failures=failed)
    return fresh.get(kind.name, raced)


def _as_final_fit(backtest: Backtest, residuals: np.ndarray) -> np.ndarray:
    """Residuals scaled to the error of the final fit, which saw more runs than any backtest fit
    and which the calibration serves; as they are for models whose learning curve is unknown."""
    if backtest.inflation is None:
        return residuals
    return residuals * np.sqrt(backtest.inflation[-1] / backtest.inflation[:-1])


def _record(s: Series, variants: dict[str, Variant], basis: str) -> SeriesRecord:
    return SeriesRecord(
        host=s.host,
        plugin=s.plugin,
        metric=s.metric,
        phase=s.phase,
        data_points=s.n,
        last_success=s.last_success,
        cap=plausible_cap(s.y),
        basis=basis,
        variants=variants,
    )


def _too_short(s: Series, borrowed: Mapping[str, pooled.Borrowed] | None) -> SeriesResult:
    """Too few runs for any backtest, or too few to race the host's shapes: the shapes where
    the host has them, else the runs' median (with calibration borrowed later)."""
    median = Variant(
        model="rolling_median",
        axes=[],
        points=[float(np.median(s.y))],
        weekday=None,
        hour=None,
        residuals=[],
        censored=[],
        runs=[],
        zeros=[],
        quiet=[],
        typical={},
        spread=None,
        idle=None,
        borrowed=False,
    )
    results = [VariantResult("base", "rolling_median", None, None, None, None, 0, {})]
    variants = {"base": median}
    for name, shape in (borrowed or {}).items():
        result, variants[name] = _borrowed_variant(s, name, shape)
        results = [r for r in results if r.variant != name] + [result]
    return SeriesResult(
        s.key,
        s.host,
        s.plugin,
        s.metric,
        s.phase,
        s.n,
        "limited",
        results,
        {},
        _record(s, variants, "limited"),
    )


def _fit(by_name: dict[str, Candidate], name: str, y: np.ndarray, x: np.ndarray) -> Fitted:
    """Fit the winner on the whole series; a failure falls back to the rolling median."""
    try:
        return by_name[name].fit(y, x)
    except Exception as exc:
        log.info("final fit failed, using rolling median", model=name, error=str(exc)[:200])
        return by_name["rolling_median"].fit(y, x)


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
        r.record = replace(r.record, variants=variants)


def library_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for name in ("darts", "statsforecast", "numpy", "pandas", "duckdb", "lightgbm", "joblib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _options(
    plugins: Sequence[str] | None, hosts: Sequence[str] | None, phases: bool, extras: bool
) -> dict[str, Any]:
    return {
        "plugins": sorted(plugins) if plugins else None,
        "hosts": sorted(hosts) if hosts else None,
        "phases": phases,
        "extras": extras,
    }


def _history_stat(db: Path) -> dict[str, float]:
    info = db.stat()
    return {"mtime": info.st_mtime, "size": info.st_size}


def train(request: TrainRequest, progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train every series of the request's history into a new cache generation, unless the
    history and the options are those of the current one. `progress(done, total)`."""
    started = time.monotonic()
    db, cache_dir, plugins, hosts = request.db, request.cache_dir, request.plugins, request.hosts
    phases, include_extras = request.phases, request.include_extras
    options = _options(plugins, hosts, phases, include_extras)
    with cache.lock(cache_dir, request.lock_timeout):
        fingerprint = history.read_fingerprint(db)
        previous = _previous(cache_dir)
        if (
            not request.force
            and previous is not None
            and previous.manifest.get("fingerprint") == fingerprint
            and previous.manifest.get("options") == options
            and previous.manifest.get("tool_version") == __version__
        ):
            return TrainResult([], [], True, previous.path, time.monotonic() - started, fingerprint)
        hist = history.read(db, hosts=hosts, plugins=plugins)
        series = build_series(hist.executions, hist.phases if phases else None, METRICS)
        _, missing = candidates(include_extras)
        for extra in missing:
            log.info("candidate skipped: optional extra not installed", extra=extra)
        globals_ = global_forecasts(series)
        shapes = borrowed_shapes(series)
        results = _run_parallel(series, globals_, shapes, include_extras, request.n_jobs, progress)
        results.sort(key=lambda r: r.key)
        borrow_calibration(results)
        manifest = {
            "tool_version": __version__,
            "libraries": library_versions(),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "history": {"path": str(db.resolve()), **_history_stat(db)},
            "fingerprint": hist.fingerprint,
            "options": options,
            "missing_extras": missing,
            "series": {r.key: _manifest_entry(r) for r in results},
        }
        records = Records({r.key: r.record for r in results}, hist.plugins_by_host)
        pickles = {name: data for r in results for name, data in r.pickles.items()}
        path = cache.publish(cache_dir, manifest, records, pickles)
    return TrainResult(results, missing, False, path, time.monotonic() - started, hist.fingerprint)


def _previous(cache_dir: Path) -> cache.Generation | None:
    try:
        return cache.current(cache_dir)
    except cache.CacheUnusable as exc:
        log.warning("previous cache unusable, retraining", reason=str(exc))
        return None


def _finite(value: float | None) -> float | None:
    """Scores for JSON: an all-censored backtest has no MAE, not an infinite one."""
    return None if value is None or not math.isfinite(value) else round(value, 5)


def _manifest_entry(r: SeriesResult) -> dict[str, Any]:
    return {
        "data_points": r.data_points,
        "basis": r.basis,
        "variants": {
            v.variant: {
                "model": v.model,
                "mae": v.mae,
                "baseline_mae": v.baseline_mae,
                "coverage": v.coverage,
                "baseline_coverage": v.baseline_coverage,
                "residuals": v.residuals,
                "scores": v.scores,
                "pickle": v.pickle,
            }
            for v in r.variants
        },
        "failures": r.failures,
    }


def borrowed_shapes(series: Sequence[Series]) -> dict[str, dict[str, pooled.Borrowed]]:
    """Per short series, its host's shape per variant (`pooled`), where the host has one."""
    return {s.key: pooled.borrow_all(s, series) for s in series if pooled.wanted(s)}


def _run_parallel(
    series: list[Series],
    globals_: dict[str, GlobalForecast],
    shapes: dict[str, dict[str, pooled.Borrowed]],
    include_extras: bool,
    n_jobs: int,
    progress: Callable[[int, int], None] | None,
) -> list[SeriesResult]:
    total = len(series)
    results: list[SeriesResult] = []
    if n_jobs == 1:
        outputs: Any = (
            train_series(s, globals_.get(s.key), include_extras, None, shapes.get(s.key))
            for s in series
        )
    else:
        from joblib import Parallel, delayed

        outputs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(train_series)(s, globals_.get(s.key), include_extras, None, shapes.get(s.key))
            for s in series
        )
    for result in outputs:
        results.append(result)
        if progress is not None:
            progress(len(results), total)
    return results
