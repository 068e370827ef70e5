"""One plugin-metric's next-run distribution, from its forecast record: the centre read off the
grid at today's covariates, the out-of-sample residuals of its chosen model (tagged with the run
they came from), and the calibrated interval they give (`conformal`). The point is the centre
moved by the residuals' median where they lean one way (`conformal.bias`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from statistics import NormalDist
from typing import Any, NamedTuple

from update_estimate import reports
from update_estimate.record import (
    CALIBRATION_LEVEL,
    DEFAULT_GAP_HOURS,
    HOST_SHAPE,
    TIMES,
    Idle,
    LoneBreaks,
    SeriesRecord,
    Variant,
)
from update_estimate.reports import REPORTED, reads_reports
from update_estimate.serving import conformal, idle, spread
from update_estimate.serving.interpolation import locate
from update_estimate.serving.memo import Memo

# The fewest residuals of a report's kind to calibrate on them alone. Mixing in the other kind
# costs more than having few: where a third of the runs download (`bursty`), a high floor mixed
# the quiet runs' zeros into a work report's calibration, and the runs that downloaded were
# under-covered. In a new user's first weeks a plugin has a handful of each kind, and its zeros
# stretched a download's interval from nothing to gigabytes: from 3 on, the kind alone answers
# (below 9, with `conformal`'s limited interval).
MIN_SAME_KIND = 3
# The fewest quiet runs to calibrate a time on them alone where the report says nothing to
# do: enough for the symmetric conformal rank. A check's seconds vary less than a run with
# work does, and replayed with the errors of runs that download on a slow day, a re-run's
# interval was wider than the truth's (`bench/RESULTS.md`). Fewer: the spread of the host's
# checks where the record has it (`fitting.pooled.quiet_spread`), else all residuals, where
# the quiet runs alone would give only a limited (uncalibrated) interval.
QUIET_TIMES = conformal.min_residuals(CALIBRATION_LEVEL)
LESS_THAN_ONE = math.log(2.0)  # log1p of one byte: a centre below it is nothing
# With no history anywhere: wide, honest defaults (point, lower, upper).
DEFAULTS: dict[str, tuple[float, float, float]] = {
    "wall_clock_seconds": (60.0, 5.0, 1800.0),
    "cpu_seconds": (30.0, 1.0, 1800.0),
    "memory_peak_bytes": (200e6, 20e6, 2e9),
    "download_bytes": (50e6, 0.0, 2e9),
}
DEFAULT_SPREAD_STEPS = 21
WIDE = math.log(4)  # a series too short to calibrate, with nothing to borrow: a factor of 4
# A run that observed nothing (no download) replays as nothing: a residual landing here, below
# zero on the log1p scale, whatever the centre. Shifted residuals would replay it as a few bytes,
# and a joint total would never reach the zero that a quiet run really totals.
ZERO_LOG = -1.0
# Beyond the cap a draw keeps this share of its excess (log1p units): still rising, barely.
# The cap is 1.5 times the larger of the largest value seen and today's forecast: a forecast
# for a break longer than any seen may exceed what was seen, and its interval must not fold.
CAP_PRESS = 0.1
CAP_MARGIN = math.log(1.5)
# Fewest errors of a plugin's own whose worst bounds the errors its host lends it (`_own_cap`):
# the worst of fewer is too often beaten by the next run.
OWN_CAP_ERRORS = 4


@dataclass(frozen=True)
class MetricEstimate:
    point: float
    lower: float
    upper: float
    data_points: int
    model: str
    basis: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "point": round(self.point, 3),
            "lower": round(self.lower, 3),
            "upper": round(self.upper, 3),
            "data_points": self.data_points,
            "model": self.model,
            "basis": self.basis,
        }


class Predictive(NamedTuple):
    """One plugin-metric's next-run distribution on the log1p scale."""

    centre: float
    residuals: list[float]
    censored: list[bool]
    runs: list[int | None]
    data_points: int
    model: str
    basis: str
    cap: float = math.inf
    # a timeout the plugin is killed at (log1p): no draw passes it, however far it is pressed
    ceiling: float = math.inf
    # per residual, where the kinds answer apart: from a run with nothing to do
    quiet: tuple[bool, ...] = ()
    # the point's residual where the kinds' chance sets it (`_weigh_kinds`); None: the lean
    lean: float | None = None
    # where the kinds answer apart: the chance that today's run has nothing to do, from a
    # short calibration's release rate (`_weigh_kinds`); None: unknown
    nothing: float | None = None
    # whose run this is ("host|plugin"): the seed of its draws where a replayed run lacks it
    source: str = ""

    def value(self, residual: float) -> float:
        """A draw on the log1p scale, pressed hard towards 1.5 times the largest value seen
        (where the host lends errors, 1.5 times its own worst: `_own_cap`).

        Residuals of zero-inflated series (downloads: nothing, then a gigabyte) would otherwise
        put the upper bound of a large forecast at absurd multiples of anything observed. The
        press is strictly monotone, not a clip: a clip sent a forecast beyond the cap to
        [cap, cap, cap], a "90%" interval of zero width. A timeout is a clip (`ceiling`): a
        plugin killed there takes that long, and a forecast beyond it is the timeout.
        """
        v = self.centre + residual
        return min(v if v <= self.cap else self.cap + (v - self.cap) * CAP_PRESS, self.ceiling)

    @property
    def seconds_ceiling(self) -> float:
        """The timeout on the raw scale, infinite where there is none (`raw` reads an infinite
        log value as the largest finite one)."""
        return raw(self.ceiling) if math.isfinite(self.ceiling) else math.inf

    @property
    def floor(self) -> float:
        """Residuals at or below it replay a value of zero: no run can do less."""
        return -self.centre

    def by_run(self) -> dict[int, float]:
        return {r: e for r, e in zip(self.runs, self.residuals, strict=True) if r is not None}


def _hours_since(last: str | None, at: datetime) -> float:
    if not last:
        return DEFAULT_GAP_HOURS
    return max((at - datetime.fromisoformat(last)).total_seconds() / 3600, 0.0)


# What `estimate` may do when covariates fall outside a record's grid: ask the stored model
# (`fitting.slowpath.SlowPath`, handed in by the API).
AskModel = Callable[[SeriesRecord, str, Mapping[str, float]], float | None]


def predictive(
    record: SeriesRecord,
    at: datetime,
    reported: Mapping[str, float] | None,
    slow_path: AskModel | None = None,
) -> tuple[Predictive, bool]:
    """The plugin's forecast for a run at `at`, with its check-phase report when it fits."""
    name, variant, reported = _variant(record.variants, reported or {}, record.metric)
    use_reports = name == "reports"
    values = {"gap_hours": _hours_since(record.last_success, at), **reported}
    place = locate(variant, values)
    calendar = 0.0
    if variant.weekday and variant.hour:
        calendar = variant.weekday[at.weekday()] + variant.hour[at.hour]
    centre, shift = place.centre + calendar, place.shift
    if slow_path is not None and set(place.beyond) - {"gap_hours"}:
        # A report beyond the grid: the stored model knows how its inputs bend. A gap beyond
        # it is ordinary (a re-run minutes later, a year away) and never loads a pickle.
        modelled = slow_path(record, name, values)
        if modelled is not None:
            modelled += calendar
            shift += modelled - centre
            centre = modelled
    deciding = reports.deciding(record.metric, takes(record.variants))
    quiet_now = use_reports and all(values[axis] <= 0 for axis in deciding)
    if quiet_now and variant.quiet_errors and len(variant.quiet) < QUIET_TIMES:
        variant = variant.calibrated_on(list(variant.quiet_errors))
    residuals = list(variant.residuals)
    if variant.spread is not None:
        residuals = spread.rescale(residuals, variant.spread.centres, variant.spread.slope, centre)
    residuals = [r * (1.0 + place.distance) for r in residuals]
    censored, runs = variant.censored, variant.runs
    own_cap = _own_cap(variant, residuals, centre)
    for i in variant.zeros:
        residuals[i] = ZERO_LOG - centre
    kept: Sequence[int] = range(len(residuals))
    if use_reports:
        if variant.zeros:
            kept = same_kind(len(residuals), variant.quiet, quiet_now)
        elif quiet_now and record.metric in TIMES:
            kept = same_kind(len(residuals), variant.quiet, True, QUIET_TIMES)
    apart = _lone_breaks_apart(variant.lone_breaks, values["gap_hours"])
    keep = [i for i in kept if i not in apart]
    quiet: tuple[bool, ...] = ()
    lean, nothing = None, None
    if not use_reports and variant.idle is not None:
        residuals, censored, runs, quiet, lean, nothing = _weigh_kinds(
            variant.idle,
            centre,
            values["gap_hours"],
            residuals,
            censored,
            runs,
            keep,
            levels=record.metric not in TIMES,
            check_errors=variant.quiet_errors,
        )
    else:
        residuals = [residuals[i] for i in keep]
        censored, runs = [censored[i] for i in keep], [runs[i] for i in keep]
    if not residuals:  # too short to calibrate, and nothing to borrow: a wide spread
        residuals = wide_spread(-WIDE, WIDE)
        if record.metric == "download_bytes":
            # a run may find nothing to fetch, as for a plugin never seen (`default_predictive`)
            residuals[0] = ZERO_LOG - centre
        censored, runs = [False] * len(residuals), [None] * len(residuals)
    return (
        Predictive(
            centre=centre,
            residuals=list(residuals),
            censored=list(censored),
            runs=list(runs),
            data_points=record.data_points,
            model=variant.model,
            basis=record.basis,
            cap=max(min(record.cap + max(shift, 0.0), own_cap), centre + CAP_MARGIN),
            ceiling=record.cap if record.stopped else math.inf,
            quiet=quiet,
            lean=lean,
            nothing=nothing,
            source=f"{record.host}|{record.plugin}",
        ),
        use_reports,
    )


def _own_cap(variant: Variant, residuals: Sequence[float], centre: float) -> float:
    """Where errors lent by the host's other plugins calibrate a plugin (its own are too few
    for a rank), no draw reaches beyond its own worst error by more than the cap's margin.
    A plugin of the host that builds (checks of seconds, builds of minutes) lends its builds
    to plugins that never build; the cap of 1.5 times the largest value seen held them until
    the plugin's one run after weeks away lifted it, and a day later its upper bound stood at
    twenty times its point. Its own errors are about the same line, which the break's gap
    explains."""
    if variant.borrowed or None not in variant.runs:
        return math.inf
    zeros = set(variant.zeros)
    rows = zip(residuals, variant.runs, variant.censored, strict=True)
    own = [
        r
        for i, (r, run, censored) in enumerate(rows)
        if run is not None and not censored and i not in zeros
    ]
    return centre + max(own) + CAP_MARGIN if len(own) >= OWN_CAP_ERRORS else math.inf


Tagged = tuple[float, bool, int | None, bool]  # a residual, censored, its run, quiet


class Weighed(NamedTuple):
    """The residuals that answer after `_weigh_kinds`, with their censoring, runs and (where
    the kinds answer apart) kinds; the point's residual where the kinds' chance sets it; and
    where the kinds answer apart, the chance of nothing to do from a short calibration's
    release rate (None: unknown)."""

    residuals: list[float]
    censored: list[bool]
    runs: list[int | None]
    quiet: tuple[bool, ...]
    lean: float | None
    nothing: float | None


def _weigh_kinds(
    quiet: Idle,
    centre: float,
    gap_hours: float,
    residuals: list[float],
    censored: Sequence[bool],
    runs: Sequence[int | None],
    keep: Sequence[int],
    levels: bool,
    check_errors: Sequence[float] = (),
) -> Weighed:
    """Quiet runs replay their own values (nothing to do owes nothing to the gap that moved
    the centre). A run with work that was forecast as if quiet left a residual that was mostly
    the jump between the kinds: it replays its own value, moved down by as far as today's
    centre lies below its forecast and up by as far as it lies above the typical work of its
    day (`fitting.idle.jumps`), so a centre at the level of work does not add the jump twice;
    where today's centre is a short break's, a time's runs with work after longer breaks
    replay their values moved to today's break (jumps no higher), and memory's runs with
    work no lower than their own peaks less the rise with the break (`_lift_work`,
    `levels`).
    Both kinds are weighed by the chance of work after this gap (`idle`), where it is known.
    Where the kinds answer apart (a short calibration of peak memory), runs with work replay
    their own values too, and each residual keeps its kind.

    Where only a release rate is known (a short calibration), the kind it makes unlikely does
    not answer (`idle.one_kind`): memory's interval spans the other kind's level alone where
    the kind is less likely than the interval's miss budget on one side (`_read`; its joint
    draws keep both); time's residuals are the other kind's where it is below ONE_KIND.
    Where both kinds may come, time's point is their mixture's median (`idle.mixture_median`),
    and where each kind has MIN_KIND runs its interval is the mixture's too: quiet runs
    replay their own values, weighed by the release rate's chance as the point weighs them.
    With fewer quiet runs, stand-ins lent by the host's checks (`check_errors`, about the
    median of the quiet runs) make up the quiet kind's share (`_checks_lent`). Where one kind
    alone answers from too few residuals for the two-sided ranks, the point is its typical
    run too: at the host's line, a new plugin's builds after weeks away were answered below
    every build it had run (`tests/test_release_rate.py`).
    Moved with the gap beside the runs with work, a plugin's checks of 12-16 s answered 22 s
    after weeks away, the point on its own lower bound; their own values without the
    weights widened the intervals (`bench/RESULTS.md`). Where the curve of the chance of
    work is fitted instead, a calibration too short for the two-sided ranks takes the same
    mixture median by the curve's chance: its centre, moved only by a significant lean, sat
    between a check and an update beside memory's quiet run. A longer calibration keeps its
    centre, which placed a run better than the likelier kind's typical one. Only the
    residuals at `keep` answer.

    A download's zeros are weighed by the share of the runs after breaks about as long as
    today's that fetched nothing (`idle.zero_chance`), counted rather than read off a curve,
    and never so often that no tenth of the draws fetches something: weighed by a curve, a
    re-run an hour later was given [0 B, 0 B] and every download it made was a miss. A few
    zeros are weighed too where the calibration is long enough for the two-sided ranks
    (`idle.mix`)."""
    marked = set(quiet.runs)
    apart = bool(quiet.work_values)
    nothing = None if quiet.rates is None else idle.quiet_chance(quiet.rates, gap_hours)
    only, work = None, None
    lent: list[Tagged] = []
    lent_share = None  # the quiet kind's share where its host's checks stand in for it
    if nothing is not None and not apart:
        quiet_kept = sum(i in marked for i in keep)
        with_work = len(keep) - quiet_kept
        if check_errors and quiet.values and quiet_kept < idle.MIN_KIND <= with_work:
            level = conformal.median(quiet.values) - centre
            lent = [(level + e, False, None, True) for e in check_errors]
        only = idle.one_kind(nothing, len(lent) or quiet_kept, with_work)
        if lent and only is not False:
            lent_share = 1.0 if only else nothing
        if only is None and min(quiet_kept, with_work) >= idle.MIN_KIND:
            work = 1.0 - nothing  # both kinds answer, weighed as the point weighs them
    if nothing is None or apart or only is True or work is not None:
        for i, value in zip(quiet.runs, quiet.values, strict=True):
            residuals[i] = value - centre
    jumps = zip(
        quiet.jumps, quiet.jump_values, quiet.jump_forecasts, quiet.typical_work, strict=True
    )
    for i, value, forecast, typical in jumps:
        residuals[i] = value + min(centre - forecast, 0.0) + max(centre - typical, 0.0) - centre
    _lift_work(quiet, marked, centre, gap_hours, residuals, levels)
    if apart:
        working = (i for i in range(len(residuals)) if i not in marked)
        for i, value in zip(working, quiet.work_values, strict=True):
            residuals[i] = value - centre
    curve = None if quiet.odds is None else idle.chance_of_work(quiet.odds, gap_hours)
    if quiet.breaks is not None and keep:
        share = sum(i in marked for i in keep) / len(keep)
        curve = 1.0 - idle.zero_chance(quiet.breaks, gap_hours, share)
    quiet_now = nothing if only is None else None  # the chance the point weighs the kinds by
    short = len(keep) < conformal.min_two_sided(CALIBRATION_LEVEL)
    if curve is not None and short:
        quiet_now = 1.0 - curve
    lean = None
    if quiet_now is not None and not apart:
        values = dict(zip(quiet.runs, quiet.values, strict=True))
        own = [values[i] - centre for i in keep if i in marked]
        others = [residuals[i] for i in keep if i not in marked]
        if own and others:
            lean = idle.mixture_median(own, others, quiet_now)
    tagged = [(residuals[i], censored[i], runs[i], i in marked) for i in keep]
    if lent_share is not None:
        tagged = _checks_lent(tagged, lent, lent_share)
    elif only is not None:
        tagged = [t for t in tagged if t[3] == only]
    if only is not None and tagged and len(tagged) < conformal.min_two_sided(CALIBRATION_LEVEL):
        lean = conformal.median([t[0] for t in tagged])
    if curve is not None:
        work = curve
    if work is not None:
        kept_quiet = [k for k, t in enumerate(tagged) if t[3]]
        # a download's few zeros thin too, where the calibration is long enough to count them
        counted = quiet.breaks is not None and not short
        tagged = idle.mix(tagged, [t[0] for t in tagged], kept_quiet, work, counted)
    return Weighed(
        [t[0] for t in tagged],
        [t[1] for t in tagged],
        [t[2] for t in tagged],
        tuple(t[3] for t in tagged) if apart else (),
        lean,
        nothing if apart else None,
    )


def _checks_lent(tagged: list[Tagged], checks: list[Tagged], nothing: float) -> list[Tagged]:
    """The runs with work of `tagged`, with as many of the `checks` its host lends
    (`fitting.pooled`: stand-ins about the plugin's level of its own checks) as make up a
    `nothing` share of the whole; the checks alone where nothing to do is certain.

    A new plugin's one or two checks among some thirty errors (its own and its host's runs
    with work) sat beyond every rank that bounds an interval: where a third of its runs had
    nothing to do, its interval's lower end stood above its checks, and the truth's reached
    them (`bench/RESULTS.md`). Every run with work stays: thinned to make room, its upper
    tail lost the rank that bounds the interval."""
    work = [t for t in tagged if not t[3]]
    if nothing >= 1.0 or not work:
        return checks
    count = round(len(work) * nothing / (1.0 - nothing))
    return work + conformal.evenly_spaced(sorted(checks, key=lambda t: t[0]), count)


def _lift_work(
    quiet: Idle,
    marked: set[int],
    centre: float,
    gap_hours: float,
    residuals: list[float],
    levels: bool,
) -> None:
    """Where today's centre lies nearer the quiet runs' level (of the `marked` runs) than the
    working runs' (a short break: the mixture's centre), each run with work after a longer
    break replays its own value moved to today's break as a check plus a cost per package
    (`idle.work_moved`). Replayed around that centre, it had moved down by the jump between
    the kinds too, and after hours away every run with work replayed as a check: the runs
    then that found a package fell above the upper end twice as often as the truth's
    interval lets them. Nor higher: a run after weeks away that the model forecast short
    replayed that whole error around a short break's centre (`bench/RESULTS.md`). A jump (a
    run with work forecast as a check) replays no higher than it moved: a centre that barely
    follows the break forecasts runs after weeks away as checks, and replayed at its own
    value such a run's backlog of days answered a re-run. Peak memory (`levels`) is a level
    for each kind, not a sum over packages: each run with work replays no lower than its own
    value, moved only as far as the runs with work rise with the break (`Idle.rise`): held
    at its own value, a large backlog's peak replayed after a re-run's hours. Nearer the
    working runs, the centre is theirs, and they replay around it."""
    if quiet.odds is None or not quiet.own:
        return
    check = conformal.median(quiet.values)
    work = [v for i, v in enumerate(quiet.own) if i not in marked]
    if not work or centre >= (check + conformal.median(work)) / 2:
        return
    jumps = set(quiet.jumps)
    today = math.log1p(gap_hours)
    for i, (value, then) in enumerate(zip(quiet.own, quiet.gaps, strict=True)):
        if i in marked:
            continue
        if levels:
            if i not in jumps:
                lifted = value - quiet.rise * max(then - today, 0.0)
                residuals[i] = max(residuals[i], lifted - centre)
        elif then > today:
            moved = idle.work_moved(quiet.odds, value, check, gap_hours, math.expm1(then))
            residuals[i] = min(residuals[i], moved - centre) if i in jumps else moved - centre


def _variant(
    variants: Mapping[str, Variant], reported: Mapping[str, float], metric: str
) -> tuple[str, Variant, dict[str, float]]:
    """The variant that answers, and the report it answers with: a partial report (a
    package count without a size) is completed by the plugin's typical value of what it
    lacks, or by zero where what it gives says there is nothing to do."""
    taken = {k: v for k, v in reported.items() if k in REPORTED}
    if not taken or "reports" not in variants:
        return "base", variants["base"], {}
    variant = variants["reports"]
    if _levels_weighed(metric, variants):
        return "base", variants["base"], {}
    typical = variant.typical
    missing = [axis for axis in takes(variants) if axis not in taken]
    if any(axis not in typical for axis in missing):
        return "base", variants["base"], {}
    nothing = all(v <= 0 for v in taken.values())
    return "reports", variant, {**taken, **{a: 0.0 if nothing else typical[a] for a in missing}}


def _levels_weighed(metric: str, variants: Mapping[str, Variant]) -> bool:
    """Peak memory whose reports race a model that takes no report won answers as without a
    report: that variant is the base's model with every run's error alike, where the base
    weighs the runs with work and those without by the chance of work after today's break
    (`_weigh_kinds`), which a level needs more than a report its model does not read (with
    reports, the intervals were wider than without, where the truth's are narrower:
    `bench/RESULTS.md`). Not where the calibration is too short for the two-sided ranks:
    there the base spans both kinds' levels (`conformal.kinds_bounds`), far wider than the
    reports variant's ranks of every error. Nor where the host's line answers (HOST_SHAPE):
    it reads the report, whose nothing to do it answers at that kind's level; taken for a
    model that reads none, a new user's report of nothing to do was answered across both
    kinds, 104 MB [47, 131 MB] for a check's 50 MB."""
    base, variant = variants["base"], variants["reports"]
    return (
        metric == "memory_peak_bytes"
        and not reads_reports(variant.model)
        and variant.model != HOST_SHAPE
        and base.idle is not None
        and len(base.residuals) >= conformal.min_two_sided(CALIBRATION_LEVEL)
    )


def report_warning(
    plugin: str,
    record: SeriesRecord,
    reported: Mapping[str, float],
    used: bool,
    sized: bool = False,
) -> str | None:
    """One sentence on what of a plugin's report was not used as given, or None. `sized`:
    its download is answered around the size it reported (`unsized`)."""
    taken = takes(record.variants)
    if not taken:
        what = "sized its download only" if sized else "was not used"
        return f"{plugin}'s report {what}: {plugin} has not reported its work in enough runs"
    ignored = [k for k in reported if k not in taken]
    lacking = [a for a in taken if a not in reported]
    parts = [f"ignored {', '.join(ignored)}"] if ignored else []
    if lacking:
        parts.append(
            f"completed {', '.join(lacking)} from its typical runs" if used else "not used"
        )
    if not parts:
        return None
    return f"{plugin}'s report: {'; '.join(parts)} (its model takes {', '.join(taken)})"


def takes(variants: Mapping[str, Variant]) -> list[str]:
    """What a plugin's reports variant is fed: the quantities it has reported in the past."""
    if "reports" not in variants:
        return []
    variant = variants["reports"]
    axes = [axis for axis, _ in variant.axes if axis != "gap_hours"]
    return axes or list(variant.typical)


def _lone_breaks_apart(lone: LoneBreaks | None, gap_hours: float) -> set[int]:
    """The residuals of lone breaks (`LoneBreaks`) that today's break does not reach: a
    residual of a break far beyond the others answers only a break beyond them too."""
    if lone is None:
        return set()
    gap = math.log1p(gap_hours)
    return {
        i
        for i, out in ((lone.above, gap > lone.high), (lone.below, gap < lone.low))
        if i is not None and not out
    }


def same_kind(
    n: int, quiet: Sequence[int], quiet_now: bool, fewest: int = MIN_SAME_KIND
) -> list[int]:
    """Residuals of past runs whose report was of the same kind as now's, "nothing to do"
    (every reported value zero) or some work; all of them where fewer than `fewest` are.

    For series that observe zeros, either kind: a reported zero is exactly zero bytes;
    calibrating a real download on such runs let their zeros take the miss budget and held
    its upper bound down. Times answer a report of nothing to do from their quiet runs alone
    (`QUIET_TIMES`). A report of work keeps every residual, as memory does: split by kind,
    the runs with work keep fewer residuals than their kind differs, and their intervals
    scored worse against the truth (`bench/RESULTS.md`)."""
    marked = set(quiet)
    keep = [i for i in range(n) if (i in marked) == quiet_now]
    return keep if len(keep) >= fewest else list(range(n))


def unsized(record: SeriesRecord, report: Mapping[str, float] | None = None) -> bool:
    """A download series of a few runs (`limited`) that is answered as a plugin never seen
    (`default_predictive`): where its runs all fetched nothing, answered by their median of
    zero (the errors it borrows are relative to a size it has never shown: added to zero,
    they answered [0 B, 0.6 B]); or where it reports a size its record cannot read, before
    the host's shape with reports takes it (its one run's size with the host's errors,
    capped at 1.5 times that run: a reported 250 MB was answered [0 B, 142 MB], a report of
    nothing to fetch [16 MB, 104 MB]). From two runs on, the host's shape gives it a size
    (`fitting.pooled`)."""
    if record.metric != "download_bytes" or record.basis != "limited":
        return False
    unread = "download_bytes" in (report or {}) and "download_bytes" not in takes(record.variants)
    return unread or (record.cap <= 0.0 and max(record.variants["base"].points) <= 0.0)


def reported_size(metric: str, report: Mapping[str, float] | None) -> float | None:
    """The download size a plugin answered as never seen reported (zero: nothing to fetch),
    where it sizes this metric."""
    return (report or {}).get("download_bytes") if metric == "download_bytes" else None


def default_predictive(
    metric: str, known: Sequence[Predictive], size: float | None = None
) -> Predictive:
    """No history for this plugin: other plugins' spread as a prior, or wide constants.

    A download reaches down to nothing either way: a plugin's first runs are often checks
    that find nothing to fetch, which other plugins' typical sizes do not foresee (its first
    downloads fell below a lower bound read from them, `bench/first_runs.py`). A plugin that
    reported the `size` it is about to fetch is answered around that size, from a quarter to
    four times it (the margin the default keeps beyond other plugins' sizes): a report
    ignored for other plugins' sizes answered a download of a hundred megabytes with a few.
    A report of nothing to fetch is answered as nothing, as a plugin's own reports variant
    answers it from its runs that reported nothing (`same_kind`); answered from other
    plugins' sizes, it read "114 MB" beside the report that said none."""
    if metric == "download_bytes" and size is not None:
        centre = math.log1p(max(size, 0.0))
        spread = math.log(4) if size > 0 else 0.0
        low, high = centre - spread, centre + spread
    elif known:
        centres = sorted(p.centre for p in known)
        centre = conformal.median(centres)
        low = 0.0 if metric == "download_bytes" else centres[0] - math.log(4)
        high = centres[-1] + math.log(4)
    else:
        point, lower, upper = DEFAULTS[metric]
        centre, low, high = math.log1p(point), math.log1p(lower), math.log1p(upper)
    residuals = wide_spread(low - centre, high - centre)
    steps = len(residuals)
    return Predictive(centre, residuals, [False] * steps, [None] * steps, 0, "default", "default")


def wide_spread(low: float, high: float) -> list[float]:
    """Stand-in residuals for a series with none of its own: evenly spaced from `low` to
    nothing and from nothing to `high`, so that their median is the centre. Spaced evenly
    across a range wider above than below, a plugin never seen answered 60 s and, in the
    draws of a run's remaining time, 103 s as it started."""
    half = DEFAULT_SPREAD_STEPS // 2
    return [low * (half - i) / half for i in range(half)] + [
        high * i / half for i in range(half + 1)
    ]


def single(p: Predictive, level: float) -> MetricEstimate:
    if p.basis == "default":
        lower, upper = p.centre + p.residuals[0], p.centre + p.residuals[-1]
        point, calibrated = p.centre, False
    else:
        b, shift = _read(p, level)
        point = p.value(shift)
        lower, upper, calibrated = p.value(b.lower), p.value(b.upper), b.calibrated
        if _nothing_seen(p):
            upper = lower
    values = sorted((raw(lower), raw(point), raw(upper)))
    basis = p.basis if calibrated or p.basis == "default" else "limited"
    return MetricEstimate(values[1], values[0], values[2], p.data_points, p.model, basis)


def _nothing_seen(p: Predictive) -> bool:
    """Every run replayed fetched nothing, and the point is under a byte. A limited interval
    reaches tenfold above its centre (`conformal.UNSEEN_SPREAD`), where the centre is a size
    a host's shape sets; tenfold above nothing is nothing, where the log1p scale read
    "0-9 B"."""
    nothing = p.centre < LESS_THAN_ONE and bool(p.residuals)
    return nothing and all(r <= p.floor for r in p.residuals)


def _read(p: Predictive, level: float) -> tuple[conformal.Bounds, float]:
    """The bounds and the point's residual. Where the kinds are known and the calibration too
    short for the two-sided ranks, each kind answers around its own level
    (`conformal.kinds_bounds`; only today's kind where a release rate makes the other less
    likely than the miss budget on one side) and the point is a typical run of the likelier
    kind (the median of a few runs of two kinds can fall between them, a value no run
    takes): likelier today where a release rate says, the kinds' mixture median as time's
    point (by their counts, a re-run's peak memory read the level of work beside a check's
    seconds). Otherwise the residuals' conformal bounds, and the kinds' mixture median where a
    release rate weighed them (`Predictive.lean`), else their lean (`conformal.bias`)."""
    short = len(p.residuals) < conformal.min_two_sided(level)
    if not (p.quiet and short and not any(p.censored)):
        bounds = conformal.bounds(p.residuals, level, censored=p.censored, floor=p.floor)
        return bounds, conformal.bias(p.residuals) if p.lean is None else p.lean
    quiet, work = conformal.split_kinds(p.residuals, p.quiet)
    likelier = quiet if len(quiet) > len(work) else work
    kind = None
    if p.nothing is not None:
        kind = idle.one_kind(p.nothing, len(quiet), len(work), (1 - level) / 2)
    if kind is not None:
        likelier = quiet if kind else work
    bounds = conformal.kinds_bounds(p.residuals, p.quiet, level, p.floor, kind)
    if p.nothing is not None and kind is None and quiet and work:
        return bounds, idle.mixture_median(quiet, work, p.nothing)
    return bounds, conformal.median(likelier)


def limited(p: Predictive) -> bool:
    """Whether its interval is a guess from too few errors for the ranks
    (`conformal.limited_half_width`), not read off them; a default's is its wide spread."""
    return p.basis != "default" and not _read(p, CALIBRATION_LEVEL)[0].calibrated


def stand_ins(p: Predictive, count: int) -> list[float]:
    """`count` raw values at evenly spaced ranks of the spread its interval at the
    calibration level describes, for the joint draws of a total where that interval is
    `limited` (its few errors, replayed, do not spread as it does).

    Shaped as a normal on each side of its point, whose quantiles at the calibration level's
    ranks are its bounds, from the one rank to the other: the interval is a guess, and the
    total reaches no further than its parts say (drawn beyond the bounds, a new user's
    totals read wider than the plugins' own intervals implied). Replayed as they were, a new
    user's one or two errors per plugin were the total's only draws: a run's total wall time
    after three runs read 187 s [186, 188 s] beside plugins of 49 s [5.1, 127 s] and 21 s
    [4.3, 56 s], and a download total sat above its plugins' points added up (3.1 GB
    [2.9, 6.4 GB] beside 1.5 GB)."""
    bounds, shift = _read(p, CALIBRATION_LEVEL)
    point = p.value(shift)
    low, high = p.value(bounds.lower), p.value(bounds.upper)
    z = NormalDist().inv_cdf((1 + CALIBRATION_LEVEL) / 2)
    miss = (1 - CALIBRATION_LEVEL) / 2
    out = []
    for k in range(count):
        rank = miss + CALIBRATION_LEVEL * k / max(count - 1, 1) if count > 1 else 0.5
        q = NormalDist().inv_cdf(rank) / z
        out.append(raw(point + q * ((high - point) if q > 0 else (point - low))))
    return out


def shared_single(p: Predictive, level: float, memo: Memo) -> MetricEstimate:
    """`single`, computed once per predictive and level for the answers sharing `memo`."""
    return memo.get("single", (p,), level, partial(single, p, level))


def raw(log_value: float) -> float:
    return max(math.expm1(min(log_value, 700.0)), 0.0)
