"""Crafted v1 histories: real DuckDB files made with the shipped DDL, rows spelled out by hand."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from update_estimate.history.simulate import schema_sql

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


@dataclass
class Step:
    phase: str
    wall: float | None
    cpu_user: float | None = None
    cpu_kernel: float | None = None
    memory: int | None = None
    download: int | None = None


@dataclass
class Execution:
    plugin: str
    status: str = "success"
    steps: list[Step] = field(default_factory=list)
    estimates: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    offset_s: float = 0.0
    duration_s: float | None = 60.0


@dataclass
class Run:
    host: str
    start: datetime
    executions: list[Execution]


def create_empty(path: Path, version: int = 1, ddl: str | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute(ddl or schema_sql())
    con.execute("INSERT INTO schema_version (version, description) VALUES (?, 'test')", [version])
    return con


def write_runs(path: Path, runs: list[Run], version: int = 1, reuse: bool = False) -> Path:
    """Write the runs into a new v1 file, or into an existing one with `reuse`."""
    con = duckdb.connect(str(path)) if reuse else create_empty(path, version)
    for run in runs:
        run_id = new_id("run")
        con.execute(
            "INSERT INTO runs (run_id, start_time, end_time, hostname) VALUES (?, ?, ?, ?)",
            [run_id, run.start, run.start + timedelta(hours=1), run.host],
        )
        for ex in run.executions:
            exec_id = new_id("exec")
            start = run.start + timedelta(seconds=ex.offset_s)
            end = None if ex.duration_s is None else start + timedelta(seconds=ex.duration_s)
            con.execute(
                "INSERT INTO plugin_executions (execution_id, run_id, plugin_name, status, "
                "start_time, end_time) VALUES (?, ?, ?, ?, ?, ?)",
                [exec_id, run_id, ex.plugin, ex.status, start, end],
            )
            for step in ex.steps:
                con.execute(
                    "INSERT INTO step_metrics (metric_id, execution_id, step_name, phase, "
                    "wall_clock_seconds, cpu_user_seconds, cpu_kernel_seconds, memory_peak_bytes, "
                    "download_size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        new_id("m"),
                        exec_id,
                        step.phase.lower(),
                        step.phase,
                        step.wall,
                        step.cpu_user,
                        step.cpu_kernel,
                        step.memory,
                        step.download,
                    ],
                )
            for phase, count, size in ex.estimates:
                con.execute(
                    "INSERT INTO estimates (estimate_id, execution_id, phase, package_count_est, "
                    "download_bytes_est) VALUES (?, ?, ?, ?, ?)",
                    [new_id("e"), exec_id, phase, count, size],
                )
    con.close()
    return path


def steady_runs(
    host: str, plugin: str, n: int, start: datetime, wall: float = 30.0, gap_hours: float = 24
) -> list[Run]:
    """n successful runs of one plugin with one EXECUTE step each."""
    return [
        Run(
            host,
            start + timedelta(hours=gap_hours * i),
            [Execution(plugin, steps=[Step("EXECUTE", wall + i % 3, 1.0, 0.5, 1000, 0)])],
        )
        for i in range(n)
    ]
