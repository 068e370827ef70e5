"""The live-run event protocol: what update-all tells a `RunTracker` as a run goes on, as
Python values or as one JSON object per line (`update-estimate track`). `PROTOCOL` lists the
events, their fields and when they are sent; every event may also carry `time` (ISO 8601,
local time like the history; default: when it is read).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from update_estimate.errors import UsageError
from update_estimate.reports import beyond_limit
from update_estimate.requests import check_jobs

PROTOCOL_VERSION = 1
# (event, its fields, when update-all sends it): the README's and the man page's table
PROTOCOL = (
    (
        "run_start",
        "plugins (in order), host, jobs (plugins at once): all optional",
        "a run begins (resets the tracker)",
    ),
    ("plugin_start", "plugin", "a plugin starts"),
    ("phase_start", "plugin, phase (CHECK, DOWNLOAD or EXECUTE)", "a plugin enters a phase"),
    (
        "report",
        "plugin, package_count and/or download_bytes",
        "the plugin's check-phase report of its work",
    ),
    ("download", "plugin, bytes (so far, this plugin)", "download progress, where known"),
    (
        "plugin_end",
        "plugin, status (success, failed, skipped or timeout)",
        "a plugin ends",
    ),
    ("tick", "", "the display refreshes: only the clock moved"),
    ("run_end", "", "the run ends"),
)
KINDS = tuple(kind for kind, _, _ in PROTOCOL)
PHASES = ("CHECK", "DOWNLOAD", "EXECUTE")
END_STATUSES = ("success", "failed", "skipped", "timeout")
REPORT_FIELDS = ("package_count", "download_bytes")
NEEDS_PLUGIN = ("plugin_start", "phase_start", "report", "download", "plugin_end")


class EventError(UsageError):
    """An event that cannot be read; the run goes on without it."""


@dataclass(frozen=True)
class Event:
    kind: str
    time: datetime | None = None
    plugin: str | None = None
    phase: str | None = None
    status: str | None = None
    report: dict[str, float] = field(default_factory=dict)
    downloaded: float | None = None
    plugins: tuple[str, ...] | None = None
    host: str | None = None
    jobs: int | None = None  # run_start: plugins run at once (update-all's parallel runs)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise EventError(f"unknown event {self.kind!r}; one of {', '.join(KINDS)}")
        if self.kind in NEEDS_PLUGIN and not self.plugin:
            raise EventError(f'a {self.kind} event names its plugin, e.g. "plugin": "apt"')
        if self.kind == "phase_start" and self.phase not in PHASES:
            raise EventError(f"phase must be one of {', '.join(PHASES)}, not {self.phase!r}")
        if self.kind == "plugin_end" and self.status not in END_STATUSES:
            raise EventError(
                f"status must be one of {', '.join(END_STATUSES)}, not {self.status!r}"
            )
        if self.kind == "report" and not self.report:
            raise EventError(f"a report gives {' and/or '.join(REPORT_FIELDS)}")
        for name, value in self.report.items():
            wrong = beyond_limit(name, value)
            if wrong:
                raise EventError(f"{name} {wrong}")
        if self.jobs is not None:
            try:
                check_jobs(self.jobs, "jobs", '"jobs": 4')
            except UsageError as exc:
                raise EventError(str(exc)) from None
        if self.kind == "download" and self.downloaded is None:
            raise EventError('a download event gives the bytes so far, e.g. "bytes": 1.5e7')


def _number(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EventError(f"{name} must be a number, not {value!r}")
    if value < 0:
        raise EventError(f"{name} must not be negative, not {value!r}")
    return float(value)


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise EventError(
            f"time must be ISO 8601, e.g. 2026-12-03T09:30:00, not {value!r}"
        ) from None
    return parsed.astimezone().replace(tzinfo=None) if parsed.tzinfo else parsed


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise EventError(f"{name} must be a string, not {value!r}")
    return value


def from_json(line: str) -> Event:
    """One event from one JSON line; `EventError` says what is wrong with it."""
    try:
        body = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EventError(f"not JSON ({exc.msg})") from None
    if not isinstance(body, dict):
        raise EventError('an event is a JSON object, e.g. {"event": "tick"}')
    plugins = body.get("plugins")
    if plugins is not None and (
        not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins)
    ):
        raise EventError('plugins must be a list of names, e.g. ["apt", "snap"]')
    report = {k: v for k in REPORT_FIELDS if (v := _number(body, k)) is not None}
    return Event(
        kind=str(body.get("event")),
        time=_time(body.get("time")),
        plugin=_text(body, "plugin"),
        phase=_text(body, "phase"),
        status=_text(body, "status"),
        report=report,
        downloaded=_number(body, "bytes"),
        plugins=tuple(plugins) if plugins is not None else None,
        host=_text(body, "host"),
        jobs=body.get("jobs"),
    )


def to_json(event: Event) -> str:
    """The event as one JSON line, as `from_json` reads it."""
    body: dict[str, Any] = {"event": event.kind}
    if event.time is not None:
        body["time"] = event.time.isoformat(timespec="seconds")
    optional = {
        "plugin": event.plugin,
        "phase": event.phase,
        "status": event.status,
        "bytes": event.downloaded,
        "plugins": list(event.plugins) if event.plugins is not None else None,
        "host": event.host,
        "jobs": event.jobs,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    body.update(event.report)
    return json.dumps(
        {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in body.items()},
        separators=(", ", ": "),
    )
