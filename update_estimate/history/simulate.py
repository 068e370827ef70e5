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
Parallel runs (`jobs` above 1)
    Every draw is made as for a sequential run; then the run is placed in time as update-all's
    parallel orchestrator would run it (`schedule`): at most `jobs` plugins at once, each phase
    only while it holds its mutexes (apt's apt and dpkg locks in every phase, snap's while it
    installs), at most two downloads at once, sharing the line (each slower while both run).
    As update-all's orchestrator does, plugins start in alphabetical order, after 5-40 s of
    setting up, and the run ends 1-5 s after its last plugin: time between a run's start and
    end that no plugin's own time shows. Skipped and crashed executions sit at the run's
    start. `jobs` 1 writes exactly the rows a sequential run always had.
Unknown plugin names get a profile drawn from a hash of the name, so any name works.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from update_estimate import schedule
from update_estimate.errors import UsageError
from update_estimate.requests import SimulateRequest

DEFAULT_PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo", "npm", "rustup", "conda-packages")
SCENARIOS = (
    "realistic",
    "steady",
    "trend",
    "level-shift",
    "slow-network",
    "sparse",
    "bursty",
    "check-only",
    "late-plugins",
    "jump",
    "noisy-reports",
)
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
    idle_share: float = 0.3  # scenario `check-only`: runs a day apart with nothing to do


PROFILES: dict[str, PluginProfile] = {
    "apt": PluginProfile(
        6, 2 * MB, 2.5, 12, 8, 0.5, 120 * MB, 20 * MB, 0.02, 3600, 2500, "DOWNLOAD", True, 0.04
    ),
    "flatpak": PluginProfile(
        1.2, 60 * MB, 6, 6, 4, 0.3, 200 * MB, 15 * MB, 0.02, 3600, 60, "EXECUTE", True, 0.32
    ),
    "snap": PluginProfile(
        0.6, 80 * MB, 8, 4, 6, 0.3, 90 * MB, 15 * MB, 0.02, 3600, 30, "DOWNLOAD", True, 0.53
    ),
    "pip": PluginProfile(
        1.5, 3 * MB, 2, 5, 2, 0.6, 60 * MB, 10 * MB, 0.03, 1800, 200, None, True, 0.52
    ),
    "cargo": PluginProfile(
        0.4, 4 * MB, 90, 8, 5, 1.6, 900 * MB, 10 * MB, 0.04, 1800, 40, None, True, 0.72
    ),
    "npm": PluginProfile(
        2.5, 1 * MB, 1.2, 6, 3, 0.5, 150 * MB, 10 * MB, 0.03, 1800, 300, None, True, 0.60
    ),
    "rustup": PluginProfile(
        0.12, 250 * MB, 40, 3, 3, 0.4, 300 * MB, 25 * MB, 0.01, 3600, 4, "EXECUTE", True, 0.94
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
        idle_share=float(rng.uniform(0.1, 0.8)),
    )


@dataclass(frozen=True)
class Scenario:
    name: str = "realistic"
    slow_day_prob: float = 0.10
    trend: float = 0.0
    level_shift_at: float | None = None
    level_shift_factor: float = 2.5
    gaps: str = "mixed"
    idle: bool = False  # work comes in releases: many runs have nothing to do
    late_plugins: int = 0  # the last N plugins join halfway through the history
    bytes_noise: float = 0.1  # log-scale noise of a report's download bytes
    count_noise: float = 0.0  # log-scale noise of a report's package count


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
        "check-only": replace(base, idle=True),
        "late-plugins": replace(base, idle=True, late_plugins=2),
        "jump": replace(base, level_shift_at=0.6, level_shift_factor=1.8),
        "noisy-reports": replace(base, bytes_noise=0.35, count_noise=0.2),
    }[name]


@dataclass
class Tables:
    """Rows of the four v1 tables, as column lists ready for a bulk insert."""

    runs: dict[str, list]
    executions: dict[str, list]
    steps: dict[str, list]
    estimates: dict[str, list]

    def rows(self, table: str, *columns: str) -> Iterator[tuple[Any, ...]]:
        """One table's `columns`, row by row (the truth and the benchmarks read them so)."""
        of_table: dict[str, list] = getattr(self, table)
        return zip(*(of_table[c] for c in columns), strict=True)


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
DOWNLOAD_NOISE = 0.3
MEMORY_NOISE = 0.1
IDLE_MEMORY = 0.3  # scenario `check-only`: a run with nothing to do reads metadata only
PHASE_CPU = {"CHECK": 0.3, "DOWNLOAD": 0.05}
DOWNLOAD_LATENCY = 0.5  # seconds of a download phase that are not on the line
PHASE_MEMORY = {"CHECK": 0.6, "DOWNLOAD": 0.8, "EXECUTE": 1.0}


def drift(sc: Scenario, index: int, runs: int) -> float:
    """How much faster than `rate_per_day` the backlog grows at run `index` of `runs`."""
    value = 1.0 + sc.trend * index
    if sc.level_shift_at is not None and index >= sc.level_shift_at * runs:
        value *= sc.level_shift_factor
    return value


def network(rng: np.random.Generator, sc: Scenario, size: int | None = None) -> Any:
    """A run's download speed factor: lognormal, and a fifth of it on a slow-network day."""
    factor = rng.lognormal(0, 0.2, size)
    return factor * np.where(rng.random(size) < sc.slow_day_prob, 0.2, 1.0)


def pending(
    rng: np.random.Generator,
    prof: PluginProfile,
    sc: Scenario,
    days: float,
    backlog_drift: float,
    size: int | None = None,
) -> Any:
    """Packages waiting for a plugin `days` after its last success.

    Plain: Poisson(rate * days * drift). `idle`: work arrives in releases, so a run a day after
    the last has nothing to do with the plugin's `idle_share` (a week later: its seventh power);
    a run with work has one package plus the rest of the same mean rate.
    """
    mean = prof.rate_per_day * days * backlog_drift
    if not sc.idle:
        return np.minimum(rng.poisson(mean, size), prof.package_total)
    busy_share = np.maximum(1 - prof.idle_share**days, 1e-9)
    busy = rng.random(size) < busy_share
    rest = rng.poisson(np.maximum(mean / busy_share - 1, 0), size)
    return np.where(busy, np.minimum(1 + rest, prof.package_total), 0)


def download_size(
    rng: np.random.Generator, prof: PluginProfile, packages: Any, size: int | None = None
) -> Any:
    return packages * prof.bytes_per_package * rng.lognormal(0, DOWNLOAD_NOISE, size)


def phase_walls(
    prof: PluginProfile, packages: Any, dl_bytes: Any, net: Any, check: Any, execute: Any
) -> dict[str, Any]:
    """Wall seconds per phase; `check` and `execute` are the phases' lognormal noise draws."""
    return {
        "CHECK": prof.check_seconds * check,
        "DOWNLOAD": dl_bytes / (prof.speed_bps * net) + DOWNLOAD_LATENCY,
        "EXECUTE": (prof.exec_overhead + packages * prof.seconds_per_package) * execute,
    }


def settle(prof: PluginProfile, phases: dict[str, Any], cut: Any) -> tuple[dict[str, Any], Any]:
    """A failure ends EXECUTE after `cut` of it; the timeout ends the execution (censored).
    Returns the phases as recorded and whether the execution timed out."""
    execute = phases["EXECUTE"] * cut
    over = phases["CHECK"] + phases["DOWNLOAD"] + execute - prof.timeout_seconds
    timed_out = over > 0
    execute = np.where(timed_out, np.maximum(execute - over, 0.1), execute)
    if np.ndim(execute) == 0:
        execute, timed_out = float(execute), bool(timed_out)
    return {**phases, "EXECUTE": execute}, timed_out


def phase_cpu(prof: PluginProfile, phase: str, wall: Any) -> Any:
    return wall * PHASE_CPU.get(phase, prof.cpu_share)


def phase_peak(prof: PluginProfile, sc: Scenario, phase: str, packages: Any, noise: Any) -> Any:
    peak = prof.memory_base * PHASE_MEMORY[phase] * noise * (1 + packages / 50) ** 0.3
    return np.where(packages == 0, peak * IDLE_MEMORY, peak) if sc.idle else peak


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
    jobs: int = 1,
) -> Tables:
    """Draw a history; the same arguments always give the same rows. `jobs`: plugins run at
    once (1: one after another; more: update-all's parallel orchestrator, `schedule`)."""
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
        late = plugins[len(plugins) - sc.late_plugins :] if sc.late_plugins else ()
        last_success = {p: starts[0] - timedelta(days=2) for p in plugins if p not in late}
        previous_end = starts[0]
        for i, planned in enumerate(starts):
            run_start = max(planned, previous_end + timedelta(minutes=1))
            previous_end = _simulate_run(
                t,
                rng,
                sc,
                host,
                tuple(p for p in plugins if p not in late or i >= runs // 2),
                i,
                runs,
                run_start,
                last_success,
                jobs,
            )
    return t


@dataclass
class _Drawn:
    """One plugin's execution as drawn, before it is placed in time."""

    exec_id: str
    plugin: str
    status: str
    prof: PluginProfile
    packages: int
    dl_bytes: int
    phases: dict[str, float]
    steps: list[tuple[float, str]]  # per phase: memory noise, metric id
    gap: float


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
    jobs: int = 1,
) -> datetime:
    """Append one run's rows; return when it ended. Every draw is made in plugin order as if
    the plugins ran one after another (the days since a success move by minutes at most when
    they do not), then the run is placed in time by update-all's schedule (`schedule`)."""
    run_id = _uuid(rng)
    net = float(network(rng, sc))
    backlog_drift = drift(sc, index, runs)
    clock = run_start
    counts = {"success": 0, "failed": 0, "skipped": 0}
    crashed = False
    entries: list[_Drawn | tuple] = []
    for plugin in plugins:
        prof = profile_for(plugin)
        exec_id = _uuid(rng)
        u = rng.random()
        if u < 0.004:
            entries.append((exec_id, run_id, plugin, "running", clock, None, 0, prof))
            crashed = True
            break
        if u < 0.044:
            entries.append((exec_id, run_id, plugin, "skipped", clock, clock, 0, prof))
            counts["skipped"] += 1
            continue
        last_success.setdefault(plugin, clock - timedelta(days=2))  # a plugin joining late
        days = (clock - last_success[plugin]).total_seconds() / 86400
        packages = int(pending(rng, prof, sc, days, backlog_drift))
        dl_bytes = int(download_size(rng, prof, packages))
        check, execute = rng.lognormal(0, CHECK_NOISE), rng.lognormal(0, EXECUTE_NOISE)
        phases = phase_walls(prof, packages, dl_bytes, net, check, execute)
        failed = rng.random() < prof.fail_prob
        phases, timed_out = settle(prof, phases, float(rng.uniform(0.05, 0.5)) if failed else 1.0)
        status = "timeout" if timed_out else "failed" if failed else "success"
        if prof.estimate_phase is not None:
            _add_estimate(t, rng, sc, prof, exec_id, packages, dl_bytes)
        steps = [(float(rng.lognormal(0, MEMORY_NOISE)), _uuid(rng)) for _ in phases]
        gap = float(rng.uniform(0.1, 2))
        entries.append(
            _Drawn(exec_id, plugin, status, prof, packages, dl_bytes, phases, steps, gap)
        )
        counts["success" if status == "success" else "failed"] += 1
        if status == "success":
            last_success[plugin] = clock
        elif status == "timeout":  # it got through part of the backlog before it was stopped
            last_success[plugin] += (clock - last_success[plugin]) / 2
        for wall in phases.values():
            clock += _td(wall)
        clock += _td(gap)
    drawn = [e for e in entries if isinstance(e, _Drawn)]
    start, tail = run_start, 0.0
    if jobs > 1:
        # update-all's parallel orchestrator launches its plugins in alphabetical order, after
        # setting up (config, plugins' mutexes, the waves) and before its summary: time the
        # schedule does not see
        drawn.sort(key=lambda d: d.plugin)
        start += _td(float(rng.uniform(5, 40)))
        tail = float(rng.uniform(1, 5))
    placed = dict(
        zip(
            (d.exec_id for d in drawn),
            schedule.place([_work(d) for d in drawn], jobs),
            strict=True,
        )
    )
    end = clock if not drawn else run_start
    for entry in entries:
        if not isinstance(entry, _Drawn):
            _add_execution(t, *(entry if jobs == 1 else _at(entry, run_start)))
            continue
        where = placed[entry.exec_id]
        for phase, (noise, metric_id) in zip(entry.phases, entry.steps, strict=True):
            begin, finish = (start + _us(v) for v in where.phases[phase])
            _add_step(t, sc, entry, phase, begin, finish, net, noise, metric_id)
        finish = start + _us(where.phases["EXECUTE"][1])
        updated = entry.packages if entry.status == "success" else 0
        row = (entry.exec_id, run_id, entry.plugin, entry.status, start + _us(where.start))
        _add_execution(t, *row, finish, updated, entry.prof)
        if entry.status == "failed":
            t.executions["error_message"][-1] = "exit status 100"
            t.executions["exit_code"][-1] = 100
        elif entry.status == "timeout":
            t.executions["error_message"][-1] = "timed out"
            t.executions["exit_code"][-1] = 124
        end = max(end, start + _us(where.released) + _td(tail))
    _add_run(t, run_id, host, run_start, None if crashed else end, len(plugins), counts)
    return end


def _at(row: tuple, when: datetime) -> tuple:
    """A skipped or crashed execution, placed at the run's start: in parallel it holds no slot."""
    return (*row[:4], when, None if row[5] is None else when, *row[6:])


def _us(value: float) -> timedelta:
    return timedelta(microseconds=round(value))


def _work(d: _Drawn) -> schedule.Work:
    """The schedule's input in whole microseconds: sums of them are exact, so a sequential run
    lands every step where adding its durations one by one would."""
    us = {phase: _td(wall) / timedelta(microseconds=1) for phase, wall in d.phases.items()}
    return schedule.Work(d.plugin, us, d.dl_bytes > 0, _td(d.gap) / timedelta(microseconds=1))


def _add_estimate(
    t: Tables,
    rng: np.random.Generator,
    sc: Scenario,
    prof: PluginProfile,
    exec_id: str,
    packages: int,
    dl_bytes: int,
) -> None:
    """What the plugin reports in its check phase: the truth, with the scenario's noise."""
    t.estimates["estimate_id"].append(_uuid(rng))
    t.estimates["execution_id"].append(exec_id)
    t.estimates["phase"].append(prof.estimate_phase)
    reported = int(dl_bytes * rng.lognormal(0, sc.bytes_noise)) if prof.reports_bytes else None
    t.estimates["download_bytes_est"].append(reported)
    t.estimates["package_count_est"].append(
        round(packages * rng.lognormal(0, sc.count_noise)) if sc.count_noise else packages
    )
    t.estimates["confidence"].append(0.8)


def _add_run(
    t: Tables,
    run_id: str,
    host: str,
    start: datetime,
    end: datetime | None,
    plugins: int,
    counts: dict[str, int],
) -> None:
    t.runs["run_id"].append(run_id)
    t.runs["start_time"].append(start)
    t.runs["end_time"].append(end)
    t.runs["hostname"].append(host)
    t.runs["username"].append("demo")
    t.runs["config_hash"].append("c0ffee")
    t.runs["total_plugins"].append(plugins)
    t.runs["successful_plugins"].append(counts["success"])
    t.runs["failed_plugins"].append(counts["failed"])
    t.runs["skipped_plugins"].append(counts["skipped"])


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
    sc: Scenario,
    d: _Drawn,
    phase: str,
    start: datetime,
    end: datetime,
    net: float,
    noise: float,
    metric_id: str,
) -> None:
    wall = d.phases[phase] if end - start == _td(d.phases[phase]) else _seconds(end - start)
    cpu = phase_cpu(d.prof, phase, wall)
    peak = int(phase_peak(d.prof, sc, phase, d.packages, noise))
    downloaded = d.dl_bytes if phase == "DOWNLOAD" else 0
    row = (
        metric_id,
        d.exec_id,
        STEP_NAMES[phase],
        phase,
        start,
        end,
        float(wall),
        0.8 * cpu,
        0.2 * cpu,
        peak,
        int(peak * 0.6),
        int(downloaded * 1.1),
        int(downloaded * 2.2),
        downloaded,
        downloaded,
        d.prof.speed_bps * net * wall_share(d, phase, wall) if downloaded else None,
    )
    for col, value in zip(STEP_COLS, row, strict=True):
        t.steps[col].append(value)


def wall_share(d: _Drawn, phase: str, wall: float) -> float:
    """The share of the line a download had: 1 alone, less while it shared the line."""
    alone = d.phases[phase] - DOWNLOAD_LATENCY
    return 1.0 if wall <= d.phases[phase] else alone / max(wall - DOWNLOAD_LATENCY, 1e-9)


def _td(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _seconds(span: timedelta) -> float:
    return span / timedelta(microseconds=1) / 1e6


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


@dataclass(frozen=True)
class Written:
    """What `create` wrote: how many runs (over all hosts) of which plugins, where."""

    path: Path
    runs: int
    plugins: tuple[str, ...]


def create(request: SimulateRequest) -> Written:
    """Write the request's history; atomically, so a reader never opens half a file."""
    if request.scenario not in SCENARIOS:
        raise UsageError(
            f"unknown scenario {request.scenario!r}; choose from {', '.join(SCENARIOS)}"
        )
    if request.db.is_dir():
        raise UsageError(f"{request.db} is a folder: --db names the history file to write")
    if request.db.exists() and not request.force:
        raise UsageError(f"{request.db} exists; pass --force to replace it")
    plugins = tuple(request.plugins or DEFAULT_PLUGINS)
    tables = generate(
        plugins, request.runs, request.seed, request.hosts, request.scenario, jobs=request.jobs
    )
    tmp = request.db.with_name(request.db.name + ".tmp")
    tmp.unlink(missing_ok=True)
    write(tables, tmp)
    tmp.replace(request.db)
    return Written(request.db, len(tables.runs["run_id"]), plugins)
