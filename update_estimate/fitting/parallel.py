"""Per-series work on a joblib pool, results as they finish, for `train` and `backtest`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]


def each(
    work: Callable[[T], R],
    items: Sequence[T],
    n_jobs: int,
    progress: Progress | None = None,
    done_of: tuple[int, int] | None = None,
) -> list[R]:
    """`work` on every item, in worker processes when `n_jobs` > 1; results in the order they
    finish, each reported to `progress(done, total)`. `done_of`: how many were done before
    these, of how many in all (default: none, of these)."""
    before, total = done_of or (0, len(items))
    outputs: Iterable[R]
    if n_jobs == 1:
        outputs = (work(item) for item in items)
    else:
        from joblib import Parallel, delayed

        runner: Any = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        outputs = runner(delayed(work)(item) for item in items)
    done: list[R] = []
    for output in outputs:
        done.append(output)
        if progress is not None:
            progress(before + len(done), total)
    return done
