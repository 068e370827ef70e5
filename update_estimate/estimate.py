"""`estimate`: pick the best available source and answer; never leave the caller without one.

Sources, best first: the trained cache (warm path: JSON records, stdlib only); quick statistics
straight from the history when there is no usable cache; wide defaults when the history cannot
be read either (locked by update-all, missing). Each fallback adds a warning for stderr.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from update_estimate import cache, forecast
from update_estimate.errors import EstimateError, NoData

HISTORY_LOCK_TIMEOUT = 0.5


def _hosts(records: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Each host with its latest successful run."""
    latest: dict[str, str] = {}
    for rec in records.values():
        host, last = rec["host"], rec.get("last_success") or ""
        latest[host] = max(latest.get(host, ""), last)
    return latest


def choose_host(
    records: Mapping[str, Mapping[str, Any]], wanted: str | None, warnings: list[str]
) -> str | None:
    hosts = _hosts(records)
    if wanted:
        if wanted not in hosts and hosts:
            warnings.append(f"host {wanted!r} not in the history ({', '.join(sorted(hosts))})")
        return wanted
    if not hosts:
        return None
    here = socket.gethostname()
    if here in hosts:
        return here
    chosen = max(hosts, key=lambda h: hosts[h])
    if len(hosts) > 1:
        warnings.append(
            f"history holds hosts {', '.join(sorted(hosts))}; using {chosen!r} (set --host)"
        )
    return chosen


def _plugins_of(records: Mapping[str, Mapping[str, Any]], host: str | None) -> list[str]:
    return sorted(
        {r["plugin"] for r in records.values() if r["host"] == host and r.get("phase") is None}
    )


def _stale(generation: cache.Generation, db: Path) -> bool:
    recorded = generation.manifest.get("history", {})
    try:
        info = db.stat()
    except OSError:
        return False
    return (info.st_mtime, info.st_size) != (recorded.get("mtime"), recorded.get("size"))


@dataclass(frozen=True)
class Source:
    name: str
    records: dict[str, Any]
    generation: cache.Generation | None = None


def load_records(
    db: Path,
    cache_dir: Path,
    host: str | None,
    plugins: list[str] | None,
    deadline: float,
    warnings: list[str],
) -> Source:
    """Records from the best source at hand; what was skipped goes to `warnings`."""
    try:
        generation = cache.current(cache_dir)
        if generation is not None:
            records = generation.records()["series"]
            if _stale(generation, db):
                warnings.append("the cache is older than the history; run `update-estimate train`")
            return Source("cache", records, generation)
        warnings.append(f"no trained cache in {cache_dir}; run `update-estimate train`")
    except cache.CacheUnusable as exc:
        warnings.append(f"cache unusable ({exc}); run `update-estimate train`")
    if time.monotonic() >= deadline:
        warnings.append("out of time: answering with defaults")
        return Source("default", {})
    try:
        from update_estimate.fallback import records_from_history

        timeout = max(min(HISTORY_LOCK_TIMEOUT, deadline - time.monotonic()), 0.0)
        records = records_from_history(db, [host] if host else None, plugins, timeout)
        return Source("history", records)
    except EstimateError as exc:
        warnings.append(f"{exc}; answering with defaults")
        return Source("default", {})


def run(
    db: Path,
    cache_dir: Path,
    request: forecast.Request,
    host: str | None = None,
    timeout: float = 5.0,
) -> forecast.EstimateResult:
    deadline = time.monotonic() + timeout
    warnings: list[str] = []
    source = load_records(db, cache_dir, host, list(request.plugins) or None, deadline, warnings)
    records = source.records
    chosen = choose_host(records, host, warnings)
    plugins = list(request.plugins) or _plugins_of(records, chosen)
    if not plugins:
        raise NoData(
            "no plugins to estimate: the history is empty or unreadable; name them with --plugins"
        )
    known = set(_plugins_of(records, chosen))
    unknown = [p for p in plugins if p not in known]
    if unknown and source.name != "default":
        warnings.append(f"no history for {', '.join(unknown)}: default estimates")
    slow = None
    if source.generation is not None:
        from update_estimate.slowpath import SlowPath

        slow = SlowPath(source.generation, deadline, warnings)
    result = forecast.estimate(
        records, chosen, replace(request, plugins=plugins), source.name, slow
    )
    result.warnings.extend(warnings)
    return result
