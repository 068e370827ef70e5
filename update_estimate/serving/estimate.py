"""The whole answer of `estimate`, with the standard library only: every requested plugin's
estimate, the totals of those not done, and during a run what remains and when it ends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from update_estimate import schedule
from update_estimate.hints import did_you_mean
from update_estimate.record import METRICS, SeriesRecord, Stretch, series_key
from update_estimate.requests import EstimateRequest, percent
from update_estimate.serving import makespan
from update_estimate.serving.memo import Memo
from update_estimate.serving.predictive import (
    AskModel,
    MetricEstimate,
    Predictive,
    default_predictive,
    predictive,
    report_warning,
    reported_size,
    shared_single,
    unsized,
)
from update_estimate.serving.remaining import Remaining, remaining, running_alone
from update_estimate.serving.totals import Replay, coherent, total, total_replay


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
    jobs: int = 1  # plugins at once: above 1, wall time and memory totals are a schedule's
    # each total's value in each past run replayed (before a run): several hosts' batch
    # totals are combined from them (`batch`)
    replays: dict[str, Replay] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Finish:
    """When the run should end on the clock (naive local time, like the history)."""

    point: datetime
    lower: datetime
    upper: datetime


# Further than any clock shows: a bound beyond it is written as it (never an overflow).
FURTHEST = timedelta(days=3650)


def finish(clock: datetime, seconds: MetricEstimate) -> Finish:
    def after(s: float) -> datetime:
        return clock + timedelta(seconds=min(s, FURTHEST.total_seconds()))

    return Finish(after(seconds.point), after(seconds.lower), after(seconds.upper))


def _state(plugin: str, request: EstimateRequest) -> str:
    if plugin in request.done:
        return "done"
    return "running" if plugin == request.running else "pending"


def estimate(
    records: Mapping[str, SeriesRecord],
    host: str | None,
    request: EstimateRequest,
    source: str,
    slow_path: AskModel | None = None,
    memo: Memo | None = None,
    stretch: Stretch | None = None,
) -> EstimateResult:
    """Estimates for every requested plugin, totals of those not done, remaining time.
    `memo`: what an earlier answer from the same records may share with this one; `stretch`:
    the host's past parallel runs beyond their schedule (`makespan`)."""
    at = request.at or datetime.now()
    memo = memo or Memo()
    per_metric, used, notes = _predictives(records, host, request, at, slow_path, memo)
    level = request.level
    plugins = [
        PluginEstimate(
            plugin,
            {m: shared_single(per_metric[m][plugin], level, memo) for m in METRICS},
            used.get(plugin, False),
            _state(plugin, request),
        )
        for plugin in request.plugins
    ]
    pending = [p for p in request.plugins if p not in request.done]
    side_by_side: dict[str, MetricEstimate] = {}  # wall time and memory, run `jobs` at once
    replays: dict[str, Replay] = {}
    if request.jobs > 1 and pending:
        waited = makespan.shared_line(stretch)  # its whole times hold the waits
        walls = per_metric[makespan.WALL]
        shares = {
            p: _phase_shares(
                records, host, p, request, at, slow_path, memo, walls[p] if waited else None
            )
            for p in pending
        }
        locks = schedule.mutexes(request.mutexes)
        replays = makespan.replays(pending, per_metric, shares, request.jobs, locks, memo, stretch)
        side_by_side = makespan.totals(pending, per_metric, replays, level, memo)
    if pending and not request.running:
        for m in METRICS:
            if m not in replays:
                predictives = [per_metric[m][p] for p in pending]
                replays[m] = total_replay(m, predictives, request.parallel, memo)
    totals = {
        m: side_by_side.get(m)
        or total(m, [per_metric[m][p] for p in pending], level, request.parallel, memo)
        for m in METRICS
    }
    result = EstimateResult(
        request.level,
        host,
        source,
        plugins,
        totals,
        warnings=notes,
        parallel=request.parallel or request.jobs > 1,
        jobs=request.jobs,
        replays=replays,
    )
    if not (request.done or request.running):
        result.finish = finish(at, totals["wall_clock_seconds"])
        return result
    _during_run(result, request, per_metric["wall_clock_seconds"], pending, at, memo)
    return result


def _phase_shares(
    records: Mapping[str, SeriesRecord],
    host: str | None,
    plugin: str,
    request: EstimateRequest,
    at: datetime,
    slow_path: AskModel | None,
    memo: Memo,
    whole: Predictive | None,
) -> dict[str, float]:
    """How the plugin's wall time splits over its phases, from its per-phase series (shares
    of its `whole` time where that waited in parallel runs: `makespan.phase_shares`)."""
    phases = {}
    for phase in schedule.PHASES:
        record = records.get(series_key(host, plugin, makespan.WALL, phase)) if host else None
        if record is not None:
            reported = request.covariates.get(plugin)
            phases[phase] = record_predictive(record, at, reported, slow_path, memo)[0]
    return makespan.phase_shares(phases, whole)


def _predictives(
    records: Mapping[str, SeriesRecord],
    host: str | None,
    request: EstimateRequest,
    at: datetime,
    slow_path: AskModel | None,
    memo: Memo,
) -> tuple[dict[str, dict[str, Predictive]], dict[str, bool], list[str]]:
    """Per metric and plugin, its predictive (a default one without a record); which plugins'
    reports were used; what of the reports was not."""
    per_metric: dict[str, dict[str, Predictive]] = {m: {} for m in METRICS}
    used: dict[str, bool] = {}
    walls: dict[str, tuple[SeriesRecord, bool]] = {}
    for plugin in request.plugins:
        for metric in METRICS:
            record = records.get(series_key(host, plugin, metric)) if host else None
            reported = request.covariates.get(plugin)
            if record is None or unsized(record, reported):
                continue
            p, used_reports = record_predictive(record, at, reported, slow_path, memo)
            per_metric[metric][plugin] = p
            used[plugin] = used.get(plugin, False) or used_reports
            if metric == makespan.WALL:
                walls[plugin] = (record, used_reports)
    recorded_downloads = set(per_metric[makespan.DOWNLOAD])
    for metric in METRICS:
        known = list(per_metric[metric].values())
        for plugin in request.plugins:
            if plugin not in per_metric[metric]:
                size = reported_size(metric, request.covariates.get(plugin))
                used[plugin] = used.get(plugin, False) or size is not None
                per_metric[metric][plugin] = memo.get(
                    "default",
                    tuple(known),
                    (metric, size),
                    partial(default_predictive, metric, known, size),
                )
    notes: list[str] = []
    for plugin, (record, used_reports) in walls.items():
        reported = request.covariates.get(plugin)
        if reported is None:
            continue
        sized = plugin not in recorded_downloads and (
            reported_size(makespan.DOWNLOAD, reported) is not None
        )
        note = report_warning(plugin, record, reported, used_reports, sized)
        notes.extend([note] if note else [])
    notes.extend(
        f"{name}'s report was not used: {name} is not among the plugins estimated"
        + did_you_mean(name, list(request.plugins))
        for name in request.covariates
        if name not in request.plugins
    )
    return per_metric, used, notes


def record_predictive(
    record: SeriesRecord,
    at: datetime,
    reported: Mapping[str, float] | None,
    slow_path: AskModel | None,
    memo: Memo,
) -> tuple[Predictive, bool]:
    """The record's predictive, shared with earlier answers unless it asked a stored model
    (that answer depends on the time left, and warns when refused)."""
    extra = (at, None if reported is None else tuple(sorted(reported.items())))
    hit: tuple[Predictive, bool] | None = memo.peek("predictive", (record,), extra)
    if hit is not None:
        return hit
    asked: list[bool] = []

    def ask(rec: SeriesRecord, variant: str, values: Mapping[str, float]) -> float | None:
        asked.append(True)
        assert slow_path is not None
        return slow_path(rec, variant, values)

    answer = predictive(record, at, reported, ask if slow_path is not None else None)
    return answer if asked else memo.store("predictive", (record,), extra, answer)


def _during_run(
    result: EstimateResult,
    request: EstimateRequest,
    wall: Mapping[str, Predictive],
    pending: Sequence[str],
    at: datetime,
    memo: Memo,
) -> None:
    """What remains of a run under way, when it should end, and why an answer turned limited."""
    running = wall.get(request.running) if request.running else None
    others = [wall[p] for p in pending if p != request.running]
    left = remaining(running, others, request.elapsed, request.level, memo)
    own, whole = None, left.estimate
    if running is not None:
        own = running_alone(running, others, request.elapsed, request.level, memo)
        whole = coherent(whole, [own])
    result.remaining = Remaining(
        list(request.done), request.running, request.elapsed, whole, left.overdue, own
    )
    result.finish = finish(max(request.now or datetime.now(), at), whole)
    upper, overrun, overdue = left.upper, left.overrun, left.overdue
    ran = f"{request.running} has run {request.elapsed:.0f} s"
    if overdue:
        result.warnings.append(
            f"{ran}, past the upper end of its {percent(request.level)} interval ({upper:.0f} s): "
            "slow or stuck; its remaining time is conditioned on having run that long"
            + (", scaled from its slowest past runs" if overrun else "")
        )
    elif left.revised:
        result.warnings.append(
            f"{ran}, past the end an earlier answer foretold: its remaining time is read "
            "again from the past runs that took this long"
        )
    elif overrun or (
        left.estimate.basis == "limited" and {p.basis for p in (running, *others) if p} == {"model"}
    ):
        result.warnings.append(
            f"{ran}, longer than all but a few of its past runs: too few for a calibrated "
            "interval of the remaining time (basis limited)"
        )
