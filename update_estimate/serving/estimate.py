"""The whole answer of `estimate`, with the standard library only: every requested plugin's
estimate, the totals of those not done, and during a run what remains and when it ends."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from update_estimate.record import METRICS, SeriesRecord, series_key
from update_estimate.requests import EstimateRequest
from update_estimate.serving.predictive import (
    MetricEstimate,
    Predictive,
    SlowPath,
    default_predictive,
    predictive,
    report_warning,
    single,
)
from update_estimate.serving.remaining import Remaining, remaining
from update_estimate.serving.totals import total


@dataclass(frozen=True)
class PluginEstimate:
    plugin: str
    metrics: dict[str, MetricEstimate]
    used_covariates: bool = False
    state: str = "pending"  # during a run: done, running or pending


@dataclass
class EstimateResult:
    level: float
    host: str | None
    source: str
    plugins: list[PluginEstimate]
    total: dict[str, MetricEstimate]
    remaining: Remaining | None = None
    finish: Finish | None = None
    warnings: list[str] = field(default_factory=list)
    parallel: bool = False


@dataclass(frozen=True)
class Finish:
    """When the run should end on the clock (naive local time, like the history)."""

    point: datetime
    lower: datetime
    upper: datetime


def finish(clock: datetime, seconds: MetricEstimate) -> Finish:
    return Finish(
        clock + timedelta(seconds=seconds.point),
        clock + timedelta(seconds=seconds.lower),
        clock + timedelta(seconds=seconds.upper),
    )


def _state(plugin: str, request: EstimateRequest) -> str:
    if plugin in request.done:
        return "done"
    return "running" if plugin == request.running else "pending"


def estimate(
    records: Mapping[str, SeriesRecord],
    host: str | None,
    request: EstimateRequest,
    source: str,
    slow_path: SlowPath | None = None,
) -> EstimateResult:
    """Estimates for every requested plugin, totals of those not done, remaining time."""
    at = request.at or datetime.now()
    per_metric: dict[str, dict[str, Predictive]] = {m: {} for m in METRICS}
    used: dict[str, bool] = {}
    notes: list[str] = []
    for plugin in request.plugins:
        for metric in METRICS:
            record = records.get(series_key(host, plugin, metric)) if host else None
            if record is None:
                continue
            reported = request.covariates.get(plugin)
            p, used_reports = predictive(record, at, reported, slow_path)
            per_metric[metric][plugin] = p
            used[plugin] = used.get(plugin, False) or used_reports
            if reported is not None and metric == "wall_clock_seconds":
                note = report_warning(plugin, record, reported, used_reports)
                notes.extend([note] if note else [])
    for metric in METRICS:
        known = list(per_metric[metric].values())
        for plugin in request.plugins:
            if plugin not in per_metric[metric]:
                per_metric[metric][plugin] = default_predictive(metric, known)
    plugins = [
        PluginEstimate(
            plugin,
            {m: single(per_metric[m][plugin], request.level) for m in METRICS},
            used.get(plugin, False),
            _state(plugin, request),
        )
        for plugin in request.plugins
    ]
    pending = [p for p in request.plugins if p not in request.done]
    totals = {
        m: total(m, [per_metric[m][p] for p in pending], request.level, request.parallel)
        for m in METRICS
    }
    result = EstimateResult(
        request.level, host, source, plugins, totals, warnings=notes, parallel=request.parallel
    )
    if not (request.done or request.running):
        result.finish = finish(at, totals["wall_clock_seconds"])
        return result
    _during_run(result, request, per_metric["wall_clock_seconds"], pending, at)
    return result


def _during_run(
    result: EstimateResult,
    request: EstimateRequest,
    wall: Mapping[str, Predictive],
    pending: Sequence[str],
    at: datetime,
) -> None:
    """What remains of a run under way, when it should end, and why an answer turned limited."""
    running = wall.get(request.running) if request.running else None
    others = [wall[p] for p in pending if p != request.running]
    left, overrun = remaining(running, others, request.elapsed, request.level)
    upper = single(running, request.level).upper if running is not None else math.inf
    overdue = request.elapsed > upper
    result.remaining = Remaining(
        list(request.done), request.running, request.elapsed, left, overdue
    )
    result.finish = finish(max(request.now or datetime.now(), at), left)
    ran = f"{request.running} has run {request.elapsed:.0f} s"
    if overdue:
        result.warnings.append(
            f"{ran}, past the upper end of its {request.level:.0%} interval ({upper:.0f} s): "
            "slow or stuck; its remaining time is conditioned on having run that long"
            + (", scaled from its slowest past runs" if overrun else "")
        )
    elif overrun or (
        left.basis == "limited" and {p.basis for p in (running, *others) if p} == {"model"}
    ):
        result.warnings.append(
            f"{ran}, longer than all but a few of its past runs: too few for a calibrated "
            "interval of the remaining time (basis limited)"
        )
