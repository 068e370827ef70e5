"""How update-all places a run's plugins in time: one after another, or side by side.

Its parallel orchestrator (opt-in) runs at most `jobs` plugins at once and each phase only
while it holds that phase's mutexes (apt holds the apt and dpkg locks in every phase, snap its
own lock while it installs, ...). At most two downloads run at once, and they share the line:
while two download, each phase moves at half its pace (its latency too, a simplification). A
plugin keeps its slot while it waits for a mutex or a download slot, and for its `after`
teardown once its last phase ends.

With `jobs` 1 nothing ever waits and nothing shares the line: each plugin starts `after` the
previous one ended, which is update-all's sequential orchestrator.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from update_estimate.errors import UsageError

PHASES = ("CHECK", "DOWNLOAD", "EXECUTE")
# update-all's declared phase mutexes (`plugins/*.py`, `core/mutex.StandardMutexes`); plugins
# that declare none are free to overlap.
Mutexes = Mapping[str, Mapping[str, Sequence[str]]]  # plugin -> phase -> mutex names
MUTEXES: dict[str, dict[str, tuple[str, ...]]] = {
    "apt": {phase: ("pkgmgr:apt", "pkgmgr:dpkg") for phase in PHASES},
    "snap": {"EXECUTE": ("pkgmgr:snap",)},
    "texlive-packages": {"EXECUTE": ("pkgmgr:texlive",)},
}
MAX_DOWNLOADS = 2  # update-all's `max_parallel_downloads`
DEFAULT_JOBS = 4  # its `max_parallel_tasks`


@dataclass(frozen=True)
class Work:
    """One plugin's phases as long as they would take alone (in any one unit of time), whether
    its DOWNLOAD phase uses the line (it downloads something), and its teardown."""

    plugin: str
    phases: Mapping[str, float]
    on_line: bool = False
    after: float = 0.0


@dataclass(frozen=True)
class Placed:
    """Time from the run's start: the plugin's start (it got a slot), each phase's start and
    end, and when it let its slot go."""

    start: float
    phases: dict[str, tuple[float, float]]
    released: float


@dataclass
class _Running:
    index: int
    work: Work
    phase: int = 0
    left: float = 0.0
    started: float | None = None  # the current phase's start, None while it waits
    held: tuple[str, ...] = ()
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)


def mutexes(overrides: Mapping[str, Mapping[str, Sequence[str]]] | None) -> Mutexes:
    """update-all's declared mutexes, with a plugin's phases replaced where `overrides` names
    the plugin (a plugin of one's own, or a lock the defaults do not know)."""
    return {**MUTEXES, **(overrides or {})}


def parse_mutexes(text: str, where: str = "--mutexes") -> dict[str, dict[str, tuple[str, ...]]]:
    """`{"plugin": {"PHASE": ["mutex", ...]}}`, checked; a mistake names what and where."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where} is not JSON: {exc.msg} at line {exc.lineno}") from None
    example = '{"apt": {"EXECUTE": ["pkgmgr:apt", "pkgmgr:dpkg"]}}'
    if not isinstance(data, dict):
        raise UsageError(f"{where} must map plugins to their phases' mutexes, e.g. {example}")
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for plugin, phases in data.items():
        if not isinstance(phases, dict):
            raise UsageError(f"{where}: {plugin} must map phases to mutexes, e.g. {example}")
        out[plugin] = {}
        for phase, names in phases.items():
            if phase not in PHASES:
                raise UsageError(
                    f"{where}: {plugin} has phase {phase!r}; phases are {', '.join(PHASES)}"
                )
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise UsageError(f"{where}: {plugin}'s {phase} must list mutex names")
            out[plugin][phase] = tuple(names)
    return out


def place(
    works: Sequence[Work], jobs: int, locks: Mutexes = MUTEXES, share_line: bool = True
) -> list[Placed]:
    """Every plugin of a run placed in time, in the order given (list scheduling); `locks`:
    each plugin's mutexes per phase. `share_line` False: downloads still take a download
    slot, but their times are as they were observed, the line's sharing already in them."""
    out: dict[int, Placed] = {}
    queue = list(enumerate(works))
    running: list[_Running] = []
    teardown: dict[int, float] = {}  # index -> when it lets its slot go
    now = 0.0
    while queue or running or teardown:
        while queue and len(running) + len(teardown) < jobs:
            index, work = queue.pop(0)
            running.append(_Running(index, work))
            out[index] = Placed(now, {}, now)
        _start_phases(running, now, locks)
        active = [r for r in running if r.started is not None]
        downloads = sum(_is_line(r) for r in active)
        rates = {id(r): _rate(r, downloads if share_line else 1) for r in active}
        # the next event at an exact time: a phase's end or a slot let go (adding the
        # durations one by one, as a sequential run does, lands every step where it should)
        ends = {id(r): now + r.left / rates[id(r)] for r in active}
        upcoming = min([*ends.values(), *teardown.values()])
        for r in active:
            r.left = 0.0 if ends[id(r)] <= upcoming else r.left - (upcoming - now) * rates[id(r)]
        now = upcoming
        for r in [r for r in active if r.left <= 0.0]:
            assert r.started is not None
            r.phases[PHASES[r.phase]] = (r.started, now)
            r.started, r.held, r.phase = None, (), r.phase + 1
            if r.phase == len(PHASES):
                running.remove(r)
                teardown[r.index] = now + r.work.after
                out[r.index] = Placed(out[r.index].start, r.phases, teardown[r.index])
        for index in [i for i, released in teardown.items() if released <= now]:
            del teardown[index]
    return [out[i] for i in range(len(works))]


def _is_line(r: _Running) -> bool:
    return PHASES[r.phase] == "DOWNLOAD" and r.work.on_line


def _rate(r: _Running, downloads: int) -> float:
    """Work done per second: a download on a line shared by `downloads` gets its share."""
    return 1.0 / downloads if _is_line(r) and downloads > 1 else 1.0


def _start_phases(running: list[_Running], now: float, locks: Mutexes) -> None:
    """Each waiting phase starts, in the plugins' order, if its mutexes and a download slot
    (for a download on the line) are free."""
    held = {m for r in running for m in r.held}
    downloads = sum(r.started is not None and _is_line(r) for r in running)
    for r in running:
        if r.started is not None:
            continue
        phase = PHASES[r.phase]
        wanted = tuple(locks.get(r.work.plugin, {}).get(phase, ()))
        line = phase == "DOWNLOAD" and r.work.on_line
        if held & set(wanted) or (line and downloads >= MAX_DOWNLOADS):
            continue
        r.started, r.held, r.left = now, wanted, r.work.phases[phase]
        held |= set(wanted)
        downloads += line
