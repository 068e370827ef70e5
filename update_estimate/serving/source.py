"""`estimate`: pick the best available source and answer; never leave the caller without one.

Sources, best first: the trained cache (warm path: JSON records, stdlib only); quick statistics
straight from the history when there is no usable cache; wide defaults when the history cannot
be read either (locked by update-all, missing). Each fallback adds a warning for stderr.

Reading the history and loading a stored model need numpy, pandas and darts: serving never
imports them, its caller hands them in (`Fallbacks`), and without them that source is skipped.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from update_estimate import schedule
from update_estimate.errors import EstimateError, NoData, UsageError
from update_estimate.hints import did_you_mean, unknown_plugins
from update_estimate.record import Records, SeriesRecord, Stretch
from update_estimate.requests import EstimateRequest
from update_estimate.serving import cache
from update_estimate.serving.batch import BatchResult, batch
from update_estimate.serving.estimate import EstimateResult, estimate
from update_estimate.serving.memo import Memo
from update_estimate.serving.predictive import AskModel
from update_estimate.serving.tracker import RunTracker

HISTORY_LOCK_TIMEOUT = 0.5


def _hosts(records: Mapping[str, SeriesRecord]) -> dict[str, str]:
    """Each host with its latest successful run."""
    latest: dict[str, str] = {}
    for rec in records.values():
        host, last = rec.host, rec.last_success or ""
        latest[host] = max(latest.get(host, ""), last)
    return latest


def choose_host(hosts: Mapping[str, str], wanted: str | None, warnings: list[str]) -> str | None:
    """The host to answer for, from the hosts with their latest successful run."""
    if wanted:
        if wanted not in hosts and hosts:
            warnings.append(unknown_host(wanted, hosts))
        return wanted
    if not hosts:
        return None
    here = os.uname().nodename  # gethostname(), without importing socket (6 ms)
    if here in hosts:
        return here
    chosen = max(hosts, key=lambda h: hosts[h])
    if len(hosts) > 1:
        warnings.append(
            f"history holds hosts {', '.join(sorted(hosts))}; using {chosen!r} (set --host)"
        )
    return chosen


def unknown_host(host: str, hosts: Iterable[str]) -> str:
    known = sorted(hosts)
    return f"host {host!r} not in the history ({', '.join(known)}){did_you_mean(host, known)}"


def _plugins_of(records: Mapping[str, SeriesRecord], host: str | None) -> list[str]:
    return sorted({r.plugin for r in records.values() if r.host == host and r.phase is None})


def _default_plugins(source: Source, host: str | None) -> list[str]:
    """The host's trained plugins; failing those (its records unreadable), its history's."""
    trained = _plugins_of(source.records, host)
    return trained or list((source.history_plugins or {}).get(host or "", []))


def _stale(generation: cache.Generation, db: Path) -> bool:
    recorded = generation.index.get("history", {})
    try:
        info = db.stat()
    except OSError:
        return False
    return (info.st_mtime, info.st_size) != (recorded.get("mtime"), recorded.get("size"))


# (history, hosts, plugins, lock timeout) -> records made from the history itself
HistoryRecords = Callable[[Path, list[str] | None, list[str] | None, float], Records]
# (cache generation, deadline, warnings) -> a stored model's answer beyond the grid
StoredModels = Callable[[cache.Generation, float, list[str]], AskModel]


class Fallbacks(NamedTuple):
    """The sources serving cannot open itself."""

    history: HistoryRecords | None = None
    models: StoredModels | None = None


@dataclass
class Source:
    """Records from one source, and what was skipped to reach it. A cache's hosts are read
    when first answered for (`take`): a fleet's cache holds thousands of series."""

    name: str
    records: dict[str, SeriesRecord]
    warnings: list[str]
    generation: cache.Generation | None = None
    history_plugins: dict[str, list[str]] | None = None  # None: not known to this source
    run_days: dict[str, dict[int, str]] = field(default_factory=dict)  # per host, run's day
    stretch: dict[str, Stretch] = field(default_factory=dict)  # per host, parallel runs
    hosts: dict[str, str] = field(default_factory=dict)  # each host's latest success
    unread: set[str] = field(default_factory=set)  # the generation's hosts not read yet
    db: Path | None = None  # the history the generation was read for
    failure: str | None = None  # why the history could not be read (defaults answer)

    def take(
        self,
        hosts: Iterable[str | None],
        history: HistoryRecords | None = None,
        deadline: float = math.inf,
    ) -> list[str]:
        """Read these hosts' records from the generation, those not read yet; warnings say
        which could not be read. Those answer from their `history`'s recent runs, as every
        host does when the whole cache is unusable (without it, with defaults)."""
        wanted = [h for h in hosts if h in self.unread]
        self.unread.difference_update(wanted)
        if not wanted or self.generation is None:
            return []
        try:
            data = self.generation.records(wanted)
        except cache.CacheUnusable as exc:
            warning = f"cache unusable ({exc}); run `update-estimate train`"
            return [warning, *self._from_history(wanted, history, deadline)]
        self.records.update(data.series)
        self.run_days.update(data.run_days)
        self.stretch.update(data.stretch)
        return []

    def _from_history(
        self, hosts: list[str], history: HistoryRecords | None, deadline: float
    ) -> list[str]:
        if history is None or self.db is None or not self.db.exists():
            return []
        data, failure = _read_history(history, self.db, hosts, None, deadline)
        if data is not None:
            self.records.update(data.series)
            self.run_days.update(data.run_days)
        return [_with_defaults(failure)] if failure else []


def _read_history(
    history: HistoryRecords,
    db: Path,
    hosts: list[str] | None,
    plugins: list[str] | None,
    deadline: float,
) -> tuple[Records | None, str | None]:
    """Records from the history within the deadline; or None, and why (defaults answer)."""
    if time.monotonic() >= deadline:
        return None, "out of time"
    try:
        timeout = max(min(HISTORY_LOCK_TIMEOUT, deadline - time.monotonic()), 0.0)
        return history(db, hosts, plugins, timeout), None
    except EstimateError as exc:
        return None, str(exc)


def _with_defaults(failure: str | None) -> str:
    return f"{failure}; answering with defaults"


def _from_records(name: str, data: Records, warnings: list[str]) -> Source:
    hosts = _hosts(data.series)
    return Source(
        name, data.series, warnings, None, data.history_plugins, data.run_days, hosts=hosts
    )


def load(
    db: Path,
    cache_dir: Path,
    host: str | None,
    plugins: list[str] | None,
    deadline: float,
    fallbacks: Fallbacks,
) -> Source:
    """Records from the best source at hand."""
    warnings: list[str] = []
    try:
        generation = cache.current(cache_dir)
        if generation is not None:
            hosts = generation.hosts()
            if not db.exists():
                warnings.append(
                    f"no history at {db}; answering from the cache trained on "
                    f"{generation.index.get('history', {}).get('path', 'another file')}"
                )
            elif _stale(generation, db):
                warnings.append("the cache is older than the history; run `update-estimate train`")
            first = host or choose_host(hosts, None, [])
            data = generation.records([first] if first else [])
            return Source(
                "cache",
                data.series,
                warnings,
                generation,
                data.history_plugins,
                data.run_days,
                data.stretch,
                hosts,
                set(hosts) - {first},
                db,
            )
        warnings.append(f"no trained cache in {cache_dir}; run `update-estimate train`")
    except cache.CacheUnusable as exc:
        warnings.append(f"cache unusable ({exc}); run `update-estimate train`")
    if fallbacks.history is None:
        return Source("default", {}, warnings)
    read, failure = _read_history(
        fallbacks.history, db, [host] if host else None, plugins, deadline
    )
    if read is not None:
        return _from_records("history", read, warnings)
    warnings.append(_with_defaults(failure))
    return Source("default", {}, warnings, failure=failure)


def answer(
    source: Source,
    request: EstimateRequest,
    host: str | None,
    deadline: float,
    fallbacks: Fallbacks,
    memo: Memo | None = None,
) -> EstimateResult:
    """The estimate from these records; warnings say what it could not use. `memo`: what
    earlier answers from the same source may share with this one."""
    warnings = list(source.warnings)
    chosen = choose_host(source.hosts, host, warnings)
    warnings.extend(source.take([chosen], fallbacks.history, deadline))
    records = source.records
    plugins = list(request.plugins) or _default_plugins(source, chosen)
    if not plugins:
        why = "the history is empty or unreadable"
        if chosen and source.hosts and chosen not in source.hosts:
            why = unknown_host(chosen, source.hosts)
        elif source.failure:
            why = source.failure
        raise NoData(f"no plugins to estimate: {why}; name them with --plugins")
    if source.name != "default":
        warnings.extend(_unknown_plugins(plugins, records, chosen, source.history_plugins))
        warnings.extend(_before_last_run(request.at, source.hosts.get(chosen or "")))
    slow = None
    if source.generation is not None and fallbacks.models is not None:
        slow = fallbacks.models(source.generation, deadline, warnings)
    asked = replace(request, plugins=plugins)
    stretch = source.stretch.get(chosen or "")
    if stretch and request.jobs == 1 and not (request.done or request.running) and len(plugins) > 1:
        warnings.append(
            f"{chosen} ran plugins side by side; this total is one after another "
            "(--jobs N: N at once)"
        )
    result = estimate(records, chosen, asked, source.name, slow, memo, stretch)
    result.warnings.extend(warnings)
    return result


def answer_hosts(
    source: Source,
    request: EstimateRequest,
    hosts: Sequence[str] | None,
    at_once: bool,
    deadline: float,
    fallbacks: Fallbacks,
    memo: Memo | None = None,
) -> BatchResult:
    """Each host's estimate (default: every host in the records) and the batch's totals, the
    hosts updated one after another or `at_once`."""
    chosen = list(dict.fromkeys(hosts)) if hosts else sorted(source.hosts)
    if not chosen:
        raise NoData(
            "no hosts to estimate: the history is empty or unreadable; name them with --host"
        )
    if request.done or request.running:
        raise UsageError("--done and --running follow one host's run: name one --host")
    memo = memo or Memo()
    results = [answer(source, request, h, deadline, fallbacks, memo) for h in chosen]
    at = request.at or datetime.now()
    result = batch(results, source.run_days, at_once, request.level, at)
    result.warnings = list(source.warnings) + [
        f"{r.host}: {w}" for r in results for w in r.warnings if w not in source.warnings
    ]
    return result


def _unknown_plugins(
    plugins: list[str],
    records: Mapping[str, SeriesRecord],
    host: str | None,
    history_plugins: dict[str, list[str]] | None,
) -> list[str]:
    """Plugins answered with defaults, and why: a plugin the history has never seen (perhaps
    a typo, perhaps new to update-all) or one the last train left out."""
    known = set(_plugins_of(records, host))
    in_history = (history_plugins or {}).get(host or "", sorted(known))
    missing = [p for p in plugins if p not in known]
    untrained = [
        f"{p} is in the history but not in the trained cache: default estimates "
        "until `update-estimate train` runs"
        for p in missing
        if p in in_history
    ]
    never = unknown_plugins(missing, {host or "": in_history})
    return untrained + [f"{sentence}: default estimates" for sentence in never]


def _before_last_run(at: datetime | None, last: str | None) -> list[str]:
    if at is None or not last or at >= datetime.fromisoformat(last):
        return []
    return [
        f"--at {at:%Y-%m-%d %H:%M} is before the history's last run ({last[:16]}): "
        "the estimate still knows every run up to then"
    ]


def track(
    source: Source,
    plugins: list[str] | None,
    host: str | None,
    start: datetime | None,
    level: float,
    jobs: int = 1,
    mutexes: schedule.Mutexes | None = None,
) -> RunTracker:
    """A tracker for a run of these plugins (default: all the host's), from these records,
    `jobs` at once; its `warnings` say what the source lacked."""
    warnings = list(source.warnings)
    chosen = choose_host(source.hosts, host, warnings)
    warnings.extend(source.take([chosen]))
    names = plugins or _default_plugins(source, chosen)
    if source.name != "default":
        warnings.extend(_unknown_plugins(names, source.records, chosen, source.history_plugins))
    stretch = source.stretch.get(chosen or "")
    return RunTracker(source.records, chosen, names, start, level, warnings, jobs, mutexes, stretch)
