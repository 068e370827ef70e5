"""`backtest`: how good the estimates have been, measured on the history itself.

For each of a host's last N runs, every series is cut just before that run, trained exactly as
`train` would have trained it then (same candidates, same selection, same calibration), and the
warm path answers for that run; totals are drawn jointly as `estimate` draws them. Two honest
baselines answer the same runs: the last value (interval from recent one-step changes), and the
median of recent runs with their empirical quantiles. Censored runs (timeouts) are left out of
the scores; percentage errors skip runs whose actual is zero. The global model is the one part
of `train` not refitted at every cut (it spans all plugins): its candidates sit this race out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import numpy as np

from update_estimate.errors import NothingUsable
from update_estimate.fitting import parallel, pooled
from update_estimate.fitting.features import Series, build_series, truncate
from update_estimate.fitting.series_training import train_series
from update_estimate.history import reader as history
from update_estimate.record import METRICS
from update_estimate.reports import REPORTS_SUFFIX
from update_estimate.requests import BacktestRequest
from update_estimate.serving.predictive import Predictive, predictive, single
from update_estimate.serving.totals import combine, total

RECENT_MEDIAN = 10
RECENT_SPREAD = 20
METHODS = ("ours", "last_value", "recent_median")


@dataclass(frozen=True)
class Scores:
    n: int
    mae: float
    mape: float | None
    median_ape: float | None
    rmse: float
    pinball_lower: float
    pinball_upper: float
    interval_score: float
    coverage: float
    width: float


@dataclass(frozen=True)
class Case:
    """One forecast of one run by the three methods, on the raw scale."""

    host: str
    plugin: str
    metric: str
    run_id: str
    start: str
    actual: float
    intervals: dict[str, tuple[float, float, float]]  # method -> (point, lower, upper)


@dataclass(frozen=True)
class Row:
    host: str
    plugin: str
    metric: str
    scores: dict[str, Scores]


@dataclass(frozen=True)
class BacktestResult:
    level: float
    last: int
    with_covariates: bool
    rows: list[Row]
    cases: list[Case]


def score(actual: np.ndarray, bounds: np.ndarray, level: float) -> Scores:
    """Point and interval scores; `bounds` has columns point, lower, upper."""
    alpha = 1 - level
    point, lower, upper = bounds[:, 0], bounds[:, 1], bounds[:, 2]
    err = actual - point
    positive = actual > 0
    ape = np.abs(err[positive]) / actual[positive]
    below, above = actual < lower, actual > upper
    tau_lo, tau_hi = alpha / 2, 1 - alpha / 2
    return Scores(
        n=len(actual),
        mae=float(np.mean(np.abs(err))),
        mape=float(np.mean(ape)) if len(ape) else None,
        median_ape=float(np.median(ape)) if len(ape) else None,
        rmse=float(np.sqrt(np.mean(err**2))),
        pinball_lower=float(
            np.mean(np.maximum(tau_lo * (actual - lower), (tau_lo - 1) * (actual - lower)))
        ),
        pinball_upper=float(
            np.mean(np.maximum(tau_hi * (actual - upper), (tau_hi - 1) * (actual - upper)))
        ),
        interval_score=float(np.mean(interval_scores(actual, lower, upper, level))),
        coverage=float(np.mean(~below & ~above)),
        width=float(np.mean(upper - lower)),
    )


def interval_scores(
    actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float
) -> np.ndarray:
    """Per case: the width, plus 2/alpha times how far the actual fell outside (Gneiting and
    Raftery's interval score; lower is better, and only a calibrated interval minimises it)."""
    alpha = 1 - level
    below = np.maximum(lower - actual, 0)
    above = np.maximum(actual - upper, 0)
    return (upper - lower) + (2 / alpha) * (below + above)


def _quantiles(values: np.ndarray, level: float) -> tuple[float, float]:
    alpha = 1 - level
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def baselines(past: np.ndarray, level: float) -> dict[str, tuple[float, float, float]]:
    """Last value with recent one-step changes (log scale); recent median with recent quantiles.
    Each interval holds its point: a few runs that only fell put the last value above its own
    upper end."""
    last = float(past[-1])
    logs = np.log1p(past[-RECENT_SPREAD - 1 :])
    if len(logs) > 2:
        lo, hi = _quantiles(np.diff(logs), level)
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    else:
        lo, hi = -math.log(2), math.log(2)
    recent = past[-RECENT_SPREAD:]
    median = float(np.median(past[-RECENT_MEDIAN:]))
    q_lo, q_hi = _quantiles(recent, level)
    return {
        "last_value": (
            last,
            float(np.expm1(np.log1p(last) + lo)),
            float(np.expm1(np.log1p(last) + hi)),
        ),
        "recent_median": (median, min(q_lo, median), max(q_hi, median)),
    }


Pairs = list[tuple[Case, Predictive]]


@dataclass(frozen=True)
class Job:
    """Cuts of one series to retrain before; `only`: the candidates that may race (all if None)."""

    series: Series
    cuts: list[int]
    siblings: list[Series]
    only: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Answered:
    pairs: dict[bool, Pairs]
    winners: tuple[str, ...]  # the candidates that won a variant at the last cut


def backtest_series(
    s: Series,
    cuts: Sequence[int],
    level: float,
    modes: Sequence[bool],
    siblings: Sequence[Series] = (),
    only: Sequence[str] | None = None,
) -> Answered:
    """Train on the runs before each cut once; answer for the run at the cut with and/or
    without the plugin's pre-run report (`modes`). `siblings`: the host's other series, whose
    runs before the cut lend a short series their shape (`pooled`); `only`: the candidates
    that race (the baselines always do)."""
    out: dict[bool, Pairs] = {mode: [] for mode in modes}
    winners: tuple[str, ...] = ()
    for i in cuts:
        past = truncate(s, i)
        shapes = pooled.borrow_all(past, siblings, s.starts[i]) if pooled.wanted(past) else {}
        result = train_series(past, None, include_extras=False, only=only, borrowed=shapes)
        winners = tuple(sorted({v.model.removesuffix(REPORTS_SUFFIX) for v in result.variants}))
        at = datetime.fromisoformat(s.starts[i])
        values = np.expm1(s.y[:i])
        for mode in modes:
            reported = s.report(i) if mode and s.reports else None
            p, _ = predictive(result.record, at, reported)
            ours = single(p, level)
            case = Case(
                s.host,
                s.plugin,
                s.metric,
                s.run_ids[i],
                s.starts[i],
                float(np.expm1(s.y[i])),
                {"ours": (ours.point, ours.lower, ours.upper), **baselines(values, level)},
            )
            out[mode].append((case, p))
    return Answered(out, winners)


def evaluate(
    request: BacktestRequest,
    modes: Sequence[bool],
    progress: Callable[[int, int], None] | None = None,
) -> dict[bool, BacktestResult]:
    """The backtest in each mode (with / without pre-run reports), from one training per cut.

    Every candidate races before a series' first judged run that is long enough for a race;
    before its later runs only that race's winners do (and the baselines), unless
    `full_race`: consecutive races mostly crown the same model, and the full race at every
    cut is most of a backtest's time.
    """
    level, full_race, n_jobs = request.level, request.full_race, request.n_jobs
    hist = history.read(request.db, hosts=request.hosts, plugins=request.plugins)
    series = build_series(hist.executions, None, request.metrics)
    checks = build_series(hist.executions, hist.phases[hist.phases["phase"] == pooled.CHECK], ())
    cut_runs = _last_runs(hist.executions, request.last)
    first: list[Job] = []
    later: dict[str, list[int]] = {}
    siblings: dict[str, list[Series]] = {}
    for s in series:
        cuts = [
            i
            for i, r in enumerate(s.run_ids)
            if r in cut_runs[s.host] and i >= 2 and not s.censored[i]
        ]
        siblings[s.key] = [
            o for o in series if (o.host, o.metric) == (s.host, s.metric) and o is not s
        ] + [o for o in checks if o.host == s.host]
        raced = [i for i in cuts if i >= pooled.SHORT]
        leading = cuts if full_race else [i for i in cuts if i < pooled.SHORT] + raced[:1]
        # one job a cut, not a series: the progress bar moves, and its ETA means something
        first.extend(Job(s, [i], _lenders(s, siblings[s.key], i)) for i in leading)
        later[s.key] = [] if full_race else raced[1:]
    total = len(first) + sum(len(cuts) for cuts in later.values())
    if not total:
        raise NothingUsable(
            f"no run to judge: a plugin's run is judged from its third run on, and none of the "
            f"history's last {request.last} runs is one"
        )
    if progress is not None:
        progress(0, total)
    answer = partial(_answer, level, modes)
    engine = (request.engine, request.scheduler)
    outputs = parallel.each(answer, first, n_jobs, progress, (0, total), *engine)
    winners = {job.series.key: a.winners for job, a in outputs if job.cuts[0] >= pooled.SHORT}
    rest = [
        Job(s, [i], _lenders(s, siblings[s.key], i), winners.get(s.key))
        for s in series
        for i in later[s.key]
    ]
    outputs += parallel.each(answer, rest, n_jobs, progress, (len(first), total), *engine)
    results = {}
    for mode in modes:
        pairs = sorted(
            (pair for _, answered in outputs for pair in answered.pairs[mode]),
            key=lambda pair: (pair[0].host, pair[0].plugin, pair[0].metric, pair[0].start),
        )
        totals = sorted(_total_cases(pairs, series, level), key=lambda c: (c.host, c.start))
        cases = [c for c, _ in pairs] + totals
        results[mode] = BacktestResult(level, request.last, mode, _rows(cases, level), cases)
    return results


def _lenders(s: Series, siblings: list[Series], runs: int) -> list[Series]:
    """The host's series a cut of `s` after `runs` runs may borrow a shape from."""
    return siblings if pooled.lends_at(s, runs) else []


def _last_runs(executions: Any, last: int) -> dict[str, set[str]]:
    starts = executions.groupby(["host", "run_id"])["start_time"].min().reset_index()
    out: dict[str, set[str]] = {}
    for host, group in starts.groupby("host"):
        out[str(host)] = set(group.sort_values("start_time")["run_id"].astype(str).tail(last))
    return out


def _answer(level: float, modes: Sequence[bool], job: Job) -> tuple[Job, Answered]:
    return job, backtest_series(job.series, job.cuts, level, modes, job.siblings, job.only)


def _total_cases(pairs: Pairs, series: list[Series], level: float) -> list[Case]:
    """Per host, metric and run: the joint total of the plugins that ran, and its baselines."""
    by_run: dict[tuple, list[tuple[Case, Predictive]]] = defaultdict(list)
    for case, p in pairs:
        by_run[(case.host, case.metric, case.run_id)].append((case, p))
    actual_by_run: dict[tuple, dict[str, float]] = defaultdict(dict)
    order: dict[tuple, dict[str, str]] = defaultdict(dict)
    for s in series:
        for run_id, start, y in zip(s.run_ids, s.starts, s.y, strict=True):
            actual_by_run[(s.host, s.metric, run_id)][s.plugin] = float(np.expm1(y))
            order[(s.host, s.metric)][run_id] = start
    out = []
    for (host, metric, run_id), pairs_of_run in sorted(by_run.items()):
        # in plugin order: the workers finish in any order, and sums and draws would follow it
        members = sorted(pairs_of_run, key=lambda pair: pair[0].plugin)
        names = [c.plugin for c, _ in members]
        if len(names) < 2:
            continue
        ran = set(names)
        joint = total(metric, [p for _, p in members], level, parallel=False)
        start = members[0][0].start
        earlier = sorted((t, r) for r, t in order[(host, metric)].items() if t < start)
        past_totals = [
            combine(metric, [actual_by_run[(host, metric, r)][n] for n in names])
            for _, r in earlier
            if ran.issubset(actual_by_run[(host, metric, r)])
        ]
        if len(past_totals) < 3:
            continue
        actual = combine(metric, [c.actual for c, _ in members])
        out.append(
            Case(
                host,
                "total",
                metric,
                run_id,
                start,
                actual,
                {
                    "ours": (joint.point, joint.lower, joint.upper),
                    **baselines(np.array(past_totals), level),
                },
            )
        )
    return out


def _rows(cases: list[Case], level: float) -> list[Row]:
    groups: dict[tuple, list[Case]] = defaultdict(list)
    for c in cases:
        groups[(c.host, c.plugin, c.metric)].append(c)
    rows = []
    for (host, plugin, metric), members in sorted(
        groups.items(),
        key=lambda kv: (kv[0][0], kv[0][1] == "total", kv[0][1], METRICS.index(kv[0][2])),
    ):
        actual = np.array([c.actual for c in members])
        rows.append(
            Row(
                host,
                plugin,
                metric,
                {
                    m: score(actual, np.array([c.intervals[m] for c in members]), level)
                    for m in METHODS
                },
            )
        )
    return rows
