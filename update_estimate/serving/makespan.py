"""A run's wall time and peak memory when update-all runs its plugins side by side (`--jobs`).

Each joint draw (one past run's errors happening again to every plugin, wall time, memory and
download together) is replayed through update-all's own schedule (`schedule`): the run's wall
time is that draw's makespan, not the sum of its plugins' times, stretched as the host's own
parallel runs were beyond their schedule, and its peak memory the largest sum of the plugins
running at one time. A plugin's wall time is split over its phases as its per-phase series
split it (all in EXECUTE without them), since mutexes are held per phase; it is on the line
when the draw downloads something. During a run (`left`, for the live tracker) the plugins
running are placed first, each with what remains of it, and the makespan is counted from now.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

from update_estimate import schedule
from update_estimate.record import Stretch
from update_estimate.serving.conformal import median
from update_estimate.serving.memo import Memo
from update_estimate.serving.predictive import MetricEstimate, Predictive, raw, shared_single
from update_estimate.serving.remaining import Held, conditioned, ended_before, hold
from update_estimate.serving.totals import (
    Replay,
    coherent,
    from_samples,
    joint_draws,
    joint_replay,
)

WALL, MEMORY, DOWNLOAD = "wall_clock_seconds", "memory_peak_bytes", "download_bytes"
ALL_EXECUTE = {"CHECK": 0.0, "DOWNLOAD": 0.0, "EXECUTE": 1.0}


def phase_shares(
    phases: Mapping[str, Predictive], whole: Predictive | None = None
) -> dict[str, float]:
    """How a plugin's wall time splits over its phases, from their forecasts' centres. Given
    its `whole` time's predictive (a history whose plugins ran side by side, `shared_line`):
    each phase's share of that, where it is longer than its phases add up to. There the
    execution waited for a slot, a mutex or the line between its phases, and replayed
    through the schedule, which waits itself, it waited twice."""
    sizes = {phase: raw(p.centre) for phase, p in phases.items() if phase in schedule.PHASES}
    total = sum(sizes.values())
    if len(sizes) < len(schedule.PHASES) or total <= 0:
        return dict(ALL_EXECUTE)
    scale = max(total, raw(whole.centre)) if whole is not None else total
    return {phase: sizes[phase] / scale for phase in schedule.PHASES}


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
    own; another by one of them drawn at random (a fixed seed, so answers repeat). With it,
    the history's times carry the line's sharing already (`shared_line`)."""
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
        placed = schedule.place(works, jobs, locks, share_line=not shared_line(stretch))
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


@dataclass(frozen=True)
class Underway:
    """A plugin running now: the predictive of what it is in (its phase, or its whole time
    without per-phase series), the time spent in that, and its later phases' predictives."""

    plugin: str
    now: Predictive
    elapsed: float
    later: tuple[Predictive, ...]
    phase: str | None

    def split(self, now: float, later: Sequence[float]) -> dict[str, float]:
        """A draw of what remains of it, per phase (all in EXECUTE without its phases)."""
        phases = dict.fromkeys(schedule.PHASES, 0.0)
        ahead = schedule.PHASES[schedule.PHASES.index(self.phase or "EXECUTE") :]
        for phase, value in zip(ahead, (now, *later), strict=False):
            phases[phase] = value
        return phases


# Seconds into a stretch where only the clock moves at which a side-by-side run's median is
# read: fixed, so that a later moment always sees a superset of an earlier one's.
CHECKPOINTS = [0.0] + [1.25**i for i in range(100)]


def left(
    running: Sequence[Underway],
    pending: Sequence[str],
    walls: Mapping[str, Predictive],
    downloads: Mapping[str, Predictive],
    shares: Mapping[str, Mapping[str, float]],
    jobs: int,
    locks: schedule.Mutexes,
    level: float,
    memo: Memo,
    since: float = 0.0,
    overdue: bool = False,
    stretch: Stretch | None = None,
) -> tuple[MetricEstimate, bool]:
    """What remains of a run whose plugins run side by side: in each joint draw the running
    plugins conditioned on their time so far (`conditioned`), and the plugins to come (`walls`,
    split over their phases by `shares`) placed after them as update-all's orchestrator
    places them (`replays`); the draw's makespan from now. `downloads`: each plugin's, whether
    a phase of it uses the line; `stretch`: the host's parallel runs' (`shared_line`).

    `since`: seconds since the run last changed (a plugin or phase started or ended). As a
    sequential run's (`remaining`), the point is held from the medians at fixed CHECKPOINTS
    while only the clock moves (`hold`): it rises only once the end it foretold has passed,
    or a running plugin is `overdue`. Also whether the point is such a revision."""
    pending = sorted(pending)
    parts = [x for r in running for x in (r.now, *r.later)]
    members = (*parts, *(walls[p] for p in pending), *(downloads[r.plugin] for r in running))
    members += tuple(downloads[p] for p in pending)
    draws = joint_draws(members, memo=memo)
    share = not shared_line(stretch)
    starts = [sum(1 + len(r.later) for r in running[:i]) for i in range(len(running))]
    wall_at, line_at = len(parts), len(parts) + len(pending)
    ceilings = {s: r.now.seconds_ceiling for s, r in zip(starts, running, strict=True)}

    def makespans(back: float) -> list[float]:
        """Each draw's makespan from the moment `back` seconds before now."""
        spent = {s: max(r.elapsed - back, 0.0) for s, r in zip(starts, running, strict=True)}
        values = []
        for row in conditioned(draws, spent, ceilings)[0]:
            on_line = [v > 0 for v in row[line_at:]]  # the running plugins', then the others'
            works = [
                schedule.Work(r.plugin, r.split(row[s], row[s + 1 : s + len(r.later) + 1]), on)
                for s, r, on in zip(starts, running, on_line, strict=False)
            ]
            for p, wall, on in zip(
                pending, row[wall_at:line_at], on_line[len(running) :], strict=True
            ):
                works.append(schedule.Work(p, {ph: wall * x for ph, x in shares[p].items()}, on))
            placed = schedule.place(works, max(jobs, len(running)), locks, share)
            values.append(max((q.released for q in placed), default=0.0))
        return values

    est = from_samples(makespans(0.0), level, members[:line_at])
    if overdue or since <= 0:
        return est, False
    began = tuple(round(r.elapsed - since, 3) for r in running)
    held: Held | None = None
    for s in CHECKPOINTS[: bisect.bisect_right(CHECKPOINTS, since)]:
        at = memo.get("side-median", members, (began, s), partial(_median_of, makespans, since - s))
        held = hold(held, at, s, held is not None and ended_before(held, s))
    if held is None:
        return est, False
    point = held.value
    est = replace(est, point=point, lower=min(est.lower, point), upper=max(est.upper, point))
    return est, held.revised


def shared_line(stretch: Stretch | None) -> bool:
    """Whether the history's times carry the line's sharing already: its host has run plugins
    side by side (it has a `stretch`), and a download's time then is its time on a shared
    line. Replayed through the schedule, they are not slowed again (as `fitting.stretch`
    replays them): shared once more, a run's remaining time read 14-25% above what remained
    (`bench/RESULTS.md`)."""
    return stretch is not None


def _median_of(makespans: Callable[[float], list[float]], back: float) -> float:
    return median(makespans(back))


def _peak(placed: Sequence[schedule.Placed], memory: Sequence[float]) -> float:
    """The largest sum of the memory of plugins holding a slot at one time: the sum rises
    only when a plugin starts, so the starts are the moments to look at."""
    return max(
        sum(m for q, m in zip(placed, memory, strict=True) if q.start <= p.start < q.released)
        for p in placed
    )
