"""Rich tables and JSON documents; results in, text out. Nothing here computes statistics."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

JSON_SCHEMA_VERSION = 1
VERDICT_STYLE = {"usable": "green", "limited": "yellow", "unusable": "red"}


def json_document(command: str, body: dict[str, Any]) -> str:
    return json.dumps(
        {"schema_version": JSON_SCHEMA_VERSION, "command": command, **body},
        indent=2,
        default=str,
        allow_nan=False,
    )


def human_seconds(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    if value < 90:
        return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"
    if value < 90 * 60:
        return f"{value / 60:.1f} m"
    return f"{value / 3600:.1f} h"


def human_bytes(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def human(metric: str, value: float) -> str:
    return human_seconds(value) if metric.endswith("seconds") else human_bytes(value)


SHORT_METRIC = {
    "wall_clock_seconds": "wall",
    "cpu_seconds": "cpu",
    "memory_peak_bytes": "memory",
    "download_bytes": "download",
}


def validation_table(report: Any) -> Table:
    from rich.table import Table

    table = Table(title="History quality", title_justify="left", caption=_reasons(report))
    table.add_column("host")
    table.add_column("plugin")
    table.add_column("metric")
    for name in ("n", "ok/fail/skip/t-o", "missing", "outliers", "dup ts", "runs/wk"):
        table.add_column(name, justify="right")
    table.add_column("last run")
    table.add_column("verdict")
    for s in report.series:
        style = VERDICT_STYLE[s.verdict]
        table.add_row(
            s.host,
            s.plugin,
            SHORT_METRIC.get(s.metric, s.metric),
            str(s.samples),
            f"{s.success}/{s.failed}/{s.skipped}/{s.timeout}",
            str(s.missing),
            str(s.outliers),
            str(s.duplicate_timestamps),
            f"{s.runs_per_week:.1f}",
            s.last[:16],
            f"[{style}]{s.verdict}[/{style}]",
        )
    return table


def _reasons(report: Any) -> str | None:
    lines = [
        f"{s.host}/{s.plugin}/{SHORT_METRIC.get(s.metric, s.metric)}: {'; '.join(s.reasons)}"
        for s in report.series
        if s.reasons
    ]
    return "\n".join(lines) or None


def validation_json(report: Any) -> str:
    return json_document(
        "validate",
        {"usable": report.any_usable, "series": [asdict(s) for s in report.series]},
    )


def print_table(table: Table, console: Console | None = None) -> None:
    from rich.console import Console

    (console or Console()).print(table)
