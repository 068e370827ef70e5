"""How live tracking has done on the history itself: each of the last runs replayed event by
event (`history.replay`) against a cache trained on the history as it stood before that run,
next to what the per-plugin `--done/--running` estimate answered at the same moments.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from update_estimate.errors import NoData, NothingUsable
from update_estimate.fitting.backtest import interval_scores
from update_estimate.fitting.train import train
from update_estimate.history.replay import PastRun, copy_before, first_starts, last_runs
from update_estimate.requests import EstimateRequest, TrainRequest
from update_estimate.serving import source
from update_estimate.serving.memo import Memo
from update_estimate.serving.tracker import Progress

Interval = tuple[float, float, float]  # point, lower, upper
DONE = ("success", "failed", "skipped", "timeout", "ended")


@dataclass(frozen=True)
class Checkpoint:
    """One answer during a replayed run, beside the truth that followed."""

    run_id: str
    time: datetime
    event: str
    midpoint: bool  # the tick at the run's midpoint
    actual: float  # seconds that really remained
    tracked: Interval
    per_plugin: Interval  # the `estimate --done --running --elapsed` answer at that moment
    rose: bool  # the point rose while only the clock moved inside a phase within its interval
    seconds: float  # what the event cost, in-process


@dataclass(frozen=True)
class Scores:
    cases: int
    coverage: float
    width: float  # median interval width relative to what remained
    interval_score: float  # median interval score relative to what remained
    mdape: float
    midpoint_mdape: float


@dataclass(frozen=True)
class LiveResult:
    level: float
    runs: int
    tracked: Scores
    per_plugin: Scores
    rises: int
    event_ms: tuple[float, float]  # median, 99th percentile
    checkpoints: list[Checkpoint]


def _triple(progress: Progress) -> Interval:
    r = progress.remaining
    return (r.point, r.lower, r.upper)


def _per_plugin(loaded: source.Source, run: PastRun, progress: Progress, memo: Memo) -> Interval:
    done = [p.plugin for p in progress.plugins if p.state in DONE]
    running = next((p for p in progress.plugins if p.state == "running"), None)
    request = EstimateRequest(
        [p.plugin for p in progress.plugins],
        level=progress.level,
        at=run.start,
        now=progress.time,
        done=done,
        running=running.plugin if running else None,
        elapsed=running.elapsed if running else 0.0,
    )
    answer = source.answer(loaded, request, run.host, math.inf, source.Fallbacks(), memo)
    if answer.remaining is None:  # nothing done or running yet: the whole run is ahead
        total = answer.total["wall_clock_seconds"]
        return (total.point, total.lower, total.upper)
    left = answer.remaining.wall_clock_seconds
    return (left.point, left.lower, left.upper)


def _rose(before: Progress | None, after: Progress, kind: str) -> bool:
    """Only the clock moved (a tick, or download bytes) inside one phase still within its
    interval, and the point went up, though no running plugin had run past the end an
    earlier answer foretold (`revised`)."""
    if before is None or kind not in ("tick", "download"):
        return False
    if any(f.kind in ("overdue", "revised") for f in after.flags):
        return False
    where = [(p.plugin, p.phase) for p in before.plugins if p.state == "running"]
    now = [(p.plugin, p.phase) for p in after.plugins if p.state == "running"]
    return where == now and after.remaining.point > before.remaining.point + 1e-9


def replay(loaded: source.Source, run: PastRun, level: float) -> list[Checkpoint]:
    """Feed one past run's events to a tracker; score every answer before the run's end."""
    tracker = source.track(loaded, list(run.plugins), run.host, run.start, level)
    memo = Memo()
    out: list[Checkpoint] = []
    before: Progress | None = None
    for event in run.events:
        began = time.perf_counter()
        progress = tracker.feed(event)
        cost = time.perf_counter() - began
        if event.kind == "run_end":
            break
        actual = (run.end - progress.time).total_seconds()
        out.append(
            Checkpoint(
                run.run_id,
                progress.time,
                event.kind,
                event.kind == "tick" and event.time == run.midpoint,
                actual,
                _triple(progress),
                _per_plugin(loaded, run, progress, memo),
                _rose(before, progress, event.kind),
                cost,
            )
        )
        before = progress
    return out


def scores(checkpoints: list[Checkpoint], which: str, level: float = 0.9) -> Scores:
    return scored([(c, getattr(c, which)) for c in checkpoints], level)


def scored(cases: list[tuple[Checkpoint, Interval]], level: float = 0.9) -> Scores:
    """Scores of answers at checkpoints: the tracker's, the per-plugin one or any other's."""
    cases = [(c, answer) for c, answer in cases if c.actual > 0]
    if not cases:
        return Scores(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    actual = np.array([c.actual for c, _ in cases])
    point, lower, upper = np.array([answer for _, answer in cases]).T
    ape = np.abs(point - actual) / actual
    mid = [a for a, (c, _) in zip(ape, cases, strict=True) if c.midpoint]
    return Scores(
        len(cases),
        float(np.mean((lower <= actual) & (actual <= upper))),
        float(np.median((upper - lower) / actual)),
        float(np.median(interval_scores(actual, lower, upper, level) / actual)),
        float(np.median(ape)),
        float(np.median(mid)) if mid else math.nan,
    )


def summarise(checkpoints: list[Checkpoint], level: float, runs: int) -> LiveResult:
    costs = sorted(c.seconds * 1000 for c in checkpoints) or [math.nan]
    p99 = costs[min(len(costs) - 1, math.ceil(0.99 * len(costs)) - 1)]
    return LiveResult(
        level,
        runs,
        scores(checkpoints, "tracked", level),
        scores(checkpoints, "per_plugin", level),
        sum(c.rose for c in checkpoints),
        (statistics.median(costs), p99),
        checkpoints,
    )


def evaluate(
    db: Path,
    last: int,
    level: float = 0.9,
    host: str | None = None,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    keep: Path | None = None,
) -> LiveResult:
    """Replay the last `last` runs, each against a cache trained just before it. `keep`: a
    folder where those histories and caches stay, and are reused when a run is replayed
    again (the benchmark's, while serving changes)."""
    runs = last_runs(db, last, host)
    if not runs:
        raise NoData(f"{db} holds no finished run to replay")
    firsts = first_starts(db)
    runs = [r for r in runs if r.host in firsts and r.start > firsts[r.host]]
    if not runs:
        raise NothingUsable(
            "no run to replay: each is replayed against what the runs before it taught, and "
            "the history has only its first run"
        )
    checkpoints: list[Checkpoint] = []
    for done, run in enumerate(runs):
        if progress is not None:
            progress(done, len(runs))
        with _folder(keep, run) as folder:
            cut, cache = folder / "history.duckdb", folder / "cache"
            if not cut.exists():
                copy_before(db, run.start, cut)
                train(TrainRequest(db=cut, cache_dir=cache, hosts=(run.host,), n_jobs=n_jobs))
            loaded = source.load(cut, cache, run.host, None, math.inf, source.Fallbacks())
            checkpoints.extend(replay(loaded, run, level))
    if progress is not None:
        progress(len(runs), len(runs))
    return summarise(checkpoints, level, len(runs))


@contextmanager
def _folder(keep: Path | None, run: PastRun) -> Iterator[Path]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="update-estimate-live-") as folder:
            yield Path(folder)
        return
    kept = keep / f"{run.host}-{run.start:%Y%m%dT%H%M%S}"
    kept.mkdir(parents=True, exist_ok=True)
    yield kept
