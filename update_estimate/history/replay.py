"""Past runs as the events update-all sends during a run: what a `RunTracker` is fed, replayed
from the history to measure it (`backtest --live`, `bench/live_tracking.py`) and to record
the example in `examples/`.

Per execution, in order: plugin_start, then per phase its report (where the plugin reported
before that phase), phase_start and ticks at a quarter, half and three quarters of the phase
(download events, with the bytes so far on a straight line, inside DOWNLOAD), then plugin_end.
A tick at the run's midpoint is added, and run_start and run_end frame it all. A run whose
executions overlap ran side by side: its run_start says as many at once as ran together, and
its events are in time order, the plugins' interleaved (one after another, a skipped plugin's
start at the moment the next one starts would end that one).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from update_estimate.events import END_STATUSES, PHASES, Event
from update_estimate.history.reader import connect
from update_estimate.history.validation import most_at_once

FRACTIONS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class PastRun:
    run_id: str
    host: str
    start: datetime
    end: datetime
    plugins: tuple[str, ...]  # in the order they ran
    events: list[Event]

    @property
    def ran(self) -> tuple[str, ...]:
        """The plugins not skipped: those its caller would have asked about before it, as
        update-all skips a plugin that is disabled or not installed, which it knows."""
        skipped = {
            e.plugin for e in self.events if e.kind == "plugin_end" and e.status == "skipped"
        }
        return tuple(p for p in self.plugins if p not in skipped)

    @property
    def midpoint(self) -> datetime:
        return self.start + (self.end - self.start) / 2


RUNS_SQL = """
SELECT run_id, hostname, start_time, end_time FROM runs
WHERE end_time IS NOT NULL AND end_time > start_time {where}
ORDER BY start_time DESC LIMIT ?
"""
EXECUTIONS_SQL = """
SELECT execution_id, run_id, plugin_name, status, start_time, end_time
FROM plugin_executions WHERE run_id IN (SELECT unnest(?)) ORDER BY start_time, execution_id
"""
PHASES_SQL = """
SELECT execution_id, phase, min(start_time), max(end_time), sum(download_size_bytes)
FROM step_metrics WHERE execution_id IN (SELECT unnest(?)) GROUP BY execution_id, phase
"""
REPORTS_SQL = """
SELECT execution_id, phase, package_count_est, download_bytes_est
FROM estimates WHERE execution_id IN (SELECT unnest(?))
"""


def last_runs(
    path: Path, last: int, host: str | None = None, refresh: float | None = None
) -> list[PastRun]:
    """The last `last` finished runs (of `host`, or of every host), oldest first; runs with
    an execution that never finished (a crash) are left out: no run ended like that.
    `refresh`: also a tick every so many seconds, as a display that refreshes sends."""
    where, params = ("AND hostname = ?", [host]) if host else ("", [])
    with connect(path) as con:
        heads = con.execute(RUNS_SQL.format(where=where), [*params, last]).fetchall()
        ids = [h[0] for h in heads]
        executions = con.execute(EXECUTIONS_SQL, [ids]).fetchall()
        exec_ids = [e[0] for e in executions]
        phases = con.execute(PHASES_SQL, [exec_ids]).fetchall()
        reports = con.execute(REPORTS_SQL, [exec_ids]).fetchall()
    by_run: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for e in executions:
        by_run[e[1]].append(e)
    steps: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for s in phases:
        steps[s[0]].append(s)
    told: dict[tuple[str, str], dict[str, float]] = {}
    for execution_id, phase, count, size in reports:
        values = {"package_count": count, "download_bytes": size}
        told[(execution_id, phase)] = {k: float(v) for k, v in values.items() if v is not None}
    out = []
    for run_id, host_name, start, end in reversed(heads):
        rows = by_run[run_id]
        if any(r[3] not in END_STATUSES or r[4] is None or r[5] is None for r in rows):
            continue
        events = _run_events(start, end, rows, steps, told)
        if refresh:
            events = _with_refresh(events, start, end, refresh)
        plugins = tuple(dict.fromkeys(r[2] for r in rows))
        out.append(PastRun(run_id, host_name, start, end, plugins, events))
    return out


def _run_events(
    start: datetime,
    end: datetime,
    rows: Sequence[tuple[Any, ...]],
    steps: dict[str, list[tuple[Any, ...]]],
    told: dict[tuple[str, str], dict[str, float]],
) -> list[Event]:
    plugins = tuple(dict.fromkeys(r[2] for r in rows))
    ran = [r for r in rows if r[3] != "skipped"]
    jobs = most_at_once([r[4] for r in ran], [r[5] for r in ran]) if ran else 1
    events = [Event("run_start", start, plugins=plugins, jobs=jobs if jobs > 1 else None)]
    for execution_id, _, plugin, status, began, ended in rows:
        events.append(Event("plugin_start", began, plugin))
        order = sorted(steps.get(execution_id, []), key=lambda s: PHASES.index(s[1]))
        for _, phase, p_start, p_end, size in order:
            if (execution_id, phase) in told:
                events.append(Event("report", p_start, plugin, report=told[(execution_id, phase)]))
            events.append(Event("phase_start", p_start, plugin, phase=phase))
            events.extend(_inside(plugin, phase, p_start, p_end, float(size or 0)))
        events.append(Event("plugin_end", ended, plugin, status=status))
    if jobs > 1:  # stable: a plugin's own events keep their order
        events.sort(key=lambda e: e.time or start)
    mid = start + (end - start) / 2
    at = bisect.bisect_right([e.time or start for e in events], mid)
    events.insert(at, Event("tick", mid))
    events.append(Event("run_end", end))
    return events


def _with_refresh(
    events: list[Event], start: datetime, end: datetime, seconds: float
) -> list[Event]:
    ticks = [
        Event("tick", start + timedelta(seconds=seconds * i))
        for i in range(1, int((end - start).total_seconds() / seconds) + 1)
    ]
    merged = sorted(
        [(e.time or start, 0, i, e) for i, e in enumerate(events[:-1])]
        + [(t.time or start, 1, i, t) for i, t in enumerate(ticks)]
    )
    return [e for *_, e in merged] + events[-1:]


def _inside(plugin: str, phase: str, start: datetime, end: datetime, size: float) -> list[Event]:
    seconds = (end - start).total_seconds()
    out = []
    for f in FRACTIONS:
        when = start + timedelta(seconds=seconds * f)
        if phase == "DOWNLOAD" and size > 0:
            out.append(Event("download", when, plugin, downloaded=size * f))
        else:
            out.append(Event("tick", when))
    return out


CUT_SQL = (
    "DELETE FROM estimates WHERE execution_id IN (SELECT execution_id FROM plugin_executions "
    "WHERE run_id IN (SELECT run_id FROM runs WHERE start_time >= ?))",
    "DELETE FROM step_metrics WHERE execution_id IN (SELECT execution_id FROM "
    "plugin_executions WHERE run_id IN (SELECT run_id FROM runs WHERE start_time >= ?))",
    "DELETE FROM plugin_executions WHERE run_id IN (SELECT run_id FROM runs WHERE start_time >= ?)",
    "DELETE FROM runs WHERE start_time >= ?",
)


def first_starts(path: Path) -> dict[str, datetime]:
    """Each host's first run with a plugin execution: nothing was known before it."""
    sql = (
        "SELECT hostname, min(start_time) FROM runs WHERE run_id IN "
        "(SELECT run_id FROM plugin_executions) GROUP BY hostname"
    )
    with connect(path) as con:
        return {str(host): start for host, start in con.execute(sql).fetchall()}


def copy_before(path: Path, before: datetime, dest: Path) -> Path:
    """A copy of the history as it stood when the run at `before` started (the original is
    only read)."""
    import duckdb

    with duckdb.connect() as con:
        con.execute("ATTACH ? AS source (READ_ONLY)", [str(path)])
        con.execute("ATTACH ? AS cut", [str(dest)])
        con.execute("COPY FROM DATABASE source TO cut")
        con.execute("USE cut")
        for sql in CUT_SQL:
            con.execute(sql, [before])
    return dest
