"""A run's wall time and peak memory when update-all runs its plugins side by side (`--jobs`).

Each joint draw (one past run's errors happening again to every plugin, wall time, memory and
download together) is replayed through update-all's own schedule (`schedule`): the run's wall
time is that draw's makespan, not the sum of its plugins' times, stretched as the host's own
parallel runs were beyond their schedule, and its peak memory the largest sum of the plugins
running at one time. A plugin's wall time is split over its phases
as its per-phase series split it (all in EXECUTE without them), since mutexes are held per
phase; it is on the line when the draw downloads something.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace

from update_estimate import schedule
from update_estimate.record import Stretch
from update_estimate.serving.memo import Memo
from update_estimate.serving.predictive import MetricEstimate, Predictive, raw, shared_single
from update_estimate.serving.totals import Replay, coherent, from_samples, joint_replay

WALL, MEMORY, DOWNLOAD = "wall_clock_seconds", "memory_peak_bytes", "download_bytes"
ALL_EXECUTE = {"CHECK": 0.0, "DOWNLOAD": 0.0, "EXECUTE": 1.0}


def phase_shares(phases: Mapping[str, Predictive]) -> dict[str, float]:
    """How a plugin's wall time splits over its phases, from their forecasts' centres."""
    sizes = {phase: raw(p.centre) for phase, p in phases.items() if phase in schedule.PHASES}
    whole = sum(sizes.values())
    if len(sizes) < len(schedule.PHASES) or whole <= 0:
        return dict(ALL_EXECUTE)
    return {phase: sizes[phase] / whole for phase in schedule.PHASES}


def replays(
    plugins: Sequence[str],
    per_metric: Mapping[str, Mapping[str, Predictive]],
    shares: Mapping[str, Mapping[str, float]],
    jobs: int,
    locks: schedule.Mutexes = schedule.MUTEXES,
    memo: Memo | None = None,
    stretch: Stretch | None = None,
) -> dict[str, Replay]:
    """The wall time and peak memory of `plugins` run `jobs` at a time, each phase holding its
    `locks`, in each past run replayed. update-all's orchestrator starts them in alphabetical
    order, whatever order they were asked in.

    `stretch`: how much longer the host's past parallel runs took than their schedule's
    makespan (see `fitting.stretch`). A replayed run that was one of them is stretched by its
    own; another by one of them drawn at random (a fixed seed, so answers repeat)."""
    plugins = sorted(plugins)
    n = len(plugins)
    together = [per_metric[m][p] for m in (WALL, MEMORY, DOWNLOAD) for p in plugins]
    runs, draws = joint_replay(together, memo=memo)
    out: dict[str, Replay] = {WALL: [], MEMORY: []}
    known = sorted(stretch.runs.items()) if stretch else []
    rng = random.Random(f"stretch:{len(known)}")
    for run, row in zip(runs, draws, strict=True):
        walls, memory, download = row[:n], row[n : 2 * n], row[2 * n :]
        works = [
            schedule.Work(p, {ph: w * s for ph, s in shares[p].items()}, d > 0)
            for p, w, d in zip(plugins, walls, download, strict=True)
        ]
        placed = schedule.place(works, jobs, locks)
        wall = max(p.released for p in placed)
        if stretch and known:
            own = stretch.runs.get(run) if run is not None else None
            wall = stretch.apply(wall, own if own is not None else rng.choice(known)[1])
        out[WALL].append((run, wall))
        out[MEMORY].append((run, _peak(placed, memory)))
    return out


def totals(
    plugins: Sequence[str],
    per_metric: Mapping[str, Mapping[str, Predictive]],
    replayed: Mapping[str, Replay],
    level: float,
    memo: Memo | None = None,
) -> dict[str, MetricEstimate]:
    """The totals read off the `replays`, held to what each plugin says."""
    memo = memo or Memo()
    out = {}
    for metric, replay in replayed.items():
        parts = [per_metric[metric][p] for p in plugins]
        whole = from_samples([value for _, value in replay], level, parts)
        singles = [shared_single(p, level, memo) for p in parts]
        out[metric] = coherent(replace(whole, model="makespan"), singles)
    return out


def _peak(placed: Sequence[schedule.Placed], memory: Sequence[float]) -> float:
    """The largest sum of the memory of plugins holding a slot at one time: the sum rises
    only when a plugin starts, so the starts are the moments to look at."""
    return max(
        sum(m for q, m in zip(placed, memory, strict=True) if q.start <= p.start < q.released)
        for p in placed
    )
