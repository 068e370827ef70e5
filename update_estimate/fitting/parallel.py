"""Per-series work on a joblib pool, results as they finish, for `train` and `backtest`.

The pool is local worker processes, or an existing Dask cluster through joblib's dask backend
(`engine` "dask" and the scheduler's address): a fleet's series outgrow one machine, and each
series is independent work of about a second.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from update_estimate.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]
CONNECT_SECONDS = 10.0  # to reach a Dask scheduler before giving up


def each(
    work: Callable[[T], R],
    items: Sequence[T],
    n_jobs: int,
    progress: Progress | None = None,
    done_of: tuple[int, int] | None = None,
    engine: str = "local",
    scheduler: str | None = None,
) -> list[R]:
    """`work` on every item, in worker processes when `n_jobs` > 1 (or on the Dask cluster at
    `scheduler` for `engine` "dask"); results in the order they finish, each reported to
    `progress(done, total)`. `done_of`: how many were done before these, of how many in all
    (default: none, of these)."""
    before, total = done_of or (0, len(items))
    done: list[R] = []
    with _outputs(work, items, n_jobs, engine, scheduler) as outputs:
        for output in outputs:
            done.append(output)
            if progress is not None:
                progress(before + len(done), total)
    return done


@contextlib.contextmanager
def _outputs(
    work: Callable[[T], R], items: Sequence[T], n_jobs: int, engine: str, scheduler: str | None
) -> Iterator[Iterable[R]]:
    dask = engine == "dask"
    if not dask and (n_jobs == 1 or not items):
        yield (work(item) for item in items)
        return
    from joblib import Parallel, delayed

    with _dask(scheduler) if dask else contextlib.nullcontext():
        runner: Any = Parallel(n_jobs=-1 if dask else n_jobs, return_as="generator_unordered")
        yield runner(delayed(work)(item) for item in items)


@contextlib.contextmanager
def _dask(scheduler: str | None) -> Iterator[None]:
    """joblib's dask backend on a client of the cluster at `scheduler`."""
    try:
        from distributed import Client
        from joblib import parallel_config
    except ImportError:
        raise UsageError(
            "--engine dask needs the dask extra: pip install 'update-estimate[dask]'"
        ) from None
    try:
        client = Client(scheduler, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with client, parallel_config(backend="dask"):
        yield
