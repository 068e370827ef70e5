"""The simulator's own predictive of what remains of a run under way: its generating process
given what the run has shown by then, the limit `bench/live_tracking.py` scores against.

Seen by then: which plugins ended and how (skipped or not), the running plugin's finished
phases, the phase it is in and for how long, its report once made, and the bytes of every
finished download, which with its time give the run's network speed (`simulate` draws one
factor a run). Drawn as `simulate` draws them: the rest of the running phase given that it has
lasted this long (its noise above what that takes), the phases after it, the plugins to come
(skipped and failing at their rates; a run that crashes never ends, so it is not scored) and
the pauses between plugins. It does not read a download's bytes so far, so a tracker that does
may beat it inside a download.

Side by side (`jobs` above 1), each draw is placed in time by update-all's schedule from the
moment asked about, as `simulate` places a run: the plugins under way first, each with what
remains of it (and of its pause after, while it holds its slot), then those to come, the run
ending 1-5 s after the last. A phase's time so far is counted as it would pass alone: a
download that shared the line with another moved at half its pace meanwhile. Placing those
under way first, in their order, is the one approximation: one that waited for a mutex another
held may take it first in the draw.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from update_estimate import schedule
from update_estimate.events import PHASES
from update_estimate.history import simulate, truth
from update_estimate.history.simulate import PluginProfile

SKIPPED = 0.04 / 0.996  # `simulate`'s skip rate among runs that do not crash
GAP = (0.1, 2.0)  # seconds between one plugin's end and the next one's start
# side by side: seconds of setting up before the first plugin, and after the last one's slot
SETUP, TAIL = (5.0, 40.0), (1.0, 5.0)


@dataclass(frozen=True)
class _Phase:
    start: datetime
    end: datetime
    downloaded: float


@dataclass(frozen=True)
class _Execution:
    plugin: str
    skipped: bool
    start: datetime
    end: datetime
    phases: dict[str, _Phase]
    known: truth.Known | None  # None: an execution that never ended (a crash)


# a plugin's draws side by side: its name, phases (as long as they would take alone), bytes
# downloaded and pause after
_Drawn = tuple[str, dict[str, np.ndarray], np.ndarray, np.ndarray]


@dataclass(frozen=True)
class _Under:
    """A plugin under way, per draw: each phase as long as it would take alone (those ended as
    they were), the bytes it downloads and the weight (the chance of what was seen)."""

    phases: dict[str, np.ndarray]
    size: np.ndarray
    weight: np.ndarray


class LiveTruth:
    """Remaining seconds of any moment of a one-after-another simulated history's runs."""

    def __init__(
        self,
        tables: simulate.Tables,
        scenario_name: str,
        runs: int,
        draws: int = 8000,
        jobs: int = 1,
    ):
        self.scenario = simulate.scenario(scenario_name)
        self.draws = draws
        self.jobs = jobs
        self._starts = dict(tables.rows("runs", "run_id", "start_time"))
        known = truth.known(tables, self.scenario, runs)
        phases: dict[str, dict[str, _Phase]] = defaultdict(dict)
        stepped = ("execution_id", "phase", "start_time", "end_time", "download_size_bytes")
        for execution, phase, start, end, size in tables.rows("steps", *stepped):
            phases[execution][phase] = _Phase(start, end, float(size or 0))
        self._runs: dict[str, list[_Execution]] = defaultdict(list)
        ran = ("execution_id", "run_id", "plugin_name", "status", "start_time", "end_time")
        for execution, run, plugin, status, start, end in tables.rows("executions", *ran):
            self._runs[run].append(
                _Execution(
                    plugin,
                    status == "skipped",
                    start,
                    end,
                    phases[execution],
                    known.get((run, plugin)),
                )
            )

    def remaining(
        self, run_id: str, at: datetime, level: float = 0.9, seed: int = 0
    ) -> tuple[float, float, float]:
        """Median and central `level` interval of the seconds from `at` to the run's end."""
        rng = np.random.default_rng(seed)
        rows = self._runs[run_id]
        done = {id(row): _done(row, rows, at, self.jobs > 1) for row in rows}
        seen = _seen_network(rows, done, at)
        speed = (
            simulate.network(rng, self.scenario, self.draws)
            if seen is None
            else np.full(self.draws, seen)
        )
        if self.jobs > 1:
            left, weight = self._side_by_side(rows, done, self._starts[run_id], at, speed, rng)
            return _quantiles(left, weight, level)
        left, weight = np.zeros(self.draws), np.ones(self.draws)
        last_end: datetime | None = None  # the last plugin that ran to its end, if nothing since
        for row in rows:
            if row.end <= at:
                last_end = None if row.skipped else row.end
            elif row.start <= at:
                under = self._running(row, done[id(row)], at, speed, rng)
                took = sum(under.phases.values()) - (at - row.start).total_seconds()
                left, weight = left + took + rng.uniform(*GAP, len(speed)), weight * under.weight
                last_end = None
            else:
                phases, _, _ = self._drawn(row, speed, rng)
                took = sum(phases.values()) + rng.uniform(*GAP, len(speed))
                left = left + np.where(rng.random(len(speed)) < SKIPPED, 0.0, took)
        if last_end is not None:  # between plugins: the pause, given how long it has lasted
            paused = (at - last_end).total_seconds()
            pause = rng.uniform(max(GAP[0], paused), max(GAP[1], paused), self.draws)
            left = left + pause - paused
        return _quantiles(np.maximum(left, 0.0), weight, level)

    def peak_memory(
        self, run_id: str, level: float = 0.9, seed: int = 0
    ) -> tuple[float, float, float]:
        """Before a run side by side: median and central `level` interval of its peak memory,
        the largest sum of its plugins' peaks (each its phases' highest) among those running
        at one time, each draw placed by the schedule."""
        rng = np.random.default_rng(seed)
        ran = sorted((r for r in self._runs[run_id] if not r.skipped), key=lambda r: r.plugin)
        net = simulate.network(rng, self.scenario, self.draws)
        drawn: list[_Drawn] = []
        memory = []
        for row in ran:
            phases, size, packages = self._drawn(row, net, rng)
            prof = simulate.profile_for(row.plugin)
            noise = rng.lognormal(0, simulate.MEMORY_NOISE, (len(phases), self.draws))
            peaks = [
                simulate.phase_peak(prof, self.scenario, phase, packages, noise[i])
                for i, phase in enumerate(phases)
            ]
            drawn.append((row.plugin, phases, size, rng.uniform(*GAP, self.draws)))
            memory.append(np.max(peaks, axis=0))
        peak = np.zeros(self.draws)
        for d in range(self.draws):
            spans = [(q.start, q.phases["EXECUTE"][1]) for q in _placed(drawn, d, self.jobs)]
            peak[d] = max(
                sum(m[d] for (s, e), m in zip(spans, memory, strict=True) if s <= at < e)
                for at, _ in spans
            )
        return _quantiles(peak, np.ones(self.draws), level)

    def _side_by_side(
        self,
        rows: list[_Execution],
        done: dict[int, dict[str, float]],
        run_start: datetime,
        at: datetime,
        net: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Seconds left per draw and each draw's weight, the run's plugins placed side by side
        from `at` on: those holding a slot first (under way, or in the pause after), then those
        to come, in update-all's order."""
        n = len(net)
        ran = sorted((r for r in rows if not r.skipped), key=lambda r: r.plugin)
        weight = np.ones(n)
        placed: list[_Drawn] = []
        to_come: list[_Drawn] = []
        released = np.full(n, -np.inf)  # seconds from `at` to when the ended plugins left
        nothing = np.zeros(n)
        for row in ran:
            if row.end <= at:
                after = rng.uniform(*GAP, n) - (at - row.end).total_seconds()
                released = np.maximum(released, after)
                if after.max() > 0:  # its pause after may still hold its slot
                    done_with = dict.fromkeys(PHASES, nothing)
                    placed.append((row.plugin, done_with, nothing, np.maximum(after, 0.0)))
            elif row.start <= at:
                under = self._running(row, done[id(row)], at, net, rng)
                weight = weight * under.weight
                gone = done[id(row)]
                left = {p: np.maximum(v - gone.get(p, 0.0), 0.0) for p, v in under.phases.items()}
                placed.append((row.plugin, left, under.size, rng.uniform(*GAP, n)))
            else:
                phases, size, _ = self._drawn(row, net, rng)
                to_come.append((row.plugin, phases, size, rng.uniform(*GAP, n)))
        setup = np.zeros(n)
        if at < min((r.start for r in ran), default=at):  # setting up, above its time so far
            elapsed = (at - run_start).total_seconds()
            setup = rng.uniform(max(SETUP[0], elapsed), max(SETUP[1], elapsed), n) - elapsed
        end = setup + rng.uniform(*TAIL, n)
        for d in range(n):
            last = max(
                [released[d], *(q.released for q in _placed(placed + to_come, d, self.jobs))]
            )
            end[d] += last
        # the run had not ended by `at`: a draw that ends before it cannot have been
        return np.maximum(end, 0.0), weight * (end > 0)

    def _drawn(
        self, row: _Execution, net: np.ndarray, rng: np.random.Generator
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """A plugin still to start: its phases, bytes and packages as `simulate` draws them."""
        prof = simulate.profile_for(row.plugin)
        k = row.known
        assert k is not None
        n = len(net)
        packages = simulate.pending(rng, prof, self.scenario, k.days, k.drift, n)
        size = simulate.download_size(rng, prof, packages, n)
        check, execute = (
            rng.lognormal(0, simulate.CHECK_NOISE, n),
            rng.lognormal(0, simulate.EXECUTE_NOISE, n),
        )
        phases = simulate.phase_walls(prof, packages, size, net, check, execute)
        phases, _ = simulate.settle(prof, phases, _cut(prof, rng, n))
        return phases, size, packages

    def _running(
        self,
        row: _Execution,
        done: dict[str, float],
        at: datetime,
        net: np.ndarray,
        rng: np.random.Generator,
    ) -> _Under:
        """The plugin under way: its work given its report and its finished download, the
        phase it is in drawn above what it has taken so far (`done`: seconds of each phase
        begun, as they would pass alone) and the phases after it."""
        prof = simulate.profile_for(row.plugin)
        n = len(net)
        ended = {p: s for p, s in row.phases.items() if s.end <= at}
        now = next((p for p in PHASES if p in row.phases and p not in ended), "EXECUTE")
        elapsed = done.get(now, 0.0)
        k = _reported_by(row, prof, at)
        counts = np.arange(prof.package_total + 1)
        fetched = ended["DOWNLOAD"].downloaded if "DOWNLOAD" in ended else None
        packages = rng.choice(
            counts, size=n, p=truth.work_pmf(k, self.scenario, prof, counts, fetched)
        )
        weight = np.ones(n)
        # CHECK
        if "CHECK" in ended:
            check = np.full(n, _seconds(ended["CHECK"]) / prof.check_seconds)
        else:
            z, chance = _above(
                rng, np.log(max(elapsed, 1e-9) / prof.check_seconds) / simulate.CHECK_NOISE, n
            )
            check, weight = np.exp(simulate.CHECK_NOISE * z), weight * chance
        # DOWNLOAD: the bytes, which with the run's speed give its time
        if fetched is not None:
            size = np.full(n, fetched)
        else:
            centre, spread = truth.bytes_noise(k, self.scenario, prof, packages)
            floor = np.full(n, -np.inf)
            if now == "DOWNLOAD" and elapsed > simulate.DOWNLOAD_LATENCY:
                needed = (elapsed - simulate.DOWNLOAD_LATENCY) * prof.speed_bps * net
                ratio = needed / (np.maximum(packages, 1) * prof.bytes_per_package)
                floor = np.where(packages > 0, (np.log(ratio) - centre) / spread, np.inf)
            z, chance = _above(rng, floor, n)
            size = np.where(
                packages > 0, packages * prof.bytes_per_package * np.exp(centre + spread * z), 0.0
            )
            weight = weight * chance
        # EXECUTE: given what it has taken so far, when it is the phase under way
        cut = _cut(prof, rng, n)
        floor = np.full(n, -np.inf)
        if now == "EXECUTE" and elapsed > 0:
            full = (prof.exec_overhead + packages * prof.seconds_per_package) * cut
            floor = np.log(elapsed / full) / simulate.EXECUTE_NOISE
        z, chance = _above(rng, floor, n)
        weight = weight * chance
        phases = simulate.phase_walls(
            prof, packages, size, net, check, np.exp(simulate.EXECUTE_NOISE * z)
        )
        # the finished phases as they were (a speed read from a download gives it back)
        for phase in ended:
            phases[phase] = np.full(n, done[phase])
        phases, _ = simulate.settle(prof, phases, cut)
        return _Under(phases, size, weight)


def _placed(drawn: list[_Drawn], d: int, jobs: int) -> list[schedule.Placed]:
    """Draw `d` of each plugin placed by update-all's schedule, `jobs` at once, in order."""
    works = [
        schedule.Work(
            plugin, {p: float(v[d]) for p, v in phases.items()}, bool(size[d] > 0), float(after[d])
        )
        for plugin, phases, size, after in drawn
    ]
    return schedule.place(works, jobs)


def _reported_by(row: _Execution, prof: PluginProfile, at: datetime) -> truth.Known:
    """What the plugin has told by `at`: its report once the phase it reports in has begun."""
    assert row.known is not None
    phase = row.phases.get(prof.estimate_phase or "")
    if phase is not None and phase.start <= at:
        return row.known
    return replace(row.known, packages=None, reported_bytes=None)


def _seen_network(
    rows: list[_Execution], done: dict[int, dict[str, float]], at: datetime
) -> float | None:
    """The run's network speed factor, once a download of something has ended."""
    for row in rows:
        phase = row.phases.get("DOWNLOAD")
        if phase is not None and phase.end <= at and phase.downloaded > 0:
            on_line = done[id(row)]["DOWNLOAD"] - simulate.DOWNLOAD_LATENCY
            return phase.downloaded / (simulate.profile_for(row.plugin).speed_bps * on_line)
    return None


def _done(row: _Execution, rows: list[_Execution], at: datetime, shared: bool) -> dict[str, float]:
    """Seconds of each of `row`'s phases begun by `at`, as they would have passed alone: a
    download of something moves at 1/k of its pace while k such downloads run (`shared`,
    side by side; `schedule`)."""
    out = {}
    for name, phase in row.phases.items():
        if phase.start > at:
            continue
        end = min(phase.end, at)
        out[name] = (end - phase.start).total_seconds()
        if shared and name == "DOWNLOAD" and phase.downloaded > 0:
            out[name] = _alone(phase.start, end, _lines(rows))
    return out


def _lines(rows: list[_Execution]) -> list[tuple[datetime, datetime]]:
    """When each download of something ran."""
    return [
        (r.phases["DOWNLOAD"].start, r.phases["DOWNLOAD"].end)
        for r in rows
        if "DOWNLOAD" in r.phases and r.phases["DOWNLOAD"].downloaded > 0
    ]


def _alone(start: datetime, end: datetime, lines: list[tuple[datetime, datetime]]) -> float:
    """Seconds from `start` to `end` counted at 1/k where k downloads ran (this one too)."""
    cuts = sorted({start, end, *(t for line in lines for t in line if start < t < end)})
    seconds = 0.0
    for a, b in itertools.pairwise(cuts):
        k = sum(s <= a and b <= e for s, e in lines)
        seconds += (b - a).total_seconds() / max(k, 1)
    return seconds


def _cut(prof: PluginProfile, rng: np.random.Generator, n: int) -> np.ndarray:
    """How much of EXECUTE an execution gets through: all, or a failure's part."""
    return np.where(rng.random(n) < prof.fail_prob, rng.uniform(0.05, 0.5, n), 1.0)


def _above(
    rng: np.random.Generator, floor: np.ndarray | float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Standard normal draws above `floor` and the chance of being above it."""
    from scipy import stats

    floor = np.broadcast_to(np.asarray(floor, dtype=float), (n,))
    chance = stats.norm.sf(floor)
    z = stats.norm.isf(chance * (1.0 - rng.random(n)))
    return np.where(chance > 0, z, 0.0), chance


def _seconds(phase: _Phase) -> float:
    return (phase.end - phase.start).total_seconds()


def _quantiles(values: np.ndarray, weight: np.ndarray, level: float) -> tuple[float, float, float]:
    if weight.sum() <= 0:  # nothing drawn could have shown this: the draws as they are
        weight = np.ones(len(values))
    order = np.argsort(values)
    values, weight = values[order], weight[order]
    cumulative = (np.cumsum(weight) - 0.5 * weight) / weight.sum()
    tail = (1 - level) / 2
    lower, point, upper = np.interp([tail, 0.5, 1 - tail], cumulative, values)
    return float(point), float(lower), float(upper)
