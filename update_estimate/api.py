"""The Python API: what update-all calls in-process, and what the command line calls too.

An `Estimator` opens the cache (or, without one, the history) once and then answers
in-process with the standard library only: before a run, after the check phase with the
plugins' reports, and during the run; answers for the same start time share their work.
`train`, `validate`, `backtest` and `simulate` take the command's options as keywords (or its
request). Mistakes raise the typed exceptions of
`update_estimate.errors` (a `UsageError` for a bad option); nothing prints and nothing exits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from update_estimate.paths import default_cache_dir, default_db
from update_estimate.requests import (
    BacktestRequest,
    EstimateRequest,
    SimulateRequest,
    TrainRequest,
    ValidateRequest,
    check_jobs,
    check_level,
)
from update_estimate.serving import source
from update_estimate.serving.batch import BatchResult
from update_estimate.serving.estimate import EstimateResult
from update_estimate.serving.memo import Memo
from update_estimate.serving.tracker import RunTracker

if TYPE_CHECKING:
    from update_estimate.fitting.backtest import BacktestResult
    from update_estimate.fitting.live import LiveResult
    from update_estimate.fitting.train import TrainResult
    from update_estimate.history.simulate import Written
    from update_estimate.history.validation import ValidationReport
    from update_estimate.record import Records
    from update_estimate.serving.cache import Generation
    from update_estimate.serving.predictive import AskModel

Progress = Callable[[int, int], None]
R = TypeVar("R", EstimateRequest, TrainRequest, BacktestRequest, ValidateRequest, SimulateRequest)


def _records_from_history(
    db: Path, hosts: list[str] | None, plugins: list[str] | None, lock_timeout: float
) -> Records:
    from update_estimate.fitting.fallback import records_from_history

    return records_from_history(db, hosts, plugins, lock_timeout)


def _stored_models(generation: Generation, deadline: float, warnings: list[str]) -> AskModel:
    from update_estimate.fitting.slowpath import SlowPath

    return SlowPath(generation, deadline, warnings)


# Both load numpy, pandas or darts, and only when asked: no cache, or a report beyond the grid.
FALLBACKS = source.Fallbacks(history=_records_from_history, models=_stored_models)


def _request(kind: type[R], request: R | None, options: dict[str, Any]) -> R:
    if request is not None and options:
        raise TypeError("pass a request or keyword options, not both")
    return request if request is not None else kind(**options)


def _estimate_request(
    request: EstimateRequest | Sequence[str] | None, options: dict[str, Any]
) -> EstimateRequest:
    if request is None or isinstance(request, EstimateRequest):
        return _request(EstimateRequest, request, options)
    return EstimateRequest(plugins=request, **options)


def _path(value: Path | str | None, default: Callable[[], Path]) -> Path:
    return default() if value is None else Path(value).expanduser()


class Estimator:
    """Estimates from one history and cache, read once; answers are then computed in-process.

    `db` and `cache_dir` default as on the command line (UPDATE_ESTIMATE_DB, XDG paths);
    `host` to this machine where the history has it. `timeout` bounds each answer's slow
    paths (reading the history, loading a model); an answer always comes. Safe to share
    between threads (a display's and the run's).
    """

    def __init__(
        self,
        db: Path | str | None = None,
        cache_dir: Path | str | None = None,
        *,
        host: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.db = _path(db, default_db)
        self.cache_dir = _path(cache_dir, default_cache_dir)
        self.host = host
        self.timeout = timeout
        self._source = self._load()
        self._memo = Memo()
        self._lock = threading.Lock()  # one answer at a time: they share the memo

    def _load(self) -> source.Source:
        deadline = time.monotonic() + self.timeout
        return source.load(self.db, self.cache_dir, self.host, None, deadline, FALLBACKS)

    def reload(self) -> None:
        """Read the cache again, e.g. after a `train`; answers in a run should not call it."""
        loaded = self._load()
        with self._lock:
            self._source, self._memo = loaded, Memo()

    @property
    def source(self) -> str:
        """Where answers come from: cache, history or default."""
        return self._source.name

    def estimate(
        self, request: EstimateRequest | Sequence[str] | None = None, **options: Any
    ) -> EstimateResult:
        """An estimate for `request`, or for these plugins (all the host's by default) with
        `EstimateRequest`'s fields as keywords: level, at, covariates, done, running,
        elapsed, parallel, now, jobs, mutexes."""
        asked = _estimate_request(request, options)
        with self._lock:
            deadline = time.monotonic() + self.timeout
            return source.answer(self._source, asked, self.host, deadline, FALLBACKS, self._memo)

    def estimate_hosts(
        self,
        request: EstimateRequest | Sequence[str] | None = None,
        *,
        hosts: Sequence[str] | None = None,
        at_once: bool = False,
        **options: Any,
    ) -> BatchResult:
        """Several hosts' next runs and the batch's totals, as `api.estimate_hosts`."""
        asked = _estimate_request(request, options)
        with self._lock:
            deadline = time.monotonic() + self.timeout
            return source.answer_hosts(
                self._source, asked, hosts, at_once, deadline, FALLBACKS, self._memo
            )

    def track(
        self,
        plugins: Sequence[str] | None = None,
        *,
        start: datetime | None = None,
        level: float = 0.9,
        jobs: int = 1,
        mutexes: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    ) -> RunTracker:
        """A tracker for one run of these plugins, in order (default: all the host's),
        starting at `start` (default: its first event's time), `jobs` at once (update-all's
        parallel runs; a run_start event may say it too; `mutexes` as `EstimateRequest`'s).
        Feed it update-all's events (`RunTracker.feed`, or its methods `plugin_start`,
        `phase_start`, `report`, ...); each answers with a `Progress`. A tracker has its own
        memo: one tracker per thread, while the Estimator may be shared."""
        check_level(level)
        check_jobs(jobs, "jobs", "jobs=4")
        with self._lock:
            chosen = list(plugins) if plugins else None
            return source.track(self._source, chosen, self.host, start, level, jobs, mutexes)

    def estimate_json(
        self, request: EstimateRequest | Sequence[str] | None = None, **options: Any
    ) -> str:
        """The same answer as `update-estimate estimate --json` prints."""
        return to_json(self.estimate(request, **options))


def to_json(result: EstimateResult | BatchResult) -> str:
    """An estimate as the `estimate --json` document (schema `estimate.json`)."""
    from update_estimate.face.render import batch_json, estimate_json

    return batch_json(result) if isinstance(result, BatchResult) else estimate_json(result)


def estimate(
    request: EstimateRequest | Sequence[str] | None = None,
    *,
    db: Path | str | None = None,
    cache_dir: Path | str | None = None,
    host: str | None = None,
    timeout: float = 5.0,
    **options: Any,
) -> EstimateResult:
    """One estimate, reading the cache for it alone (an `Estimator` reads it once)."""
    asked = _estimate_request(request, options)
    deadline = time.monotonic() + timeout
    db_path, cache_path = _path(db, default_db), _path(cache_dir, default_cache_dir)
    plugins = list(asked.plugins) or None
    loaded = source.load(db_path, cache_path, host, plugins, deadline, FALLBACKS)
    return source.answer(loaded, asked, host, deadline, FALLBACKS)


def estimate_hosts(
    request: EstimateRequest | Sequence[str] | None = None,
    *,
    hosts: Sequence[str] | None = None,
    at_once: bool = False,
    db: Path | str | None = None,
    cache_dir: Path | str | None = None,
    timeout: float = 5.0,
    **options: Any,
) -> BatchResult:
    """Several hosts' next runs (default: every host in the history) and the batch's totals:
    hosts updated one after another (update-all's `remote run`), or `at_once` (its
    `--parallel`). Options as `EstimateRequest`'s fields, before a run only."""
    asked = _estimate_request(request, options)
    deadline = time.monotonic() + timeout
    db_path, cache_path = _path(db, default_db), _path(cache_dir, default_cache_dir)
    plugins = list(asked.plugins) or None
    loaded = source.load(db_path, cache_path, None, plugins, deadline, FALLBACKS)
    return source.answer_hosts(loaded, asked, hosts, at_once, deadline, FALLBACKS)


def train(
    request: TrainRequest | None = None, *, progress: Progress | None = None, **options: Any
) -> TrainResult:
    """Fit, select and calibrate every series; publish a new cache generation (or nothing,
    when the history has not changed). Options as `TrainRequest`'s fields."""
    from update_estimate.fitting import train as training

    return training.train(_request(TrainRequest, request, options), progress)


def simulate(request: SimulateRequest | None = None, **options: Any) -> Written:
    """Write a synthetic history whose truth is known (`history.truth`). Options as
    `SimulateRequest`'s fields; `db` is required."""
    from update_estimate.history import simulate as simulating

    return simulating.create(_request(SimulateRequest, request, options))


def validate(request: ValidateRequest | None = None, **options: Any) -> ValidationReport:
    """The history's data quality per host, plugin and metric. Options as
    `ValidateRequest`'s fields."""
    from update_estimate.history import validation

    return validation.run(_request(ValidateRequest, request, options))


def backtest(
    request: BacktestRequest | None = None, *, progress: Progress | None = None, **options: Any
) -> BacktestResult:
    """How good the estimates have been on the history's last runs, next to two baselines.
    Options as `BacktestRequest`'s fields."""
    from update_estimate.fitting import backtest as backtesting

    asked = _request(BacktestRequest, request, options)
    return backtesting.evaluate(asked, (asked.with_covariates,), progress)[asked.with_covariates]


def backtest_live(
    request: BacktestRequest | None = None, *, progress: Progress | None = None, **options: Any
) -> LiveResult:
    """Live tracking replayed on the history's last runs (`last`), event by event, each
    against a cache trained just before it, next to the per-plugin `--done/--running`
    answers. Options as `BacktestRequest`'s fields (db, hosts, last, level, n_jobs)."""
    from update_estimate.fitting import live

    asked = _request(BacktestRequest, request, options)
    host = asked.hosts[0] if asked.hosts and len(asked.hosts) == 1 else None
    return live.evaluate(asked.db, asked.last, asked.level, host, asked.n_jobs, progress)
