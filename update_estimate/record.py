"""The contract between fitting and serving: one forecast record per series, typed.

`train` (and `backtest`, and the history fallback) write records; `estimate` reads them, with
the standard library only. Each field is written every time, and reading a record that lacks
one is an error, never a default: a cache of another format is refused (`FORMAT_VERSION`),
not misread. Values are on the log1p scale of the metric.

Typed, immutable NamedTuples rather than frozen dataclasses: `estimate` loads this module on
every call, and a NamedTuple class costs a tenth as much to create (and to instantiate).
"""

from __future__ import annotations

from typing import Any, NamedTuple

# Bumped whenever a field is added, removed or changes meaning.
FORMAT_VERSION = 15
# The level `train` calibrates at; a calibration too short for its two-sided ranks keeps
# per-kind levels and release rates, and `estimate` reads "short" the same way.
CALIBRATION_LEVEL = 0.9
# A plugin that has never succeeded is taken to have last succeeded this long ago.
DEFAULT_GAP_HOURS = 24.0
# What is forecast for every plugin, in this order everywhere.
METRICS = ("wall_clock_seconds", "cpu_seconds", "memory_peak_bytes", "download_bytes")
# Time grows with the work a break brings; memory is a level for each kind of run, and a
# download is nothing or a size.
TIMES = METRICS[:2]
# The model of a series answered by its host's line (`fitting.pooled`): with a report, the
# line reads it
HOST_SHAPE = "borrowed_shape"


class RecordError(ValueError):
    """A record that is not of this format: the cache must be retrained."""


def series_key(host: str, plugin: str, metric: str, phase: str | None = None) -> str:
    """How records and manifest entries are keyed."""
    return "|".join((host, plugin, metric, phase or "ALL"))


class Axis(NamedTuple):
    """A covariate of the grid and its nodes, in raw units, ascending."""

    name: str
    nodes: list[float]


class Spread(NamedTuple):
    """The residuals' size grows (or shrinks) with the forecast (`spread`): the slope, and
    each residual's own forecast."""

    slope: float
    centres: list[float]


class Outcomes(NamedTuple):
    """A plugin's executions that neither succeeded nor timed out: their share of its
    finished executions, and this metric's value in each of the latest (skipped: zero). A run
    under way may still meet one of them in a plugin to come."""

    share: float
    values: list[float]


class Idle(NamedTuple):
    """Which residuals came from runs with nothing to do, their own values, and the chance
    of work as a logistic curve in log hours since the last success (`idle`; None: too few
    of either kind to fit it). `jumps`: the residuals of runs with work forecast as if quiet,
    with their own values, their forecasts and the typical run with work before each
    (`fitting.idle.jumps`). `work_values`: in a short calibration of peak memory, the runs
    with work's own values in order (each kind then answers around its own level; before
    its first check, a stand-in one's residual follows them, `fitting.record_builder.
    before_first_quiet`). `rates`:
    in a short calibration without the curve, releases per hour at equal shares of their
    posterior (`fitting.idle.release_rates`); None elsewhere. A download's quiet runs are
    those that fetched nothing, its values their zeros, and `breaks` the hours before every
    run of its history that fetched nothing and that fetched something
    (`serving.idle.zero_chance`); None elsewhere. `own` and `gaps`: the value in each
    calibration run and the hours before it (log1p), where the curve is fitted: how far a run
    with work may move with the break (`serving.predictive._lift_work`); empty elsewhere.
    `rise`: how far peak memory's runs with work rise per log1p hour of break
    (`fitting.idle.level_rise`); 0 elsewhere."""

    runs: list[int]
    values: list[float]
    odds: tuple[float, float] | None
    jumps: list[int]
    jump_values: list[float]
    jump_forecasts: list[float]
    typical_work: list[float]
    work_values: list[float]
    rates: list[float] | None
    breaks: tuple[list[float], list[float]] | None = None
    own: tuple[float, ...] = ()
    gaps: tuple[float, ...] = ()
    rise: float = 0.0


class LoneBreaks(NamedTuple):
    """Residuals of runs after a break far beyond every other calibration run's (`above`),
    or far below (`below`): positions in `residuals`, None where there is none. A run
    after a break inside [low, high] (log1p hours) is answered without them."""

    above: int | None
    below: int | None
    low: float
    high: float


class Variant(NamedTuple):
    """One way of answering: `base` (before the run) or `reports` (with its check report).

    `points` holds the forecast at every node of `axes` (row-major; one point without axes);
    `weekday` and `hour` add calendar offsets. `residuals` are out-of-sample errors, each from
    the update-all run numbered in `runs` (None: borrowed from other series); `zeros` and
    `quiet` index the runs that observed nothing and whose report said nothing to do.
    """

    model: str
    axes: list[Axis]
    points: list[float]
    weekday: list[float] | None
    hour: list[float] | None
    residuals: list[float]
    censored: list[bool]
    runs: list[int | None]
    zeros: list[int]
    quiet: list[int]
    typical: dict[str, float]
    spread: Spread | None
    idle: Idle | None
    borrowed: bool
    lone_breaks: LoneBreaks | None
    # the model sums costs on the raw scale: its points are interpolated there, where the
    # log1p scale's lines bent above its sum between the nodes (`serving.interpolation`)
    summed: bool = False
    # a short calibration's check (times): stand-in errors of a check about the plugin's level
    # of them, from its own and its host's (`fitting.pooled`); with reports they answer a
    # report of nothing to do, before the run they stand in for its few checks
    quiet_errors: tuple[float, ...] = ()

    @classmethod
    def constant(
        cls,
        model: str,
        centre: float,
        residuals: list[float] | None = None,
        censored: list[bool] | None = None,
        runs: list[int | None] | None = None,
    ) -> Variant:
        """One point for every covariate, with these residuals (none: calibrated later)."""
        return cls(
            model=model,
            axes=[],
            points=[centre],
            weekday=None,
            hour=None,
            residuals=residuals or [],
            censored=censored or [],
            runs=runs or [],
            zeros=[],
            quiet=[],
            typical={},
            spread=None,
            idle=None,
            borrowed=False,
            lone_breaks=None,
        )

    def lent(self, residuals: list[float]) -> Variant:
        """Its own residuals followed by residuals lent from other series (from no run of
        its own); the spread measured on its own runs no longer describes them."""
        return self._replace(
            residuals=[*self.residuals, *residuals],
            censored=[*self.censored, *[False] * len(residuals)],
            runs=[*self.runs, *[None] * len(residuals)],
            spread=None,
        )

    def calibrated_on(self, residuals: list[float]) -> Variant:
        """The same forecast with residuals from elsewhere: no run, zero or quiet run of
        its own is known any more."""
        return self._replace(
            residuals=residuals,
            censored=[False] * len(residuals),
            runs=[None] * len(residuals),
            zeros=[],
            quiet=[],
            spread=None,
            idle=None,
            borrowed=True,
            lone_breaks=None,
        )


class SeriesRecord(NamedTuple):
    """Everything `estimate` needs of one series; `basis`: model, limited (too short to
    calibrate out of sample) or default."""

    host: str
    plugin: str
    metric: str
    phase: str | None
    data_points: int
    last_success: str | None
    cap: float
    basis: str
    variants: dict[str, Variant]
    outcomes: Outcomes | None = None  # the plugin's whole series only
    stopped: bool = False  # the cap is the timeout the plugin was killed at: nothing passes it

    @property
    def key(self) -> str:
        return series_key(self.host, self.plugin, self.metric, self.phase)


class Stretch(NamedTuple):
    """How much longer a host's parallel runs took than update-all's schedule of their plugins'
    own times: per run, the seconds beyond it (`additive`) or the duration over it. An
    orchestrator's setting up is a fixed time, contention a ratio; the form kept is the one
    that predicted each of the host's runs better from the others."""

    additive: bool
    runs: dict[int, float]

    def apply(self, makespan: float, value: float) -> float:
        return max(makespan + value, 0.0) if self.additive else makespan * value


class Records(NamedTuple):
    """A cache's records (`records.json` and its hosts' files): every series, the plugins each
    host's history holds, and per host and past run: the day of each run the residuals name
    (several hosts' errors are replayed together where they happened on one day), and the
    stretch of the runs whose plugins ran side by side (what the schedule does not see)."""

    series: dict[str, SeriesRecord]
    history_plugins: dict[str, list[str]]
    run_days: dict[str, dict[int, str]]
    stretch: dict[str, Stretch]


# --- JSON ----------------------------------------------------------------------------------------


def to_json(records: Records) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "series": {key: series_to_json(r) for key, r in records.series.items()},
        "history_plugins": records.history_plugins,
        "run_days": _by_run(records.run_days),
        "stretch": {
            host: {"additive": st.additive, "runs": {str(r): v for r, v in st.runs.items()}}
            for host, st in records.stretch.items()
        },
    }


def _by_run(per_host: dict[str, dict[int, Any]]) -> dict[str, dict[str, Any]]:
    """JSON keys are strings: the run numbers written as such."""
    return {host: {str(run): v for run, v in runs.items()} for host, runs in per_host.items()}


def from_json(data: Any) -> Records:
    """Records as `to_json` wrote them; anything else raises RecordError."""
    try:
        if data["format_version"] != FORMAT_VERSION:
            raise RecordError(f"records of format {data['format_version']!r}")
        return Records(
            {key: series_from_json(r) for key, r in data["series"].items()},
            {str(h): list(p) for h, p in data["history_plugins"].items()},
            {
                str(h): {int(run): str(day) for run, day in days.items()}
                for h, days in data["run_days"].items()
            },
            {
                str(h): Stretch(
                    bool(st["additive"]), {int(run): float(v) for run, v in st["runs"].items()}
                )
                for h, st in data["stretch"].items()
            },
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, RecordError):
            raise
        raise RecordError(f"not a forecast record of format {FORMAT_VERSION}: {exc!r}") from None


def series_to_json(r: SeriesRecord) -> dict[str, Any]:
    return {
        "host": r.host,
        "plugin": r.plugin,
        "metric": r.metric,
        "phase": r.phase,
        "data_points": r.data_points,
        "last_success": r.last_success,
        "cap": r.cap,
        "basis": r.basis,
        "variants": {name: _variant_to_json(v) for name, v in r.variants.items()},
        "outcomes": None
        if r.outcomes is None
        else {"share": r.outcomes.share, "values": r.outcomes.values},
        "stopped": r.stopped,
    }


def series_from_json(d: dict[str, Any]) -> SeriesRecord:
    return SeriesRecord(
        host=d["host"],
        plugin=d["plugin"],
        metric=d["metric"],
        phase=d["phase"],
        data_points=int(d["data_points"]),
        last_success=d["last_success"],
        cap=float(d["cap"]),
        basis=d["basis"],
        variants={name: _variant_from_json(v) for name, v in d["variants"].items()},
        outcomes=None
        if d["outcomes"] is None
        else Outcomes(float(d["outcomes"]["share"]), list(d["outcomes"]["values"])),
        stopped=bool(d.get("stopped", False)),  # written before timeouts were read: none
    )


def _variant_to_json(v: Variant) -> dict[str, Any]:
    return {
        "model": v.model,
        "axes": [[a.name, a.nodes] for a in v.axes],
        "points": v.points,
        "weekday": v.weekday,
        "hour": v.hour,
        "residuals": v.residuals,
        "censored": v.censored,
        "runs": v.runs,
        "zeros": v.zeros,
        "quiet": v.quiet,
        "typical": v.typical,
        "spread": None
        if v.spread is None
        else {"slope": v.spread.slope, "centres": v.spread.centres},
        "idle": None
        if v.idle is None
        else {
            "runs": v.idle.runs,
            "values": v.idle.values,
            "odds": None if v.idle.odds is None else list(v.idle.odds),
            "jumps": v.idle.jumps,
            "jump_values": v.idle.jump_values,
            "jump_forecasts": v.idle.jump_forecasts,
            "typical_work": v.idle.typical_work,
            "work_values": v.idle.work_values,
            "rates": v.idle.rates,
            "breaks": None if v.idle.breaks is None else list(v.idle.breaks),
            "own": list(v.idle.own),
            "gaps": list(v.idle.gaps),
            "rise": v.idle.rise,
        },
        "borrowed": v.borrowed,
        "lone_breaks": None if v.lone_breaks is None else v.lone_breaks._asdict(),
        "summed": v.summed,
        "quiet_errors": list(v.quiet_errors),
    }


def _variant_from_json(d: dict[str, Any]) -> Variant:
    spread, idle, lone = d["spread"], d["idle"], d["lone_breaks"]
    return Variant(
        model=d["model"],
        axes=[Axis(name, nodes) for name, nodes in d["axes"]],
        points=d["points"],
        weekday=d["weekday"],
        hour=d["hour"],
        residuals=d["residuals"],
        censored=d["censored"],
        runs=d["runs"],
        zeros=d["zeros"],
        quiet=d["quiet"],
        typical=d["typical"],
        spread=None if spread is None else Spread(spread["slope"], spread["centres"]),
        idle=None
        if idle is None
        else Idle(
            idle["runs"],
            idle["values"],
            None if idle["odds"] is None else (idle["odds"][0], idle["odds"][1]),
            idle["jumps"],
            idle["jump_values"],
            idle["jump_forecasts"],
            idle["typical_work"],
            idle["work_values"],
            idle["rates"],
            None if idle["breaks"] is None else (idle["breaks"][0], idle["breaks"][1]),
            tuple(idle["own"]),
            tuple(idle["gaps"]),
            float(idle["rise"]),
        ),
        borrowed=bool(d["borrowed"]),
        lone_breaks=None
        if lone is None
        else LoneBreaks(lone["above"], lone["below"], float(lone["low"]), float(lone["high"])),
        summed=bool(d["summed"]),
        quiet_errors=tuple(float(e) for e in d["quiet_errors"]),
    )
