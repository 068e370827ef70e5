"""`train`: fit, select and calibrate every series, then publish a new cache generation.

Flow, one batch of hosts at a time so that a fleet's history is never all in memory:
history -> series (`features`) -> the global model per (host, metric, phase) (`global_model`)
-> per series (`series_training`): the candidates' race, the winner's calibration, its final
fit and the forecast record over the covariate grid -> borrowed calibration for short series
(`calibration`) -> the staging cache generation (pickles as they come). Global models and
series both run on the pool (`parallel`). Then manifest and records, and the swap. Nothing
is refitted when the history's fingerprint and the options are unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from update_estimate import __version__, logs
from update_estimate.fitting import parallel, pooled
from update_estimate.fitting.calibration import borrow_calibration
from update_estimate.fitting.candidates import candidates
from update_estimate.fitting.features import Series, build_series
from update_estimate.fitting.global_model import GlobalForecast, global_forecasts, groups
from update_estimate.fitting.record_builder import run_days
from update_estimate.fitting.series_training import SeriesResult, train_series
from update_estimate.fitting.stretch import stretches
from update_estimate.history import reader as history
from update_estimate.record import METRICS, Records, Stretch
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


PAIRS_PER_READ = 64  # (host, plugin) pairs read and trained together: memory stays bounded


def host_batches(
    plugins_by_host: dict[str, list[str]],
    hosts: Sequence[str] | None,
    plugins: Sequence[str] | None,
    pairs: int,
) -> list[list[str]]:
    """The requested hosts in reads of about `pairs` (host, plugin) pairs each, so that a fleet's
    history is never all in memory, and each read still gives the pool enough series."""
    batches: list[list[str]] = [[]]
    size = 0
    for host in sorted(plugins_by_host):
        if hosts and host not in hosts:
            continue
        wanted = [p for p in plugins_by_host[host] if not plugins or p in plugins]
        if not wanted:
            continue
        if size >= pairs:
            batches.append([])
            size = 0
        batches[-1].append(host)
        size += len(wanted)
    return [b for b in batches if b]


def train(request: TrainRequest, progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train every series of the request's history into a new cache generation, unless the
    history and the options are those of the current one. `progress(done, total)`."""
    started = time.monotonic()
    db, cache_dir, plugins, hosts = request.db, request.cache_dir, request.plugins, request.hosts
    options = _options(plugins, hosts, request.phases, request.include_extras)
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
        plugins_by_host = history.read_catalogue(db)
        batches = host_batches(plugins_by_host, hosts, plugins, PAIRS_PER_READ)
        _, missing = candidates(request.include_extras)
        for extra in missing:
            log.info("candidate skipped: optional extra not installed", extra=extra)
        with cache.staging(cache_dir) as stage:
            results, days, stretch = _train_batches(request, batches, stage, progress)
            manifest = {
                "tool_version": __version__,
                "libraries": library_versions(),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "history": {"path": str(db.resolve()), **_history_stat(db)},
                "fingerprint": fingerprint,
                "options": options,
                "missing_extras": missing,
                "series": {r.key: _manifest_entry(r) for r in results},
            }
            records = Records({}, plugins_by_host, days, stretch)  # series: added as they came
            path = stage.publish(manifest, records)
    return TrainResult(results, missing, False, path, time.monotonic() - started, fingerprint)


def _train_batches(
    request: TrainRequest,
    batches: list[list[str]],
    stage: cache.Staging,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[SeriesResult], dict[str, dict[int, str]], dict[str, Stretch]]:
    """Each batch of hosts read, its global models fitted, then its series, on the pool. The
    models and records go to the staging generation as they come; results keep only what the
    summary shows. Also, per host, the day of each past run the records name and each
    parallel run's stretch."""
    engine = (request.engine, request.scheduler)
    results: list[SeriesResult] = []
    days: dict[str, dict[int, str]] = {}
    stretch: dict[str, Stretch] = {}
    hosts_done = 0
    for i, batch in enumerate(batches):
        try:
            hist = history.read(request.db, hosts=batch, plugins=request.plugins)
        except history.NoData:
            continue  # only crashed executions on these hosts
        series = build_series(hist.executions, hist.phases if request.phases else None, METRICS)
        stretch.update(stretches(hist.executions, hist.phases))
        del hist
        globals_: dict[str, GlobalForecast] = {}
        for forecasts in parallel.each(
            global_forecasts, groups(series), request.n_jobs, None, None, *engine
        ):
            globals_.update(forecasts)
        shapes = borrowed_shapes(series)
        # each task carries only its own series' global forecast and shapes: the batch's
        # would be shipped whole with every task
        items = [SeriesJob(s, globals_.get(s.key), shapes.get(s.key)) for s in series]
        job = partial(_series_job, request.include_extras)
        hosts_done += len(batch)
        # the total is known once every batch is read; until then, later hosts are guessed
        # to have as many series per host as those read so far
        later = sum(len(b) for b in batches[i + 1 :])
        guess = round((len(results) + len(series)) / hosts_done * later)
        total = len(results) + len(series) + guess
        finished = parallel.each(
            job, items, request.n_jobs, progress, (len(results), total), *engine
        )
        borrow_calibration(finished)
        days.update(run_days(series, [r.record for r in finished]))
        for r in finished:
            stage.add(r.pickles, {r.key: r.record})
            # what the summary shows stays; the models and forecasts are on disk
            results.append(replace(r, pickles={}, record=r.record._replace(variants={})))
    if not results:  # nothing to train: the error names what was asked for
        history.read(request.db, hosts=request.hosts, plugins=request.plugins)
    results.sort(key=lambda r: r.key)
    return results, days, stretch


def _previous(cache_dir: Path) -> cache.Generation | None:
    try:
        generation = cache.current(cache_dir)
        if generation is not None:
            generation.manifest  # noqa: B018 - read now: an unreadable one means retraining
        return generation
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


class SeriesJob(NamedTuple):
    """One series' work, with what it borrows from its host."""

    series: Series
    global_forecast: GlobalForecast | None
    shapes: dict[str, pooled.Borrowed] | None


def _series_job(include_extras: bool, job: SeriesJob) -> SeriesResult:
    return train_series(job.series, job.global_forecast, include_extras, None, job.shapes)
