"""Live run tracking, with the standard library only: fed update-all's events as a run goes
on, it answers after each one what remains of the run, when it should end on the clock, each
plugin's state and remaining time, the download still to come, and flags.

A running plugin's remaining time is that of its current phase, conditioned on the time
already spent in it, plus its later phases, each from its per-phase series (drawn jointly from
the same past runs, so a slow download phase and a slow execute phase come together). After
its check-phase report the plugin's series answer with its reports variant. Plugins still to
come are drawn jointly with it; past runs are weighed by how closely they match the plugins
already done in this run (`neighbours`), so a slow mirror today slows the plugins still to
come. Without per-phase series (a cache trained with --no-phases, the history fallback) the
plugin's whole time answers, conditioned on its time so far. In a run whose plugins run side
by side (its `jobs` above 1: update-all's parallel orchestrator) several run at once, and the
run's remaining time is the makespan of what is left (`makespan.left`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

from update_estimate import schedule
from update_estimate.events import PHASES, Event
from update_estimate.record import SeriesRecord, Stretch, series_key
from update_estimate.requests import percent
from update_estimate.serving import makespan, neighbours, outcomes
from update_estimate.serving.estimate import Finish, finish, record_predictive
from update_estimate.serving.makespan import Underway
from update_estimate.serving.memo import Memo
from update_estimate.serving.predictive import (
    MetricEstimate,
    Predictive,
    default_predictive,
    reported_size,
    shared_single,
    unsized,
)
from update_estimate.serving.remaining import Left, conditioned, remaining
from update_estimate.serving.totals import coherent, from_samples, joint_draws, total

WALL = "wall_clock_seconds"
DOWNLOAD = "download_bytes"
NOTHING = MetricEstimate(0.0, 0.0, 0.0, 0, "joint", "model")


@dataclass
class _Plugin:
    """What the events have said about one plugin in this run."""

    name: str
    state: str = "pending"  # pending, running, or how it ended
    started: datetime | None = None
    phase: str | None = None
    phase_started: datetime | None = None
    phases: list[tuple[str, datetime]] = field(default_factory=list)  # each phase's start
    report: dict[str, float] = field(default_factory=dict)
    downloaded: float = 0.0
    ended: datetime | None = None
    planned: bool = True


@dataclass(frozen=True)
class Flag:
    """Something the display should show: `overdue` (a phase past its interval's upper end:
    probably hanging), `revised` (a plugin, or the run, went on past the end an earlier
    answer foretold: its remaining time was read again, and rose), `limited` (too few past
    runs this long), `no-history` (default estimates), `unplanned` (a plugin not in the run's
    list), `out-of-order` (an event that contradicts an earlier one, or a time before the
    last one)."""

    kind: str
    plugin: str | None
    phase: str | None
    message: str


@dataclass(frozen=True)
class PluginProgress:
    plugin: str
    state: str  # pending, running, success, failed, skipped, timeout
    phase: str | None
    elapsed: float  # seconds since it started (0 before)
    remaining: MetricEstimate  # wall seconds still ahead of it


@dataclass(frozen=True)
class Progress:
    """The answer after one event."""

    time: datetime
    elapsed: float  # seconds since the run started
    remaining: MetricEstimate  # wall seconds until the run ends
    finish: Finish
    download_left: MetricEstimate  # bytes still to download in this run
    plugins: list[PluginProgress]
    flags: list[Flag]
    level: float
    host: str | None
    ended: bool = False
    jobs: int = 1  # plugins at once in this run: above 1, side by side


class RunTracker:
    """One update-all run (or several, one after another: `run_start` begins a new one)."""

    def __init__(
        self,
        records: Mapping[str, SeriesRecord],
        host: str | None,
        plugins: Sequence[str],
        start: datetime | None = None,
        level: float = 0.9,
        warnings: Sequence[str] = (),
        jobs: int = 1,
        mutexes: schedule.Mutexes | None = None,
        stretch: Stretch | None = None,
    ) -> None:
        self._records = records
        self._hood: neighbours.Neighbourhood | None = None
        self.warnings = list(warnings)  # what the source lacked, for stderr
        self.host = host
        self.level = level
        self._jobs = jobs  # a run's, unless its run_start says
        self._locks = schedule.mutexes(mutexes)
        self._stretch = stretch  # the host's parallel runs', where it has any
        self._memo = Memo()
        self._begin(plugins, start, jobs)

    def _begin(self, plugins: Sequence[str], start: datetime | None, jobs: int) -> None:
        """A new run; without a start time, its first event's time is its start. `jobs`
        above 1: its plugins run side by side, that many at once (update-all's parallel
        orchestrator)."""
        self.start = start or datetime.min
        self._clock = start or datetime.min
        self._plugins = {p: _Plugin(p) for p in dict.fromkeys(plugins)}
        self._ended = False
        self.jobs = jobs

    # the events, one method each; every one answers
    def feed(self, event: Event) -> Progress:
        """Take one event and answer. Contradictions are flagged, never raised: a display
        must not break because update-all told it something twice or late."""
        notes: list[Flag] = []
        now = self._advance(event.time, notes)
        if self.start == datetime.min:
            self.start = now
        if event.kind == "run_start":
            self.host = event.host or self.host
            self._begin(event.plugins or list(self._plugins), now, event.jobs or self._jobs)
        elif self._ended:
            notes.append(Flag("out-of-order", event.plugin, None, f"{event.kind} after run_end"))
        elif event.kind == "run_end":
            self._ended = True
        elif event.plugin is not None:
            self._plugin_event(event, self._plugin(event.plugin, notes), now, notes)
        return self._answer(now, notes)

    def progress(self, now: datetime | None = None) -> Progress:
        """The answer at `now` (default: the last event's time) without a new event."""
        last = self._clock if self._clock != datetime.min else datetime.now()
        at = max(now or last, last)
        if self.start == datetime.min:
            self.start = at
        return self._answer(at, [])

    def _advance(self, time: datetime | None, notes: list[Flag]) -> datetime:
        now = time or datetime.now()
        if now < self._clock:
            notes.append(
                Flag(
                    "out-of-order",
                    None,
                    None,
                    f"event time {now:%H:%M:%S} before the last one ({self._clock:%H:%M:%S}); "
                    "the clock stays",
                )
            )
            return self._clock
        self._clock = now
        return now

    def _plugin(self, name: str, notes: list[Flag]) -> _Plugin:
        if name not in self._plugins:
            self._plugins[name] = _Plugin(name, planned=False)
            notes.append(Flag("unplanned", name, None, f"{name} was not in the run's plugins"))
        return self._plugins[name]

    def _plugin_event(self, event: Event, p: _Plugin, now: datetime, notes: list[Flag]) -> None:
        if event.kind == "report":
            p.report = {**p.report, **event.report}
            return
        if event.kind == "download":
            p.downloaded = max(p.downloaded, event.downloaded or 0.0)
            return
        if p.state not in ("pending", "running"):
            notes.append(Flag("out-of-order", p.name, None, f"{event.kind} after {p.name} ended"))
            return
        if p.state == "pending":
            self._start(p, now, notes)
        if event.kind == "phase_start":
            p.phase, p.phase_started = event.phase, now
            p.phases.append((p.phase or "", now))
        elif event.kind == "plugin_end":
            p.state, p.ended = event.status or "success", now

    def _start(self, p: _Plugin, now: datetime, notes: list[Flag]) -> None:
        """In a run of one plugin at a time, one still running when the next starts has ended
        (its end was not told); side by side, more than `jobs` at once is flagged."""
        running = [other for other in self._plugins.values() if other.state == "running"]
        if self.jobs > 1 and len(running) >= self.jobs:
            notes.append(
                Flag(
                    "out-of-order",
                    p.name,
                    None,
                    f"{p.name} started while {len(running)} plugins ran, more than the run's "
                    f"{self.jobs} at once",
                )
            )
        for other in running if self.jobs == 1 else []:
            other.state, other.ended = "ended", now
            notes.append(
                Flag(
                    "out-of-order",
                    other.name,
                    None,
                    f"{p.name} started before {other.name} ended; {other.name} counts as ended "
                    "(plugins side by side: give the run's jobs)",
                )
            )
        p.state, p.started = "running", now

    def run_start(
        self,
        time: datetime | None = None,
        plugins: Sequence[str] | None = None,
        jobs: int | None = None,
    ) -> Progress:
        chosen = tuple(plugins) if plugins else None
        return self.feed(Event("run_start", time, plugins=chosen, jobs=jobs))

    def plugin_start(self, plugin: str, time: datetime | None = None) -> Progress:
        return self.feed(Event("plugin_start", time, plugin))

    def phase_start(self, plugin: str, phase: str, time: datetime | None = None) -> Progress:
        return self.feed(Event("phase_start", time, plugin, phase=phase))

    def report(self, plugin: str, time: datetime | None = None, **values: float) -> Progress:
        return self.feed(Event("report", time, plugin, report=values))

    def download(self, plugin: str, downloaded: float, time: datetime | None = None) -> Progress:
        return self.feed(Event("download", time, plugin, downloaded=downloaded))

    def plugin_end(self, plugin: str, status: str, time: datetime | None = None) -> Progress:
        return self.feed(Event("plugin_end", time, plugin, status=status))

    def tick(self, time: datetime | None = None) -> Progress:
        return self.feed(Event("tick", time))

    def run_end(self, time: datetime | None = None) -> Progress:
        return self.feed(Event("run_end", time))

    # the answer
    def _predictive(self, plugin: str, metric: str, phase: str | None = None) -> Predictive | None:
        """The plugin's predictive for this run, with its report once it has one; a default
        one for a plugin without history (None for a phase without a series)."""
        report = self._plugins[plugin].report if plugin in self._plugins else {}
        own = self._recorded(plugin, metric, report, phase)
        if own is not None or phase is not None:
            return own
        known = tuple(p for name in self._plugins if (p := self._recorded(name, metric)))
        size = reported_size(metric, report)
        return self._memo.get(
            "default", known, (metric, size), partial(default_predictive, metric, known, size)
        )

    def _recorded(
        self,
        plugin: str,
        metric: str,
        report: Mapping[str, float] | None = None,
        phase: str | None = None,
    ) -> Predictive | None:
        """The predictive of the plugin's record (of `phase`), None without one that can
        answer (`unsized`)."""
        key = series_key(self.host, plugin, metric, phase) if self.host else ""
        record = self._records.get(key)
        if record is None or unsized(record, report):
            return None
        return record_predictive(record, self.start, report or None, None, self._memo)[0]

    def _path(self, p: _Plugin, now: datetime) -> Underway:
        """A running plugin's phase and later phases, or its whole time without them, each
        calibrated also on how its own finished phases went."""
        own = self._neighbourhood(p)
        if p.phase in PHASES and p.phase_started is not None:
            ahead = PHASES[PHASES.index(p.phase) :]
            phases = [self._neighbour(p.name, WALL, phase, own) for phase in ahead]
            if all(x is not None for x in phases):
                spent = (now - p.phase_started).total_seconds()
                kept = tuple(x for x in phases if x is not None)
                return Underway(p.name, kept[0], spent, kept[1:], p.phase)
        whole = self._neighbour(p.name, WALL, hood=own)
        assert whole is not None  # a plugin's whole time always answers, by default
        spent = (now - (p.started or now)).total_seconds()
        return Underway(p.name, whole, spent, (), None)

    def _answer(self, now: datetime, notes: list[Flag]) -> Progress:
        level, memo = self.level, self._memo
        states = list(self._plugins.values())
        running = [p for p in states if p.state == "running"]
        # how like this run the past ones were, for this answer
        self._hood = self._neighbourhood()
        elapsed = (now - self.start).total_seconds()
        if self._ended:
            rows = [PluginProgress(p.name, p.state, None, _spent(p, now), NOTHING) for p in states]
            return Progress(
                now,
                elapsed,
                NOTHING,
                finish(now, NOTHING),
                NOTHING,
                rows,
                notes,
                level,
                self.host,
                True,
                self.jobs,
            )
        pending = [p for p in states if p.state == "pending"]
        paths = [self._path(p, now) for p in running]
        # plugins still to come may fail or be skipped, as they have before (`outcomes`)
        walls = [self._to_come(p.name, WALL) for p in pending]
        owns = {x.plugin: remaining(x.now, x.later, x.elapsed, level, memo) for x in paths}
        flags = [*notes, *self._flags(paths, owns)]
        rows = []
        for p in states:
            left = NOTHING
            if p.name in owns and p.state == "running":
                left = owns[p.name].estimate
            elif p.state == "pending":
                left = shared_single(walls[pending.index(p)], level, memo)
            phase = p.phase if p.state == "running" else None
            rows.append(PluginProgress(p.name, p.state, phase, _spent(p, now), left))
        if self.jobs > 1:
            # side by side: the makespan from now, at least each plugin's own remaining time
            overdue = any(own.overdue for own in owns.values())
            names = [p.name for p in pending]
            ahead, revised = self._side_by_side(paths, names, walls, now, overdue)
            run_left = coherent(ahead, [row.remaining for row in rows])
        else:
            path = paths[0] if paths else None
            now_, later, spent = (path.now, path.later, path.elapsed) if path else (None, (), 0.0)
            run = remaining(now_, [*later, *walls], spent, level, memo)
            whole, revised = run.estimate, run.revised
            gap, low, high = self._gaps_left(now, bool(running), len(pending))
            ahead = replace(
                whole, point=whole.point + gap, lower=whole.lower + low, upper=whole.upper + high
            )
            # the run's remaining time is at least each plugin's, on one screen as draw by
            # draw, and at least their lower bounds added up: they run one after another
            run_left = coherent(ahead, [row.remaining for row in rows], summed=True)
        if revised and not any(own.revised for own in owns.values()):
            flags.append(
                Flag(
                    "revised",
                    None,
                    None,
                    "the run has gone on past the end foretold: its remaining time is read "
                    "again from the past runs that took this long",
                )
            )
        downloads = self._download_left(running, pending)
        at = finish(now, run_left)
        return Progress(
            now, elapsed, run_left, at, downloads, rows, flags, level, self.host, False, self.jobs
        )

    def _side_by_side(
        self,
        paths: Sequence[Underway],
        pending: Sequence[str],
        walls: Sequence[Predictive],
        now: datetime,
        overdue: bool,
    ) -> tuple[MetricEstimate, bool]:
        """The remaining makespan of a run whose plugins run `jobs` at once (`makespan.left`),
        its point held while only the clock moves since the run last changed."""
        if not paths and not pending:
            return NOTHING, False
        downloads = {p: self._to_come(p, DOWNLOAD) for p in pending}
        for x in paths:
            own = self._neighbour(x.plugin, DOWNLOAD)
            assert own is not None  # a plugin's whole download always answers, by default
            downloads[x.plugin] = own
        waited = makespan.shared_line(self._stretch)  # whole times that hold the waits
        shares = {
            p: makespan.phase_shares(self._phases(p), self._recorded(p, WALL) if waited else None)
            for p in pending
        }
        return makespan.left(
            paths,
            pending,
            dict(zip(pending, walls, strict=True)),
            downloads,
            shares,
            self.jobs,
            self._locks,
            self.level,
            self._memo,
            (now - self._changed(now)).total_seconds(),
            overdue,
            self._stretch,
        )

    def _changed(self, now: datetime) -> datetime:
        """When a plugin or a phase last started or ended (the run's start before any)."""
        moments = [self.start]
        for p in self._plugins.values():
            moments += [t for t in (p.started, p.phase_started, p.ended) if t is not None]
        return max(t for t in moments if t <= now)

    def _phases(self, plugin: str) -> dict[str, Predictive]:
        return {ph: x for ph in PHASES if (x := self._predictive(plugin, WALL, ph)) is not None}

    def _gaps_left(self, now: datetime, running: bool, pending: int) -> tuple[float, float, float]:
        """update-all's own time between plugins (and before the run's end), which no
        plugin's series holds, as a point and an interval: the gaps seen so far between this
        run's plugins (before a second one: its setting up before the first), for each one
        still to come (none seen yet: none assumed), between the shortest and the longest
        seen (one seen: between nothing and twice it)."""
        started = sorted(
            (p for p in self._plugins.values() if p.started is not None),
            key=lambda p: p.started or now,
        )
        seen = [
            (b.started or now) - a.ended
            for a, b in itertools.pairwise(started)
            if a.ended is not None
        ]
        if not seen:  # before a second plugin: the setting up before the first, if any
            seen = [(started[0].started or now) - self.start] if started else []
        if not seen:
            return 0.0, 0.0, 0.0
        gaps = sorted(max(g.total_seconds(), 0.0) for g in seen)
        mean, low, high = sum(gaps) / len(gaps), gaps[0], gaps[-1]
        if len(gaps) == 1:
            low, high = 0.0, 2 * high
        last_end = max((p.ended for p in started if p.ended is not None), default=None)
        waited = 0.0 if running or last_end is None else (now - last_end).total_seconds()

        def ahead(gap: float) -> float:
            """The gap under way's rest, then one per plugin to come: their sum strays from
            their mean as the square root of how many they are, not as many times."""
            return max(gap - waited, 0.0) + mean * pending + (gap - mean) * math.sqrt(pending)

        return ahead(mean), max(ahead(low), 0.0), ahead(high)

    def _neighbour(
        self,
        plugin: str,
        metric: str,
        phase: str | None = None,
        hood: neighbours.Neighbourhood | None = None,
    ) -> Predictive | None:
        """The predictive, calibrated on the past runs most like this one so far (`hood`:
        judged also by the running plugin's own finished phases)."""
        base = self._predictive(plugin, metric, phase)
        if base is None:
            return None
        hood = hood or self._hood
        if hood is None:
            return base
        return self._memo.get(
            "neighbour", (base, hood), None, partial(neighbours.restrict, base, hood)
        )

    def _to_come(self, plugin: str, metric: str) -> Predictive:
        """A plugin still to start: like the past runs most like this one, and perhaps
        failing or skipped, as it has before."""
        near = self._neighbour(plugin, metric)
        assert near is not None  # a plugin's whole series always answers, by default
        key = series_key(self.host, plugin, metric) if self.host else ""
        record = self._records.get(key)
        found = record.outcomes if record is not None else None
        return self._memo.get(
            "to-come", (near,), plugin, partial(outcomes.mixed, near, found, plugin)
        )

    def _neighbourhood(self, running: _Plugin | None = None) -> neighbours.Neighbourhood | None:
        """How like this run the past ones were: judged by the plugins done (their whole
        time); for the running plugin's own phases, once it has finished one, by the last of
        them alone (a download of nothing foretells an install of nothing, a long one a long
        install: other plugins' luck would only blur that), its nearest OWN_NEIGHBOURS kept
        (the 30 of the run's neighbours left a 60-run history's phases unrestricted)."""
        evidence: list[tuple[Predictive, float]] = []
        finished = list(itertools.pairwise(running.phases)) if running is not None else []
        if running is not None and finished:
            (phase, began), (_, then) = finished[-1]
            part = self._predictive(running.name, WALL, phase)
            evidence.extend([(part, (then - began).total_seconds())] if part else [])
        else:
            for p in self._plugins.values():
                if p.state == "success" and p.ended is not None:
                    whole = self._recorded(p.name, WALL, p.report)
                    evidence.extend([(whole, _spent(p, p.ended))] if whole else [])
        owners = tuple(pred for pred, _ in evidence)
        actuals = tuple(actual for _, actual in evidence)
        fewest = neighbours.OWN_NEIGHBOURS if finished else neighbours.MIN_NEIGHBOURS
        return self._memo.get(
            "neighbourhood",
            owners,
            (actuals, fewest),
            partial(neighbours.neighbourhood, evidence, fewest),
        )

    def _flags(self, paths: Sequence[Underway], owns: Mapping[str, Left]) -> list[Flag]:
        flags = [
            Flag("no-history", p.name, None, f"{p.name} has no history here: default estimates")
            for p in self._plugins.values()
            if p.state in ("pending", "running") and self._recorded(p.name, WALL) is None
        ]
        for path in paths:
            own, name = owns[path.plugin], path.plugin
            where = f"in {path.phase}" if path.phase else "so far"
            spent = f"{name} has spent {path.elapsed:.0f} s {where}"
            if own.overdue:
                flags.append(
                    Flag(
                        "overdue",
                        name,
                        path.phase,
                        f"{spent}, past the upper end of its {percent(self.level)} interval "
                        f"({own.upper:.0f} s): probably hanging; its remaining time is "
                        "conditioned on having run that long",
                    )
                )
            elif own.overrun:
                flags.append(
                    Flag(
                        "limited",
                        name,
                        path.phase,
                        f"{spent}, longer than all but a few of its past runs: its remaining "
                        "time is scaled from its slowest ones",
                    )
                )
            if own.revised and not own.overdue:
                flags.append(
                    Flag(
                        "revised",
                        name,
                        path.phase,
                        f"{spent}, past the end an earlier answer foretold: its remaining "
                        "time is read again from the past runs that took this long",
                    )
                )
        return flags

    def _download_left(
        self, running: Sequence[_Plugin], pending: Sequence[_Plugin]
    ) -> MetricEstimate:
        """Bytes still to come: the plugins to start, and the running ones conditioned on
        what they have downloaded so far (nothing more once they execute)."""
        level, memo = self.level, self._memo
        later = [self._to_come(p.name, DOWNLOAD) for p in pending]
        now = [
            (p.downloaded, own)
            for p in running
            if p.phase != "EXECUTE" and (own := self._neighbour(p.name, DOWNLOAD)) is not None
        ]
        if not now:
            return total(DOWNLOAD, later, level, False, memo) if later else NOTHING
        members = (*(own for _, own in now), *later)
        spent = {i: so_far for i, (so_far, _) in enumerate(now) if so_far > 0}
        draws = memo.get("draws", members, None, lambda: joint_draws(members, memo=memo))
        rows = conditioned(draws, spent)[0]
        parts = [shared_single(p, level, memo) for p in later]
        samples = [sum(row) for row in rows]
        return coherent(from_samples(samples, level, members), parts, summed=True)


def _spent(p: _Plugin, now: datetime) -> float:
    if p.started is None:
        return 0.0
    return max(((p.ended or now) - p.started).total_seconds(), 0.0)
