"""The v1 history reader: one row per plugin execution, per phase, and the file's fingerprint.

The file belongs to update-all: it is opened read-only, never written, and a writer's lock is
waited out briefly and then reported, so a caller can fall back to the cache.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from update_estimate.errors import (
    DatabaseLocked,
    HistoryMissing,
    NoData,
    NotDuckDB,
    SchemaInvalid,
    SchemaNewer,
)
from update_estimate.hints import did_you_mean, every_plugin

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

SUPPORTED_SCHEMA = 1
PHASES = ("CHECK", "DOWNLOAD", "EXECUTE")
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "schema_version": ("version",),
    "runs": ("run_id", "start_time", "end_time", "hostname"),
    "plugin_executions": (
        "execution_id",
        "run_id",
        "plugin_name",
        "status",
        "start_time",
        "end_time",
        "packages_updated",
    ),
    "step_metrics": (
        "execution_id",
        "phase",
        "wall_clock_seconds",
        "cpu_user_seconds",
        "cpu_kernel_seconds",
        "memory_peak_bytes",
        "download_size_bytes",
    ),
    "estimates": ("execution_id", "phase", "download_bytes_est", "package_count_est"),
}


@dataclass(frozen=True)
class History:
    """What the rest of the tool needs from the file, already aggregated.

    `executions` has one row per execution (crashed `running` rows removed), sorted by host,
    plugin and start time, with the four targets, `censored` (timeouts), the plugin's pre-run
    report, `hours_since_success` and its run's start and end. `phases` has one row per
    execution and phase.
    """

    path: Path
    executions: pd.DataFrame
    phases: pd.DataFrame
    fingerprint: dict[str, object]
    duplicate_ids: int = 0
    plugins_by_host: dict[str, list[str]] = field(default_factory=dict)


def _valid(expr: str) -> str:
    """A metric value that can be trusted; NaN for a bad one, so its aggregate becomes missing.

    NULL stays NULL: a step that did not measure something does not spoil the others.
    """
    value = f"CAST({expr} AS DOUBLE)"
    return (
        f"CASE WHEN {value} IS NULL THEN NULL WHEN isfinite({value}) AND {value} >= 0 "
        f"THEN {value} ELSE 'nan'::DOUBLE END"
    )


def _clean(expr: str) -> str:
    return f"CASE WHEN isfinite(CAST({expr} AS DOUBLE)) THEN CAST({expr} AS DOUBLE) END"


def _aggregate(func: str, column: str) -> str:
    return _clean(f"{func}({_valid(column)})")


_CPU_SUM = (
    "CASE WHEN COUNT(cpu_user_seconds) + COUNT(cpu_kernel_seconds) = 0 THEN NULL ELSE SUM("
    + f"COALESCE({_valid('cpu_user_seconds')}, 0) + COALESCE({_valid('cpu_kernel_seconds')}, 0)"
    + ") END"
)
STEP_AGGREGATES = ", ".join(
    (
        _aggregate("SUM", "wall_clock_seconds") + " AS wall_clock_seconds",
        _clean(_CPU_SUM) + " AS cpu_seconds",
        _aggregate("MAX", "memory_peak_bytes") + " AS memory_peak_bytes",
        _aggregate("SUM", "download_size_bytes") + " AS download_bytes",
    )
)

EXECUTIONS_SQL = f"""
WITH steps AS (
    SELECT execution_id, {STEP_AGGREGATES}, COUNT(*) AS steps,
        COUNT(wall_clock_seconds) AS walls_measured
    FROM step_metrics GROUP BY execution_id
), est AS (
    SELECT execution_id,
        arg_min(package_count_est, {{phase_order}})
            FILTER (WHERE package_count_est IS NOT NULL) AS package_count_est,
        arg_min(download_bytes_est, {{phase_order}})
            FILTER (WHERE download_bytes_est IS NOT NULL) AS download_bytes_est
    FROM estimates GROUP BY execution_id
), ex AS (
    SELECT e.execution_id, e.run_id, r.hostname AS host, e.plugin_name AS plugin, e.status,
        COALESCE(e.start_time, r.start_time) AS start_time, e.end_time,
        r.start_time AS run_start, r.end_time AS run_end,
        CASE WHEN COALESCE(s.walls_measured, 0) > 0 THEN s.wall_clock_seconds
             WHEN e.end_time >= e.start_time THEN epoch(e.end_time - e.start_time)
        END AS wall_clock_seconds,
        s.cpu_seconds, s.memory_peak_bytes, s.download_bytes, COALESCE(s.steps, 0) AS steps,
        CAST(est.package_count_est AS DOUBLE) AS package_count_est,
        CAST(est.download_bytes_est AS DOUBLE) AS download_bytes_est,
        e.status = 'timeout' AS censored,
        COALESCE(e.packages_updated, 0) = 0 AND COALESCE(s.download_bytes, 0) = 0 AS idle,
        DENSE_RANK() OVER (PARTITION BY r.hostname ORDER BY r.start_time, e.run_id) - 1
            AS run_number
    FROM plugin_executions e
    JOIN runs r ON r.run_id = e.run_id
    LEFT JOIN steps s ON s.execution_id = e.execution_id
    LEFT JOIN est ON est.execution_id = e.execution_id
    WHERE NOT (e.status = 'running' AND e.end_time IS NULL)
)
SELECT *,
    epoch(start_time - MAX(CASE WHEN status = 'success' THEN start_time END) OVER (
        PARTITION BY host, plugin ORDER BY start_time, execution_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) / 3600.0 AS hours_since_success
FROM ex
WHERE {{where}}
ORDER BY host, plugin, start_time, execution_id
"""

PHASES_SQL = f"""
SELECT m.execution_id, m.phase, {STEP_AGGREGATES}
FROM step_metrics m
JOIN plugin_executions e ON e.execution_id = m.execution_id
JOIN runs r ON r.run_id = e.run_id
WHERE {{where}}
GROUP BY m.execution_id, m.phase
ORDER BY m.execution_id, m.phase
"""

PHASE_ORDER = "CASE phase WHEN 'CHECK' THEN 0 WHEN 'DOWNLOAD' THEN 1 ELSE 2 END"


@contextmanager
def connect(path: Path, lock_timeout: float = 2.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open read-only; retry while a writer holds the lock, then raise DatabaseLocked."""
    import duckdb

    if not path.exists():
        raise HistoryMissing(f"history not found: {path} (set --db or UPDATE_ESTIMATE_DB)")
    if path.is_dir():
        raise NotDuckDB(f"history path is a directory, not a DuckDB file: {path}")
    deadline = time.monotonic() + lock_timeout
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise NotDuckDB(
                    f"not a readable DuckDB database: {path} ({_first_line(exc)})"
                ) from None
            if time.monotonic() >= deadline:
                raise DatabaseLocked(
                    f"history is locked by another process (update-all running?): {path}"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise NotDuckDB(
                f"not a readable DuckDB database: {path} ({_first_line(exc)})"
            ) from None
    try:
        yield con
    finally:
        con.close()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def check_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall()
    present: dict[str, set[str]] = {}
    for table, column in rows:
        present.setdefault(table, set()).add(column)
    missing_tables = [t for t in REQUIRED_COLUMNS if t not in present]
    if missing_tables:
        raise SchemaInvalid(
            f"{path} is not an update-all history: missing tables {', '.join(missing_tables)}"
        )
    missing = [
        f"{t}.{c}" for t, cols in REQUIRED_COLUMNS.items() for c in cols if c not in present[t]
    ]
    if missing:
        raise SchemaInvalid(f"{path} lacks columns of schema v1: {', '.join(missing)}")
    version = con.execute("SELECT MAX(version) FROM schema_version").fetchone()
    found = version[0] if version else None
    if found is None:
        raise SchemaInvalid(f"{path} has an empty schema_version table")
    if found > SUPPORTED_SCHEMA:
        raise SchemaNewer(
            f"{path} has history schema version {found}; this update-estimate reads version "
            f"{SUPPORTED_SCHEMA} (upgrade update-estimate)"
        )


def fingerprint(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Cheap identity of the history's content: row counts and the latest timestamps."""
    row = con.execute(
        """SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM plugin_executions),
                  (SELECT COUNT(*) FROM step_metrics), (SELECT COUNT(*) FROM estimates),
                  (SELECT CAST(MAX(start_time) AS VARCHAR) FROM runs),
                  (SELECT CAST(MAX(end_time) AS VARCHAR) FROM plugin_executions)"""
    ).fetchone()
    assert row is not None
    keys = ("runs", "executions", "steps", "estimates", "last_run_start", "last_end")
    return dict(zip(keys, row, strict=True))


def read_fingerprint(path: Path, lock_timeout: float = 2.0) -> dict[str, object]:
    with connect(path, lock_timeout) as con:
        check_schema(con, path)
        return fingerprint(con)


def read_catalogue(path: Path, lock_timeout: float = 2.0) -> dict[str, list[str]]:
    """Every host's plugins, read without their executions: `train` plans its reads by host."""
    with connect(path, lock_timeout) as con:
        check_schema(con, path)
        return catalogue(con)


def _where(hosts: Sequence[str] | None, plugins: Sequence[str] | None) -> tuple[str, list]:
    clauses, params = ["TRUE"], list[object]()
    if hosts:
        clauses.append(f"host IN ({', '.join('?' * len(hosts))})")
        params.extend(hosts)
    if plugins:
        clauses.append(f"plugin IN ({', '.join('?' * len(plugins))})")
        params.extend(plugins)
    return " AND ".join(clauses), params


def read(
    path: Path,
    hosts: Sequence[str] | None = None,
    plugins: Sequence[str] | None = None,
    lock_timeout: float = 2.0,
) -> History:
    """Read executions and phases for the given hosts and plugins (default: all)."""
    with connect(path, lock_timeout) as con:
        check_schema(con, path)
        where, params = _where(hosts, plugins)
        executions = con.execute(
            EXECUTIONS_SQL.format(phase_order=PHASE_ORDER, where=where), params
        ).df()
        phase_where = where.replace("host IN", "r.hostname IN").replace(
            "plugin IN", "e.plugin_name IN"
        )
        phases = con.execute(PHASES_SQL.format(where=phase_where), params).df()
        fp = fingerprint(con)
        plugins_by_host = catalogue(con)
    if executions.empty:
        scope = []
        if hosts:
            scope.append(f"hosts {', '.join(hosts)}")
        if plugins:
            scope.append(f"plugins {', '.join(plugins)}")
        detail = f" for {' and '.join(scope)}" if scope else ""
        hints = "".join(did_you_mean(p, every_plugin(plugins_by_host)) for p in plugins or ())
        known = sorted(plugins_by_host)
        missing = [h for h in hosts or () if h not in plugins_by_host]
        if missing and known:
            hints += f"; its hosts: {', '.join(known)}"
            hints += "".join(did_you_mean(h, known) for h in missing)
        raise NoData(f"no plugin executions in {path}{detail}{hints}")
    executions["censored"] = executions["censored"].astype(bool)
    # v1 declares execution_id a primary key, but a damaged or hand-made file may repeat one:
    # count each execution once.
    duplicated = executions["execution_id"].duplicated()
    executions = executions[~duplicated].reset_index(drop=True)
    phases = phases.drop_duplicates(["execution_id", "phase"]).reset_index(drop=True)
    return History(path, executions, phases, fp, int(duplicated.sum()), plugins_by_host)


def catalogue(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every host's plugins in the whole file, whatever a read was filtered to: `estimate`
    tells a plugin with no history from one that was left out of the last train."""
    rows = con.execute(
        """SELECT DISTINCT r.hostname, e.plugin_name FROM plugin_executions e
           JOIN runs r USING (run_id) ORDER BY 1, 2"""
    ).fetchall()
    out: dict[str, list[str]] = {}
    for host, plugin in rows:
        out.setdefault(str(host), []).append(str(plugin))
    return out
