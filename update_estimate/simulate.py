"""Synthetic update-all histories in exactly the v1 schema, with a documented truth.

The demo, the tests and the benchmarks all draw from this one generating process, so each knows
what a correct estimate must see. Per host, independently:

Run times
    Gaps between runs are drawn from a mixture: 30% a few hours (1-8 h, several runs a day),
    55% one to three days, 15% away for 7-30 days. Scenario `sparse` only keeps the long gaps,
    `bursty` alternates days of many runs with weeks away. Start hours fall in 07:00-23:00.
    Timestamps are naive local wall time, as update-all writes them.
Network
    Each run draws one download speed factor, lognormal(0, 0.2); with probability
    `slow_day_prob` (default 0.10, scenario `slow-network` 0.25) the whole run is a slow-network
    day and the factor is multiplied by 0.2. Every plugin of that run downloads at that speed,
    so slow days are shared by a run.
Backlog
    A plugin's pending packages at a run are Poisson(rate * days since its last *successful*
    execution * drift), capped at the plugin's package total. `drift` is 1, or grows linearly
    by `trend` per run (scenario `trend`: +0.4% a run), and is multiplied by
    `level_shift_factor` (2.5) from `level_shift_at` (scenario `level-shift`: 60% of the runs) on.
Metrics per execution, three phases (CHECK, DOWNLOAD, EXECUTE)
    download bytes  = packages * bytes_per_package * lognormal(0, 0.3), all in DOWNLOAD
    CHECK wall      = check_seconds * lognormal(0, CHECK_NOISE = 0.15)
    DOWNLOAD wall   = download bytes / (speed_bps * network factor) + 0.5 s
    EXECUTE wall    = (exec_overhead + packages * seconds_per_package)
                      * lognormal(0, EXECUTE_NOISE = 0.2)
    CPU             = 0.3 * CHECK wall + 0.05 * DOWNLOAD wall + cpu_share * EXECUTE wall,
                      each split 80/20 between user and kernel time
    peak memory     = memory_base * lognormal(0, 0.1) * (1 + packages / 50) ** 0.3 per phase;
                      the EXECUTE phase peaks highest
Statuses
    skipped with probability 0.04 (no metrics), failed with the plugin's `fail_prob` (CHECK
    recorded, EXECUTE cut short), timeout when the wall time would pass the plugin's timeout (the
    execution ends at the timeout: a censored observation; it clears half the backlog), and
    with probability 0.004 a crashed
    `running` row without end time or metrics.
Pre-run reports (`estimates` table)
    apt and snap report package count and download bytes in DOWNLOAD, flatpak and rustup in
    EXECUTE, conda-packages reports a package count in CHECK; the others report nothing. Counts are
    exact; reported bytes are the true bytes * lognormal(0, 0.1).
Unknown plugin names get a profile drawn from a hash of the name, so any name works.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo", "npm", "rustup", "conda-packages")
SCENARIOS = ("realistic", "steady", "trend", "level-shift", "slow-network", "sparse", "bursty")
HOSTS = ("workstation", "laptop", "buildbox", "homeserver", "media-pc")
MB = 1_000_000


@dataclass(frozen=True)
class PluginProfile:
    rate_per_day: float
    bytes_per_package: float
    seconds_per_package: float
    check_seconds: float
    exec_overhead: float
    cpu_share: float
    memory_base: float
    speed_bps: float
    fail_prob: float
    timeout_seconds: float
    package_total: int
    estimate_phase: str | None
    reports_bytes: bool = True


PROFILES: dict[str, PluginProfile] = {
    "apt": PluginProfile(
        6, 2 * MB, 2.5, 12, 8, 0.5, 120 * MB, 20 * MB, 0.02, 3600, 2500, "DOWNLOAD"
    ),
    "flatpak": PluginProfile(
        1.2, 60 * MB, 6, 6, 4, 0.3, 200 * MB, 15 * MB, 0.02, 3600, 60, "EXECUTE"
    ),
    "snap": PluginProfile(0.6, 80 * MB, 8, 4, 6, 0.3, 90 * MB, 15 * MB, 0.02, 3600, 30, "DOWNLOAD"),
    "pip": PluginProfile(1.5, 3 * MB, 2, 5, 2, 0.6, 60 * MB, 10 * MB, 0.03, 1800, 200, None),
    "cargo": PluginProfile(0.4, 4 * MB, 90, 8, 5, 1.6, 900 * MB, 10 * MB, 0.04, 1800, 40, None),
    "npm": PluginProfile(2.5, 1 * MB, 1.2, 6, 3, 0.5, 150 * MB, 10 * MB, 0.03, 1800, 300, None),
    "rustup": PluginProfile(
        0.12, 250 * MB, 40, 3, 3, 0.4, 300 * MB, 25 * MB, 0.01, 3600, 4, "EXECUTE"
    ),
    "conda-packages": PluginProfile(
        3, 15 * MB, 3, 20, 10, 0.7, 500 * MB, 12 * MB, 0.03, 3600, 400, "CHECK", False
    ),
    "texlive-packages": PluginProfile(
        8, 0.4 * MB, 0.6, 15, 20, 0.6, 250 * MB, 8 * MB, 0.02, 3600, 4000, None
    ),
}


def profile_for(name: str) -> PluginProfile:
    """Known plugins have hand-set profiles; any other name gets a stable, hashed one."""
    if name in PROFILES:
        return PROFILES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return PluginProfile(
        rate_per_day=float(rng.uniform(0.2, 5)),
        bytes_per_package=float(10 ** rng.uniform(5.5, 8)),
        seconds_per_package=float(10 ** rng.uniform(0, 1.5)),
        check_seconds=float(rng.uniform(2, 20)),
        exec_overhead=float(rng.uniform(2, 10)),
        cpu_share=float(rng.uniform(0.2, 1.2)),
        memory_base=float(10 ** rng.uniform(7.5, 8.8)),
        speed_bps=float(rng.uniform(8, 25) * MB),
        fail_prob=0.03,
        timeout_seconds=3600,
        package_total=int(rng.integers(20, 500)),
        estimate_phase=None,
    )


@dataclass(frozen=True)
class Scenario:
    name: str = "realistic"
    slow_day_prob: float = 0.10
    trend: float = 0.0
    level_shift_at: float | None = None
    level_shift_factor: float = 2.5
    gaps: str = "mixed"


def scenario(name: str) -> Scenario:
    base = Scenario(name=name)
    return {
        "realistic": base,
        "steady": replace(base, slow_day_prob=0.0),
        "trend": replace(base, trend=0.004),
        "level-shift": replace(base, level_shift_at=0.6),
        "slow-network": replace(base, slow_day_prob=0.25),
        "sparse": replace(base, gaps="sparse"),
        "bursty": replace(base, gaps="bursty"),
    }[name]


@dataclass
class Tables:
    """Rows of the four v1 tables, as column lists ready for a bulk insert."""

    runs: dict[str, list]
    executions: dict[str, list]
    steps: dict[str, list]
    estimates: dict[str, list]


RUN_COLS = (
    "run_id start_time end_time hostname username config_hash total_plugins "
    "successful_plugins failed_plugins skipped_plugins"
).split()
EXEC_COLS = (
    "execution_id run_id plugin_name status start_time end_time packages_updated "
    "packages_total error_message exit_code"
).split()
STEP_COLS = (
    "metric_id execution_id step_name phase start_time end_time wall_clock_seconds "
    "cpu_user_seconds cpu_kernel_seconds memory_peak_bytes memory_avg_bytes io_read_bytes "
    "io_write_bytes network_rx_bytes download_size_bytes download_speed_bps"
).split()
EST_COLS = "estimate_id execution_id phase download_bytes_est package_count_est confidence".split()
STEP_NAMES = {"CHECK": "refresh", "DOWNLOAD": "download", "EXECUTE": "update"}


CHECK_NOISE = 0.15
EXECUTE_NOISE = 0.2


def drift(sc: Scenario, index: int, runs: int) -> float:
    """How much faster than `rate_per_day` the backlog grows at run `index` of `runs`."""
    value = 1.0 + sc.trend * index
    if sc.level_shift_at is not None and index >= sc.level_shift_at * runs:
        value *= sc.level_shift_factor
    return value


def _network(rng: np.random.Generator, sc: Scenario, size: int | None = None) -> Any:
    """A run's download speed factor: lognormal, and a fifth of it on a slow-network day."""
    factor = rng.lognormal(0, 0.2, size)
    return factor * np.where(rng.random(size) < sc.slow_day_prob, 0.2, 1.0)


def typical_wall(
    plugin: str,
    sc: Scenario,
    *,
    packages: int | None = None,
    download_bytes: float | None = None,
    days: float = 1.0,
    backlog_drift: float = 1.0,
    draws: int = 4000,
) -> float:
    """The median wall time of a successful execution given what a forecaster could know: the
    run's packages and bytes (a plugin's report) or else only the days since its last success.
    The network speed and the noise are never known. The best any point forecast can do, up to
    the difference between a median and the APE-optimal point (benchmarks' noise floors)."""
    prof = profile_for(plugin)
    rng = np.random.default_rng(0)
    if packages is None:
        pending = rng.poisson(prof.rate_per_day * days * backlog_drift, draws)
        count: Any = np.minimum(pending, prof.package_total)
        size: Any = count * prof.bytes_per_package * rng.lognormal(0, 0.3, draws)
    else:
        count, size = packages, download_bytes or 0.0
    check = prof.check_seconds * rng.lognormal(0, CHECK_NOISE, draws)
    download = size / (prof.speed_bps * _network(rng, sc, draws)) + 0.5
    execute = (prof.exec_overhead + count * prof.seconds_per_package) * rng.lognormal(
        0, EXECUTE_NOISE, draws
    )
    return float(np.median(check + download + execute))


def _gap_days(rng: np.random.Generator, gaps: str, index: int) -> float:
    if gaps == "sparse":
        return float(rng.uniform(5, 30))
    if gaps == "bursty":
        return float(rng.uniform(0.05, 0.3)) if index % 12 else float(rng.uniform(10, 25))
    u = rng.random()
    if u < 0.30:
        return float(rng.uniform(1, 8)) / 24
    if u < 0.85:
        return float(rng.uniform(1, 3))
    return float(rng.uniform(7, 30))


def _run_starts(rng: np.random.Generator, runs: int, sc: Scenario, end: datetime) -> list[datetime]:
    gaps = [_gap_days(rng, sc.gaps, i) for i in range(runs)]
    start = end - timedelta(days=sum(gaps))
    times, t = [], start
    for gap in gaps:
        t = t + timedelta(days=gap)
        hour_shift = 0 if 7 <= t.hour < 23 else 9
        times.append((t + timedelta(hours=hour_shift)).replace(microsecond=0))
    return sorted(times)


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def generate(
    plugins: tuple[str, ...] = DEFAULT_PLUGINS,
    runs: int = 300,
    seed: int = 0,
    hosts: int = 1,
    scenario_name: str = "realistic",
    end: datetime | None = None,
) -> Tables:
    """Draw a history; the same arguments always give the same rows."""
    sc = scenario(scenario_name)
    end = end or datetime(2026, 11, 20, 18, 0)
    rng = np.random.default_rng(seed)
    t = Tables(
        runs={c: [] for c in RUN_COLS},
        executions={c: [] for c in EXEC_COLS},
        steps={c: [] for c in STEP_COLS},
        estimates={c: [] for c in EST_COLS},
    )
    for h in range(hosts):
        host = HOSTS[h] if h < len(HOSTS) else f"host-{h + 1}"
        starts = _run_starts(rng, runs, sc, end)
        last_success: dict[str, datetime] = {p: starts[0] - timedelta(days=2) for p in plugins}
        previous_end = starts[0]
        for i, planned in enumerate(starts):
            run_start = max(planned, previous_end + timedelta(minutes=1))
            previous_end = _simulate_run(
                t, rng, sc, host, plugins, i, runs, run_start, last_success
            )
    return t


def _simulate_run(
    t: Tables,
    rng: np.random.Generator,
    sc: Scenario,
    host: str,
    plugins: tuple[str, ...],
    index: int,
    runs: int,
    run_start: datetime,
    last_success: dict[str, datetime],
) -> datetime:
    """Append one run's rows; return when it ended."""
    run_id = _uuid(rng)
    net = float(_network(rng, sc))
    backlog_drift = drift(sc, index, runs)
    clock = run_start
    counts = {"success": 0, "failed": 0, "skipped": 0}
    crashed = False
    for plugin in plugins:
        prof = profile_for(plugin)
        exec_id = _uuid(rng)
        u = rng.random()
        if u < 0.004:
            _add_execution(t, exec_id, run_id, plugin, "running", clock, None, 0, prof)
            crashed = True
            break
        if u < 0.044:
            _add_execution(t, exec_id, run_id, plugin, "skipped", clock, clock, 0, prof)
            counts["skipped"] += 1
            continue
        days = (clock - last_success[plugin]).total_seconds() / 86400
        packages = int(
            min(rng.poisson(prof.rate_per_day * days * backlog_drift), prof.package_total)
        )
        dl_bytes = int(packages * prof.bytes_per_package * rng.lognormal(0, 0.3))
        phases = {
            "CHECK": prof.check_seconds * rng.lognormal(0, CHECK_NOISE),
            "DOWNLOAD": dl_bytes / (prof.speed_bps * net) + 0.5,
            "EXECUTE": (prof.exec_overhead + packages * prof.seconds_per_package)
            * rng.lognormal(0, EXECUTE_NOISE),
        }
        status = "failed" if rng.random() < prof.fail_prob else "success"
        if status == "failed":
            phases["EXECUTE"] *= float(rng.uniform(0.05, 0.5))
        total = sum(phases.values())
        if total > prof.timeout_seconds:
            status = "timeout"
            over = total - prof.timeout_seconds
            phases["EXECUTE"] = max(phases["EXECUTE"] - over, 0.1)
        if prof.estimate_phase is not None:
            t.estimates["estimate_id"].append(_uuid(rng))
            t.estimates["execution_id"].append(exec_id)
            t.estimates["phase"].append(prof.estimate_phase)
            reported = int(dl_bytes * rng.lognormal(0, 0.1)) if prof.reports_bytes else None
            t.estimates["download_bytes_est"].append(reported)
            t.estimates["package_count_est"].append(packages)
            t.estimates["confidence"].append(0.8)
        step_start = clock
        for phase, wall in phases.items():
            _add_step(t, rng, exec_id, phase, step_start, wall, prof, packages, dl_bytes, net)
            step_start = step_start + timedelta(seconds=wall)
        updated = packages if status == "success" else 0
        _add_execution(t, exec_id, run_id, plugin, status, clock, step_start, updated, prof)
        if status == "failed":
            t.executions["error_message"][-1] = "exit status 100"
            t.executions["exit_code"][-1] = 100
        elif status == "timeout":
            t.executions["error_message"][-1] = "timed out"
            t.executions["exit_code"][-1] = 124
        counts["success" if status == "success" else "failed"] += 1
        if status == "success":
            last_success[plugin] = clock
        elif status == "timeout":  # it got through part of the backlog before it was stopped
            last_success[plugin] += (clock - last_success[plugin]) / 2
        clock = step_start + timedelta(seconds=float(rng.uniform(0.1, 2)))
    t.runs["run_id"].append(run_id)
    t.runs["start_time"].append(run_start)
    t.runs["end_time"].append(None if crashed else clock)
    t.runs["hostname"].append(host)
    t.runs["username"].append("demo")
    t.runs["config_hash"].append("c0ffee")
    t.runs["total_plugins"].append(len(plugins))
    t.runs["successful_plugins"].append(counts["success"])
    t.runs["failed_plugins"].append(counts["failed"])
    t.runs["skipped_plugins"].append(counts["skipped"])
    return clock


def _add_execution(
    t: Tables,
    exec_id: str,
    run_id: str,
    plugin: str,
    status: str,
    start: datetime,
    end: datetime | None,
    updated: int,
    prof: PluginProfile,
) -> None:
    row = (exec_id, run_id, plugin, status, start, end, updated, prof.package_total, None, 0)
    for col, value in zip(EXEC_COLS, row, strict=True):
        t.executions[col].append(value)


def _add_step(
    t: Tables,
    rng: np.random.Generator,
    exec_id: str,
    phase: str,
    start: datetime,
    wall: float,
    prof: PluginProfile,
    packages: int,
    dl_bytes: int,
    net: float,
) -> None:
    cpu = wall * {"CHECK": 0.3, "DOWNLOAD": 0.05, "EXECUTE": prof.cpu_share}[phase]
    boost = {"CHECK": 0.6, "DOWNLOAD": 0.8, "EXECUTE": 1.0}[phase]
    peak = int(prof.memory_base * boost * rng.lognormal(0, 0.1) * (1 + packages / 50) ** 0.3)
    downloaded = dl_bytes if phase == "DOWNLOAD" else 0
    row = (
        _uuid(rng),
        exec_id,
        STEP_NAMES[phase],
        phase,
        start,
        start + timedelta(seconds=wall),
        float(wall),
        0.8 * cpu,
        0.2 * cpu,
        peak,
        int(peak * 0.6),
        int(downloaded * 1.1),
        int(downloaded * 2.2),
        downloaded,
        downloaded,
        prof.speed_bps * net if downloaded else None,
    )
    for col, value in zip(STEP_COLS, row, strict=True):
        t.steps[col].append(value)


def schema_sql() -> str:
    return resources.files("update_estimate").joinpath("schema/updateall-v1.sql").read_text()


def write(tables: Tables, path: Path) -> None:
    """Create `path` with the v1 DDL and bulk-insert the rows; the file must not exist yet."""
    import duckdb
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(schema_sql())
        con.execute("INSERT INTO schema_version (version, description) VALUES (1, 'simulated')")
        for table, cols in (
            ("runs", tables.runs),
            ("plugin_executions", tables.executions),
            ("step_metrics", tables.steps),
            ("estimates", tables.estimates),
        ):
            frame = pd.DataFrame(cols)  # noqa: F841 - read by DuckDB's replacement scan
            names = ", ".join(cols)
            con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM frame")
    finally:
        con.close()
