"""Per-series work on a joblib pool, results as they finish, for `train` and `backtest`.

The pool is local worker processes, or an existing cluster through joblib's backends: Dask
(`engine` "dask" and its scheduler's address) or Ray ("ray" and its head's address). A fleet's
series outgrow one machine, and each series is independent work of about a second.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from update_estimate.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]
CONNECT_SECONDS = 10.0  # to reach a Dask scheduler or a Ray head before giving up
RAY_CHUNK = 64  # items per joblib call on Ray, whose backend returns only whole lists


def each(
    work: Callable[[T], R],
    items: Sequence[T],
    n_jobs: int,
    progress: Progress | None = None,
    done_of: tuple[int, int] | None = None,
    engine: str = "local",
    scheduler: str | None = None,
) -> list[R]:
    """`work` on every item, in worker processes when `n_jobs` > 1 (or on the cluster at
    `scheduler` for `engine` "dask" or "ray"); results in the order they finish, each reported
    to `progress(done, total)`. `done_of`: how many were done before these, of how many in all
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
    cluster = {"dask": _dask, "ray": _ray}.get(engine)
    if cluster is None and (n_jobs == 1 or not items):
        yield (work(item) for item in items)
        return
    from joblib import Parallel, delayed

    with cluster(scheduler) if cluster else contextlib.nullcontext():
        if engine == "ray":  # joblib's ray backend returns whole lists only: a chunk at a time
            whole: Any = Parallel(n_jobs=-1)
            yield (
                output
                for i in range(0, len(items), RAY_CHUNK)
                for output in whole(delayed(work)(item) for item in items[i : i + RAY_CHUNK])
            )
            return
        runner: Any = Parallel(n_jobs=-1 if cluster else n_jobs, return_as="generator_unordered")
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


@contextlib.contextmanager
def _ray(address: str | None) -> Iterator[None]:
    """joblib's ray backend on the Ray cluster at `address` (host:port of its head, or
    ray://host:port for a Ray client); left connected if the caller already was."""
    try:
        import ray
        from joblib import parallel_config
        from ray.util.joblib import register_ray
    except ImportError:
        raise UsageError(
            "--engine ray needs the ray extra: pip install 'update-estimate[ray]'"
        ) from None
    started = not ray.is_initialized()
    if started:
        _reachable(address or "", "Ray cluster")  # ray.init would wait for minutes
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
    register_ray()
    try:
        with parallel_config(backend="ray"):
            yield
    finally:
        if started:
            ray.shutdown()


def _reachable(address: str, what: str) -> None:
    """A TCP connection to `address` (scheme://host:port or host:port) within CONNECT_SECONDS."""
    import socket

    host, _, port = address.split("://")[-1].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS):
            return
    except ValueError:
        raise UsageError(f"{what} address {address!r} is not host:port") from None
    except OSError as exc:
        raise UsageError(f"cannot reach the {what} at {address}: {exc}") from None
