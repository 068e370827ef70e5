"""The simulator's own predictive: what its generating process says about a run before it
starts, given what a forecaster could know then.

Known: the days since each plugin's last success, the scenario's backlog drift at that run, and
with reports the plugin's reported package count and download bytes. Unknown, so drawn: the
backlog itself (without a report), the run's network speed (one factor shared by all plugins of
a run, as `simulate` draws it), and every noise term. Failed executions are not forecast targets
(`features.TARGET_STATUSES`), so the draws are of executions that succeed or time out.

Benchmarks score ours against these draws: on average no forecast does better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from update_estimate.history import simulate
from update_estimate.history.simulate import PluginProfile, Scenario

METRICS = ("wall_clock_seconds", "cpu_seconds", "memory_peak_bytes", "download_bytes")


@dataclass(frozen=True)
class Known:
    plugin: str
    days: float  # since the plugin's last success, as the simulator counts it
    drift: float
    packages: int | None = None  # the plugin's report, when it made one
    reported_bytes: float | None = None


def known(tables: simulate.Tables, scenario: Scenario, runs: int) -> dict[tuple[str, str], Known]:
    """What a forecaster knew before each execution of a one-host simulated history, keyed by
    (run_id, plugin); replays the simulator's bookkeeping of last successes."""
    estimated = ("execution_id", "package_count_est", "download_bytes_est")
    reports = {e: (c, b) for e, c, b in tables.rows("estimates", *estimated)}
    index = {run: i for i, run in enumerate(tables.runs["run_id"])}
    first = tables.runs["start_time"][0] - timedelta(days=2)
    last: dict[str, datetime] = {}
    out: dict[tuple[str, str], Known] = {}
    rows = tables.rows(
        "executions", "run_id", "plugin_name", "status", "start_time", "execution_id"
    )
    for run, plugin, status, start, execution in rows:
        if status == "running":
            continue
        late = scenario.late_plugins and index[run] >= runs // 2
        joined = start - timedelta(days=2) if late else first
        # a skipped execution is known all the same (it might have run) but is no success
        since = last.get(plugin, joined) if status == "skipped" else last.setdefault(plugin, joined)
        count, size = reports.get(execution, (None, None))
        out[(run, plugin)] = Known(
            plugin,
            (start - since).total_seconds() / 86400,
            simulate.drift(scenario, index[run], runs),
            None if count is None else int(count),
            None if size is None else float(size),
        )
        if status == "success":
            last[plugin] = start
        elif status == "timeout":
            last[plugin] = since + (start - since) / 2
    return out


def run_draws(
    executions: Sequence[Known], scenario: Scenario, reports: bool, draws: int = 4000, seed: int = 0
) -> list[dict[str, np.ndarray]]:
    """Joint draws of one run's executions (per execution, metric -> draws); `reports`: use
    what the plugins reported before they ran."""
    rng = np.random.default_rng(seed)
    net = simulate.network(rng, scenario, draws)
    return [_execution(k, scenario, reports, net, rng) for k in executions]


def _execution(
    k: Known, sc: Scenario, reports: bool, net: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    prof = simulate.profile_for(k.plugin)
    n = len(net)
    if reports and k.packages is not None:
        packages, size = _reported_work(k, sc, prof, rng, n)
    else:
        packages = simulate.pending(rng, prof, sc, k.days, k.drift, n)
        size = simulate.download_size(rng, prof, packages, n)
    check, execute = (
        rng.lognormal(0, simulate.CHECK_NOISE, n),
        rng.lognormal(0, simulate.EXECUTE_NOISE, n),
    )
    phases = simulate.phase_walls(prof, packages, size, net, check, execute)
    phases, _ = simulate.settle(prof, phases, 1.0)
    peaks = [
        simulate.phase_peak(prof, sc, phase, packages, rng.lognormal(0, simulate.MEMORY_NOISE, n))
        for phase in phases
    ]
    return {
        "wall_clock_seconds": sum(phases.values()),
        "cpu_seconds": sum(simulate.phase_cpu(prof, p, w) for p, w in phases.items()),
        "memory_peak_bytes": np.max(peaks, axis=0),
        "download_bytes": size,
    }


def _reported_work(
    k: Known, sc: Scenario, prof: PluginProfile, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Packages and bytes given the report: the backlog's prior times the report's likelihood
    over every possible count, then the bytes given the count and the reported bytes."""
    counts = np.arange(prof.package_total + 1)
    packages = rng.choice(counts, size=n, p=work_pmf(k, sc, prof, counts))
    centre, spread = bytes_noise(k, sc, prof, packages)
    size = packages * prof.bytes_per_package * np.exp(rng.normal(centre, spread))
    return packages, np.where(packages > 0, size, 0.0)


def work_pmf(
    k: Known,
    sc: Scenario,
    prof: PluginProfile,
    counts: np.ndarray,
    downloaded: float | None = None,
) -> np.ndarray:
    """P(backlog = count) given the plugin's report (when it made one) and, `downloaded`, the
    bytes its finished download fetched."""
    from scipy import stats

    weights = pending_pmf(prof, sc, k.days, k.drift, counts)
    if k.packages is not None and sc.count_noise:
        positive = np.maximum(counts, 1)
        lo = stats.norm.cdf(
            np.log(np.maximum(k.packages - 0.5, 1e-12) / positive), 0, sc.count_noise
        )
        hi = stats.norm.cdf(np.log((k.packages + 0.5) / positive), 0, sc.count_noise)
        weights = weights * np.where(counts == 0, k.packages == 0, hi - lo)
    elif k.packages is not None:
        weights = weights * (counts == k.packages)
    logged = np.log(np.maximum(counts, 1) * prof.bytes_per_package)
    # the bytes fetched, else the reported bytes (the report given the bytes says nothing more)
    seen, spread = (
        (downloaded, simulate.DOWNLOAD_NOISE)
        if downloaded is not None
        else (k.reported_bytes, np.hypot(simulate.DOWNLOAD_NOISE, sc.bytes_noise))
    )
    if seen is not None and seen > 0:
        weights = weights * np.where(counts > 0, stats.norm.pdf(np.log(seen), logged, spread), 0)
    elif seen is not None:
        weights = weights * (counts == 0)
    if weights.sum() <= 0:  # a report the process could not have made: trust its count
        weights = (counts == min(k.packages or 0, prof.package_total)).astype(float)
    return np.asarray(weights / weights.sum())


def bytes_noise(
    k: Known, sc: Scenario, prof: PluginProfile, packages: np.ndarray
) -> tuple[np.ndarray, float]:
    """Centre and spread of the log noise of a download's bytes over `packages` per package:
    the simulator's, or given the reported bytes (log bytes = logged + e1, log report = log
    bytes + e2: e1 given their sum)."""
    if k.reported_bytes is None or k.reported_bytes <= 0:
        return np.zeros(len(packages)), simulate.DOWNLOAD_NOISE
    both = np.hypot(simulate.DOWNLOAD_NOISE, sc.bytes_noise)
    logged = np.log(np.maximum(packages, 1) * prof.bytes_per_package)
    share = simulate.DOWNLOAD_NOISE**2 / both**2
    centre = share * (np.log(k.reported_bytes) - logged)
    return centre, simulate.DOWNLOAD_NOISE * sc.bytes_noise / both


def pending_pmf(
    prof: PluginProfile, sc: Scenario, days: float, drift: float, counts: np.ndarray
) -> np.ndarray:
    """P(backlog = count) for `simulate.pending`'s draw (checked against it in the tests)."""
    from scipy import stats

    mean = prof.rate_per_day * days * drift
    top = prof.package_total
    if not sc.idle:
        pmf = stats.poisson.pmf(counts, mean)
        return np.where(counts == top, stats.poisson.sf(top - 1, mean), pmf)
    busy = max(1 - prof.idle_share**days, 1e-9)
    rest = max(mean / busy - 1, 0)
    pmf = busy * stats.poisson.pmf(counts - 1, rest)
    pmf = np.where(counts == top, busy * stats.poisson.sf(top - 2, rest), pmf)
    return np.where(counts == 0, 1 - busy, pmf)


def combine(metric: str, parts: Sequence[np.ndarray]) -> Any:
    """A run's total from its executions' joint draws: the largest peak, else the sum."""
    return np.max(parts, axis=0) if metric == "memory_peak_bytes" else np.sum(parts, axis=0)
