"""One request type per command, and the input rules they share between the CLI and the API.

A request checks itself when it is made, so a caller's mistake is a `UsageError` however the
library is reached, never a wrong answer. Stdlib only: `estimate` builds one on its warm path.
Messages name the command-line options; the API's keywords have the same names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from update_estimate.errors import UsageError
from update_estimate.paths import default_cache_dir, default_db
from update_estimate.record import METRICS
from update_estimate.reports import checked_reports


def parse_at(value: str | datetime | None, option: str = "--at") -> datetime | None:
    """A time as the history stores it: naive local time. An ISO 8601 text or a datetime;
    one with a time zone is converted to local time."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise UsageError(
                f"{option} {value!r} is not an ISO 8601 time, e.g. 2026-11-28T09:30"
            ) from None
    if value.tzinfo is not None:
        value = value.astimezone().replace(tzinfo=None)
    return value


def check_level(level: float, option: str = "--level") -> float:
    if not 0 < level < 1:
        raise UsageError(f"{option} must be strictly between 0 and 1, e.g. {option} 0.9")
    return level


MAX_JOBS = 64  # plugins at once: the CLI's bound, and a run_start event's


def check_jobs(jobs: int, option: str = "--jobs", example: str = "--jobs 4") -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise UsageError(
            f"{option} must be a whole number of plugins run at once, 1-{MAX_JOBS}, "
            f"not {jobs!r}, e.g. {example}"
        )
    return jobs


def percent(level: float) -> str:
    """`90%`, `99.9%`: a level as it was asked (`--level 0.999` read `its 100% interval`)."""
    return f"{level * 100:.3g}%"


def _names(values: Sequence[str] | str | None, option: str) -> tuple[str, ...] | None:
    """Names as a tuple, None for "all"; a bare string is one name, not its letters. A name
    given twice counts once: `--plugins apt apt` summed apt twice into the total."""
    if values is None:
        return None
    names = (values,) if isinstance(values, str) else tuple(values)
    if any(not isinstance(n, str) or not n.strip() for n in names):
        raise UsageError(f"{option} needs names, e.g. {option} apt snap")
    return tuple(dict.fromkeys(names))


def _at_least(value: float, low: float, option: str) -> None:
    if value < low:
        raise UsageError(f"{option} must be at least {low:g}, e.g. {option} {max(low, 2):g}")


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


ENGINES = ("local", "dask", "ray")  # where train's and backtest's per-series work runs
CLUSTER_EXAMPLES = {"dask": "tcp://10.0.0.5:8786", "ray": "10.0.0.5:6379"}


def _engine(request: TrainRequest | BacktestRequest) -> None:
    """Where per-series work runs: the local pool, or a Dask or Ray cluster at its address."""
    if request.engine not in ENGINES:
        raise UsageError(f"unknown --engine {request.engine!r}; choose from {', '.join(ENGINES)}")
    if request.engine in CLUSTER_EXAMPLES and not request.scheduler:
        raise UsageError(
            f"--engine {request.engine} needs --scheduler (or UPDATE_ESTIMATE_SCHEDULER): the "
            f"cluster's address, e.g. --scheduler {CLUSTER_EXAMPLES[request.engine]}"
        )


def _history_scope(request: TrainRequest | BacktestRequest | ValidateRequest) -> None:
    """The history file, and which of its plugins and hosts, as every command that reads
    one takes them."""
    _set(request, "db", Path(request.db).expanduser())
    _set(request, "plugins", _names(request.plugins, "--plugins"))
    _set(request, "hosts", _names(request.hosts, "--host"))


@dataclass(frozen=True)
class EstimateRequest:
    """What `estimate` is asked: the plugins of the coming run (none: every plugin of the
    host), before it or during it (`done`, `running` for `elapsed` seconds), with the
    reports of their check phase (`covariates`: plugin -> {package_count, download_bytes})."""

    plugins: Sequence[str] = ()
    level: float = 0.9
    at: datetime | None = None
    covariates: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    done: Sequence[str] = ()
    running: str | None = None
    elapsed: float = 0.0
    parallel: bool = False
    now: datetime | None = None  # the clock during a run (default: now), for the finish time
    jobs: int = 1  # plugins update-all runs at once (its parallel orchestrator above 1)
    # plugin -> phase -> mutex names, replacing update-all's declared ones for those plugins
    mutexes: Mapping[str, Mapping[str, Sequence[str]]] | None = None

    def __post_init__(self) -> None:
        _set(self, "plugins", _names(self.plugins, "--plugins") or ())
        _set(self, "done", _names(self.done, "--done") or ())
        _set(self, "at", parse_at(self.at))
        _set(self, "now", parse_at(self.now, "now"))
        _set(self, "covariates", checked_reports(self.covariates))
        check_level(self.level)
        _at_least(self.elapsed, 0, "--elapsed")
        check_jobs(self.jobs)
        if self.mutexes and self.jobs == 1:
            raise UsageError("--mutexes needs --jobs above 1: one at a time, nothing waits")
        if self.jobs > 1 and (self.done or self.running):
            raise UsageError(
                "--jobs answers before a run; during one (--done, --running) plugins are "
                "taken one after another: follow a parallel run with track --jobs"
            )
        if self.elapsed and not self.running:
            raise UsageError("--elapsed needs --running: the plugin that has run that long")
        if self.running and self.running in self.done:
            raise UsageError(f"{self.running} cannot be both --done and --running")
        if self.plugins:
            for name in (*self.done, *([self.running] if self.running else [])):
                if name not in self.plugins:
                    raise UsageError(f"{name} is not among --plugins ({', '.join(self.plugins)})")


@dataclass(frozen=True)
class TrainRequest:
    """What `train` is asked: which history, where the cache goes, and how."""

    db: Path = field(default_factory=default_db)
    cache_dir: Path = field(default_factory=default_cache_dir)
    plugins: Sequence[str] | None = None
    hosts: Sequence[str] | None = None
    n_jobs: int = 2
    phases: bool = True
    include_extras: bool = True
    force: bool = False
    lock_timeout: float = 10.0
    engine: str = "local"  # or "dask", "ray": the per-series work on the cluster at `scheduler`
    scheduler: str | None = None

    def __post_init__(self) -> None:
        _history_scope(self)
        _engine(self)
        _set(self, "cache_dir", Path(self.cache_dir).expanduser())
        _at_least(self.n_jobs, 1, "--n-jobs")
        _at_least(self.lock_timeout, 0, "--wait")


@dataclass(frozen=True)
class BacktestRequest:
    """What `backtest` is asked: the last runs to judge, and the answers to judge them by."""

    db: Path = field(default_factory=default_db)
    plugins: Sequence[str] | None = None
    metrics: Sequence[str] = METRICS
    hosts: Sequence[str] | None = None
    last: int = 20
    level: float = 0.9
    with_covariates: bool = True
    n_jobs: int = 2
    full_race: bool = False
    engine: str = "local"  # or "dask", "ray": the per-series work on the cluster at `scheduler`
    scheduler: str | None = None

    def __post_init__(self) -> None:
        _history_scope(self)
        _engine(self)
        metrics = _names(self.metrics, "--metrics") or METRICS
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise UsageError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
        _set(self, "metrics", metrics)
        check_level(self.level)
        _at_least(self.last, 1, "--last")
        _at_least(self.n_jobs, 1, "--n-jobs")


@dataclass(frozen=True)
class SimulateRequest:
    """What `simulate` is asked: the synthetic history to write, and where."""

    db: Path
    plugins: Sequence[str] | None = None
    runs: int = 300
    seed: int = 0
    hosts: int = 1
    scenario: str = "realistic"
    force: bool = False
    jobs: int = 1  # plugins run at once (update-all's parallel orchestrator when above 1)

    def __post_init__(self) -> None:
        _set(self, "db", Path(self.db).expanduser())
        _set(self, "plugins", _names(self.plugins, "--plugins"))
        _at_least(self.runs, 1, "--runs")
        _at_least(self.hosts, 1, "--hosts")
        check_jobs(self.jobs)


@dataclass(frozen=True)
class ValidateRequest:
    """What `validate` is asked: which history, and which of its hosts and plugins."""

    db: Path = field(default_factory=default_db)
    plugins: Sequence[str] | None = None
    hosts: Sequence[str] | None = None

    def __post_init__(self) -> None:
        _history_scope(self)
