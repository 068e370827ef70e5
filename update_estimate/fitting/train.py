"""`train`: fit, select and calibrate every series, then publish a new cache generation.

Flow: history -> series (`features`) -> the global model per (host, metric, phase)
(`global_model`) -> per series, in parallel (`parallel`): the candidates' race, the winner's
calibration, its final fit and the forecast record over the covariate grid
(`series_training`) -> borrowed calibration for short series (`calibration`) -> cache
(manifest, records, pickles). Nothing is refitted when the history's fingerprint and the
options are unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from update_estimate import __version__, logs
from update_estimate.fitting import parallel, pooled
from update_estimate.fitting.calibration import borrow_calibration
from update_estimate.fitting.candidates import candidates
from update_estimate.fitting.features import Series, build_series
from update_estimate.fitting.global_model import GlobalForecast, global_forecasts
from update_estimate.fitting.series_training import SeriesResult, train_series
from update_estimate.history import reader as history
from update_estimate.record import METRICS, Records
from update_estimate.requests import TrainRequest
from update_estimate.serving import cache

log = logs.get("train")


@dataclass(frozen=True)
class TrainResult:
    series: list[SeriesResult]
    missing_extras: list[str]
    unchanged: bool
    cache_path: Path | None
    seconds: float
    fingerprint: dict[str, Any]


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
        job = partial(_series_job, globals_, shapes, include_extras)
        results = parallel.each(
            job, series, request.n_jobs, progress, None, request.engine, request.scheduler
        )
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


def _series_job(
    globals_: dict[str, GlobalForecast],
    shapes: dict[str, dict[str, pooled.Borrowed]],
    include_extras: bool,
    s: Series,
) -> SeriesResult:
    return train_series(s, globals_.get(s.key), include_extras, None, shapes.get(s.key))
