"""The warm path of `estimate`: forecast records in, calibrated estimates and joint totals out.

Stdlib only (no numpy, pandas or darts), so an answer costs little more than starting Python.
A record holds, per series, the next run's log1p forecast over a grid of estimate-time
covariates, calendar offsets, and the out-of-sample residuals of its chosen model tagged with the
run they came from. Per plugin: point = forecast, moved by the residuals' median where they lean
one way (`conformal.bias`), bounds from the conformal ranks. Totals: whole past runs' residual
vectors are replayed together (a slow-network day slows every plugin of that run), each replay
summed, and the conformal ranks read off the sums.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from update_estimate.record import METRICS, Idle, SeriesRecord, Variant, series_key
from update_estimate.reports import REPORTED
from update_estimate.requests import EstimateRequest
from update_estimate.serving import conformal, idle, spread

DEFAULT_GAP_HOURS = 24.0
MIN_CONDITIONAL = 5
# The fewest residuals of a report's kind to calibrate on them alone. Mixing in the other kind
# costs more than having few: in `bursty`, where a third of the runs download, a floor of 19
# mixed the quiet runs' zeros into a work report's calibration, and the runs that downloaded
# were covered 0.74; with 9, 0.89. In a new user's first weeks a plugin has a handful of each
# kind, and its zeros stretched a download's interval to [0, 15 GB]: from 3 on, the kind alone
# answers (below 9, with `conformal`'s limited interval).
MIN_SAME_KIND = 3
# With no history anywhere: wide, honest defaults (point, lower, upper).
DEFAULTS: dict[str, tuple[float, float, float]] = {
    "wall_clock_seconds": (60.0, 5.0, 1800.0),
    "cpu_seconds": (30.0, 1.0, 1800.0),
    "memory_peak_bytes": (200e6, 20e6, 2e9),
    "download_bytes": (50e6, 0.0, 2e9),
}
DEFAULT_SPREAD_STEPS = 21
# A run that observed nothing (no download) replays as nothing: a residual landing here, below
# zero on the log1p scale, whatever the centre. Shifted residuals would replay it as a few bytes,
# and a joint total would never reach the zero that a quiet run really totals.
ZERO_LOG = -1.0
# Beyond the cap a draw keeps this share of its excess (log1p units): still rising, barely.
# The cap is 1.5 times the larger of the largest value seen and today's forecast: a forecast
# for a break longer than any seen may exceed what was seen, and its interval must not fold.
CAP_PRESS = 0.1
CAP_MARGIN = math.log(1.5)
# Beyond the grid a forecast moves with its edge's slope on the log1p scale, held within
# [0, 1]: more backlog never takes less, and at most in proportion (a fixed cost plus a cost
# per unit of work). Its residuals widen by 1 + the distance past the edge over the axis' span.
EXTRAPOLATION_SLOPE = (0.0, 1.0)


@dataclass(frozen=True)
class MetricEstimate:
    point: float
    lower: float
    upper: float
    data_points: int
    model: str
    basis: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "point": round(self.point, 3),
            "lower": round(self.lower, 3),
            "upper": round(self.upper, 3),
            "data_points": self.data_points,
            "model": self.model,
            "basis": self.basis,
        }


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
class Predictive:
    """One plugin-metric's next-run distribution on the log1p scale."""

    centre: float
    residuals: list[float]
    censored: list[bool]
    runs: list[int | None]
    data_points: int
    model: str
    basis: str
    cap: float = math.inf

    def value(self, residual: float) -> float:
        """A draw on the log1p scale, pressed hard towards 1.5 times the largest value seen.

        Residuals of zero-inflated series (downloads: nothing, then a gigabyte) would otherwise
        put the upper bound of a large forecast at absurd multiples of anything observed. The
        press is strictly monotone, not a clip: a clip sent a forecast beyond the cap to
        [cap, cap, cap], a "90%" interval of zero width.
        """
        v = self.centre + residual
        return v if v <= self.cap else self.cap + (v - self.cap) * CAP_PRESS

    @property
    def floor(self) -> float:
        """Residuals at or below it replay a value of zero: no run can do less."""
        return -self.centre

    def by_run(self) -> dict[int, float]:
        return {r: e for r, e in zip(self.runs, self.residuals, strict=True) if r is not None}


# --- interpolation over the stored grid -----------------------------------------------------------


def _bracket(axis: Sequence[float], value: float) -> tuple[int, int, float]:
    """Indices and weight of `value` between two nodes, on log1p scale, clamped at the edges."""
    logs = [math.log1p(v) for v in axis]
    x = math.log1p(max(value, 0.0))
    if x <= logs[0]:
        return 0, 0, 0.0
    if x >= logs[-1]:
        return len(logs) - 1, len(logs) - 1, 0.0
    hi = bisect.bisect_right(logs, x)
    lo = hi - 1
    return lo, hi, (x - logs[lo]) / (logs[hi] - logs[lo])


def interpolate(variant: Variant, values: Mapping[str, float]) -> float:
    """Multilinear interpolation of the record's node forecasts at the given covariates."""
    axes = variant.axes
    points = variant.points
    if not axes:
        return float(points[0])
    brackets = [_bracket(nodes, values[name]) for name, nodes in axes]
    sizes = [len(nodes) for _, nodes in axes]
    total = 0.0
    for corner in range(2 ** len(axes)):
        weight, flat = 1.0, 0
        for dim, (lo, hi, w) in enumerate(brackets):
            upper = (corner >> dim) & 1
            weight *= w if upper else 1 - w
            flat = flat * sizes[dim] + (hi if upper else lo)
        if weight:
            total += weight * points[flat]
    return total


@dataclass(frozen=True)
class Located:
    """A forecast at covariates that may lie beyond the grid."""

    centre: float
    shift: float  # how far extrapolation moved it from the grid's edge (log1p units)
    distance: float  # how far beyond the grid, in spans of each axis, summed over axes
    beyond: tuple[str, ...]  # the axes whose value lies beyond the grid


def locate(variant: Variant, values: Mapping[str, float]) -> Located:
    """Interpolate inside the grid; beyond it, extrapolate from the edge along each axis."""
    axes = variant.axes
    held = {name: min(max(values[name], nodes[0]), nodes[-1]) for name, nodes in axes}
    edge = interpolate(variant, held)
    shift, distance, beyond = 0.0, 0.0, []
    for name, nodes in axes:
        if len(nodes) < 2 or held[name] == values[name]:
            continue
        inner = nodes[1] if values[name] < nodes[0] else nodes[-2]
        x_edge, x_inner = math.log1p(held[name]), math.log1p(inner)
        rate = (edge - interpolate(variant, {**held, name: inner})) / (x_edge - x_inner)
        low, high = EXTRAPOLATION_SLOPE
        past = math.log1p(max(values[name], 0.0)) - x_edge
        shift += min(max(rate, low), high) * past
        distance += abs(past) / (math.log1p(nodes[-1]) - math.log1p(nodes[0]))
        beyond.append(name)
    return Located(edge + shift, shift, distance, tuple(beyond))


def _hours_since(last: str | None, at: datetime) -> float:
    if not last:
        return DEFAULT_GAP_HOURS
    return max((at - datetime.fromisoformat(last)).total_seconds() / 3600, 0.0)


# What `estimate` may do when covariates fall outside a record's grid: ask the stored model.
SlowPath = Callable[[SeriesRecord, str, Mapping[str, float], datetime], float | None]


def predictive(
    record: SeriesRecord,
    at: datetime,
    reported: Mapping[str, float] | None,
    slow_path: SlowPath | None = None,
) -> tuple[Predictive, bool]:
    """The plugin's forecast for a run at `at`, with its check-phase report when it fits."""
    name, variant, reported = _variant(record.variants, reported or {})
    use_reports = name == "reports"
    names = [axis for axis, _ in variant.axes if axis != "gap_hours"]
    values = {"gap_hours": _hours_since(record.last_success, at), **reported}
    place = locate(variant, values)
    centre, shift = place.centre, place.shift
    if variant.weekday and variant.hour:
        centre += variant.weekday[at.weekday()] + variant.hour[at.hour]
    if slow_path is not None and set(place.beyond) - {"gap_hours"}:
        # A report beyond the grid: the stored model knows how its inputs bend. A gap beyond
        # it is ordinary (a re-run minutes later, a year away) and never loads a pickle.
        modelled = slow_path(record, name, values, at)
        if modelled is not None:
            shift += modelled - centre
            centre = modelled
    residuals = list(variant.residuals)
    if variant.spread is not None:
        residuals = spread.rescale(residuals, variant.spread.centres, variant.spread.slope, centre)
    residuals = [r * (1.0 + place.distance) for r in residuals]
    censored, runs = variant.censored, variant.runs
    for i in variant.zeros:
        residuals[i] = ZERO_LOG - centre
    if use_reports and variant.zeros:
        quiet_now = all(values[axis] <= 0 for axis in names)
        keep = same_kind(len(residuals), variant.quiet, quiet_now)
        residuals = [residuals[i] for i in keep]
        censored, runs = [censored[i] for i in keep], [runs[i] for i in keep]
    if not use_reports and variant.idle is not None:
        residuals, censored, runs = _weigh_kinds(
            variant.idle, centre, values["gap_hours"], residuals, censored, runs
        )
    if not residuals:  # too short to calibrate, and nothing to borrow: a wide spread
        residuals = wide_spread(-math.log(4), math.log(4))
        censored, runs = [False] * len(residuals), [None] * len(residuals)
    return (
        Predictive(
            centre=centre,
            residuals=list(residuals),
            censored=list(censored),
            runs=list(runs),
            data_points=record.data_points,
            model=variant.model,
            basis=record.basis,
            cap=max(record.cap + max(shift, 0.0), centre + CAP_MARGIN),
        ),
        use_reports,
    )


def _weigh_kinds(
    quiet: Idle,
    centre: float,
    gap_hours: float,
    residuals: list[float],
    censored: Sequence[bool],
    runs: Sequence[int | None],
) -> tuple[list[float], list[bool], list[int | None]]:
    """Quiet runs replay their own values (nothing to do owes nothing to the gap that moved
    the centre); both kinds are weighed by the chance of work after this gap (`idle`)."""
    for i, value in zip(quiet.runs, quiet.values, strict=True):
        residuals[i] = value - centre
    work = idle.chance_of_work(quiet.odds, gap_hours)
    tagged = idle.mix(
        list(zip(residuals, censored, runs, strict=True)), residuals, quiet.runs, work
    )
    return [t[0] for t in tagged], [t[1] for t in tagged], [t[2] for t in tagged]


def _variant(
    variants: Mapping[str, Variant], reported: Mapping[str, float]
) -> tuple[str, Variant, dict[str, float]]:
    """The variant that answers, and the report it answers with: a partial report (a
    package count without a size) is completed by the plugin's typical value of what it
    lacks, or by zero where what it gives says there is nothing to do."""
    taken = {k: v for k, v in reported.items() if k in REPORTED}
    if not taken or "reports" not in variants:
        return "base", variants["base"], {}
    variant = variants["reports"]
    typical = variant.typical
    missing = [axis for axis in takes(variants) if axis not in taken]
    if any(axis not in typical for axis in missing):
        return "base", variants["base"], {}
    nothing = all(v <= 0 for v in taken.values())
    return "reports", variant, {**taken, **{a: 0.0 if nothing else typical[a] for a in missing}}


def report_warning(
    plugin: str, record: SeriesRecord, reported: Mapping[str, float], used: bool
) -> str | None:
    """One sentence on what of a plugin's report was not used as given, or None."""
    taken = takes(record.variants)
    if not taken:
        return f"{plugin}'s report was not used: {plugin} has never reported its work before"
    ignored = [k for k in reported if k not in taken]
    lacking = [a for a in taken if a not in reported]
    parts = [f"ignored {', '.join(ignored)}"] if ignored else []
    if lacking:
        parts.append(
            f"completed {', '.join(lacking)} from its typical runs" if used else "not used"
        )
    if not parts:
        return None
    return f"{plugin}'s report: {'; '.join(parts)} (its model takes {', '.join(taken)})"


def takes(variants: Mapping[str, Variant]) -> list[str]:
    """What a plugin's reports variant is fed: the quantities it has reported in the past."""
    if "reports" not in variants:
        return []
    variant = variants["reports"]
    axes = [axis for axis, _ in variant.axes if axis != "gap_hours"]
    return axes or list(variant.typical)


def same_kind(n: int, quiet: Sequence[int], quiet_now: bool) -> list[int]:
    """For series that observe zeros: residuals of past runs whose report was of the same
    kind as now's, "nothing to do" (every reported value zero) or some work. A reported zero
    is exactly zero bytes; calibrating a real download on such runs let their zeros take the
    miss budget and held its upper bound down. Series without zeros (times, memory) keep all
    residuals: split by kind too, their intervals with reports scored 9-16% worse against the
    truth on the same runs of `steady` and `trend` (`bench/accuracy.py`, `--last 10`, seeds
    5 6). Fewer than MIN_SAME_KIND of the kind: all of them."""
    marked = set(quiet)
    keep = [i for i in range(n) if (i in marked) == quiet_now]
    return keep if len(keep) >= MIN_SAME_KIND else list(range(n))


def default_predictive(metric: str, known: Sequence[Predictive]) -> Predictive:
    """No history for this plugin: other plugins' spread as a prior, or wide constants."""
    if known:
        centres = sorted(p.centre for p in known)
        centre = conformal.median(centres)
        low = centres[0] - math.log(4)
        high = centres[-1] + math.log(4)
    else:
        point, lower, upper = DEFAULTS[metric]
        centre, low, high = math.log1p(point), math.log1p(lower), math.log1p(upper)
    residuals = wide_spread(low - centre, high - centre)
    steps = len(residuals)
    return Predictive(centre, residuals, [False] * steps, [None] * steps, 0, "default", "default")


def wide_spread(low: float, high: float) -> list[float]:
    """Evenly spaced stand-in residuals for a series with none of its own."""
    steps = DEFAULT_SPREAD_STEPS
    return [low + (high - low) * i / (steps - 1) for i in range(steps)]


def single(p: Predictive, level: float) -> MetricEstimate:
    if p.basis == "default":
        lower, upper = p.centre + p.residuals[0], p.centre + p.residuals[-1]
        point, calibrated = p.centre, False
    else:
        b = conformal.bounds(p.residuals, level, censored=p.censored, floor=p.floor)
        point = p.value(conformal.bias(p.residuals))
        lower, upper, calibrated = p.value(b.lower), p.value(b.upper), b.calibrated
    values = sorted((_raw(lower), _raw(point), _raw(upper)))
    basis = p.basis if calibrated or p.basis == "default" else "limited"
    return MetricEstimate(values[1], values[0], values[2], p.data_points, p.model, basis)


def _raw(log_value: float) -> float:
    return max(math.expm1(min(log_value, 700.0)), 0.0)


# --- joint totals ------------------------------------------------------------------------------


def joint_draws(predictives: Sequence[Predictive], seed: int = 0) -> list[list[float]]:
    """One draw per past run: each plugin's value had that run's errors happened again.

    A plugin without a residual from that run (it was skipped, or its calibration is borrowed)
    takes one of its own residuals at random, from a fixed seed so answers are repeatable.
    """
    rng = random.Random(seed)
    maps = [p.by_run() for p in predictives]
    runs = sorted({r for m in maps for r in m})
    draws: list[list[float]] = []
    if not runs:
        runs_count = max((len(p.residuals) for p in predictives), default=0)
        runs = list(range(-runs_count, 0))
    for run in runs:
        draws.append(
            [
                p.value(m[run] if run in m else rng.choice(p.residuals))
                for p, m in zip(predictives, maps, strict=True)
            ]
        )
    return draws


def _combine(metric: str, values: Sequence[float], parallel: bool) -> float:
    raw = [_raw(v) for v in values]
    if metric == "memory_peak_bytes" and not parallel:
        return max(raw)
    return sum(raw)


def total(
    metric: str, predictives: Sequence[Predictive], level: float, parallel: bool
) -> MetricEstimate:
    """The joint total, held to what its parts say (see `coherent`)."""
    if not predictives:
        return MetricEstimate(0.0, 0.0, 0.0, 0, "joint", "model")
    parts = [single(p, level) for p in predictives]
    if len(parts) == 1:
        return parts[0]
    sums = [_combine(metric, d, parallel) for d in joint_draws(predictives)]
    return coherent(_from_samples(sums, level, predictives), parts)


def coherent(whole: MetricEstimate, parts: Sequence[MetricEstimate]) -> MetricEstimate:
    """A total of non-negative parts (their sum, or their max) is at least each part, draw by
    draw, so each of its quantiles is at least that quantile of every part. Read from a
    finite replay, and from ranks of another sample size, the joint bounds can fall below a
    plugin's own (a memory total under its largest plugin); they are raised to the parts'."""
    lower = max([whole.lower, *(p.lower for p in parts)])
    point = max([whole.point, *(p.point for p in parts)])
    upper = max([whole.upper, *(p.upper for p in parts)])
    return replace(whole, point=point, lower=min(lower, point), upper=max(upper, point))


def _from_samples(
    samples: Sequence[float], level: float, predictives: Sequence[Predictive]
) -> MetricEstimate:
    b = conformal.bounds(samples, level, centre=conformal.median(samples), floor=0.0)
    point = conformal.median(samples)
    bases = {p.basis for p in predictives}
    basis = "model" if bases == {"model"} and b.calibrated else "limited"
    if bases == {"default"}:
        basis = "default"
    return MetricEstimate(
        point,
        max(min(b.lower, point), 0.0),
        max(b.upper, point),
        min(p.data_points for p in predictives),
        "joint",
        basis,
    )


# --- remaining time during a run ------------------------------------------------------------------


def _remaining_samples(
    draws: Sequence[Sequence[float]], elapsed: float
) -> tuple[list[float], bool]:
    """Remaining wall time per joint draw; the running plugin (first) conditioned on T > elapsed.

    Also whether the running plugin has outrun nearly every past run, so that its remaining
    time is scaled from its slowest runs rather than read from them.
    """
    kept = [d for d in draws if _raw(d[0]) > elapsed]
    if len(kept) >= MIN_CONDITIONAL:
        return [_raw(d[0]) - elapsed + sum(_raw(v) for v in d[1:]) for d in kept], False
    tail = sorted(draws, key=lambda d: d[0])[-MIN_CONDITIONAL:]
    scale = elapsed / max(_raw(tail[0][0]), 1e-9)
    return [_raw(d[0]) * scale - elapsed + sum(_raw(v) for v in d[1:]) for d in tail], True


# Elapsed times at which the conditional median is evaluated: fixed, so that a later elapsed
# time always sees a superset of an earlier one's checkpoints.
CHECKPOINTS = [0.0] + [1.07**i for i in range(260)]


@dataclass(frozen=True)
class Remaining:
    done: list[str]
    running: str | None
    elapsed: float
    wall_clock_seconds: MetricEstimate
    overdue: bool = False  # the running plugin is past its interval's upper end


def remaining(
    running: Predictive | None,
    others: Sequence[Predictive],
    elapsed: float,
    level: float,
) -> tuple[MetricEstimate, bool]:
    """Remaining wall time, and whether the running plugin outran its past runs.

    The point never rises as `elapsed` grows (no wild jumps): it is the lowest conditional
    median over the fixed checkpoints up to `elapsed`, stateless and monotone by construction.
    The answer is never below any plugin still to start: all of it is still ahead.
    """
    members = [p for p in (running, *others) if p is not None]
    if not members:
        return MetricEstimate(0.0, 0.0, 0.0, 0, "joint", "model"), False
    if running is None:
        return total("wall_clock_seconds", members, level, parallel=False), False
    draws = joint_draws(members)
    samples, overrun = _remaining_samples(draws, elapsed)
    est = _from_samples(samples, level, members)
    point = min(
        conformal.median(_remaining_samples(draws, s)[0]) for s in CHECKPOINTS if s <= elapsed
    )
    est = replace(est, point=point, lower=min(est.lower, point), upper=max(est.upper, point))
    return coherent(est, [single(p, level) for p in others]), overrun


# --- the whole answer -----------------------------------------------------------------------------


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
