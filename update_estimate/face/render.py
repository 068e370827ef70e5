"""Rich tables and JSON documents; results in, text out. Nothing here computes statistics."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from update_estimate.requests import percent

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

JSON_SCHEMA_VERSION = 1
VERDICT_STYLE = {"usable": "green", "limited": "yellow", "unusable": "red"}


def json_document(command: str, body: dict[str, Any]) -> str:
    return json.dumps(
        {"schema_version": JSON_SCHEMA_VERSION, "command": command, **body},
        indent=2,
        default=str,
        allow_nan=False,
    )


def human_seconds(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    if value < 90:
        return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"
    if value < 90 * 60:
        return f"{value / 60:.1f} m"
    if value < 48 * 3600:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} d"


def human_bytes(value: float) -> str:
    """A byte count is whole: under one byte is nothing ("0-1 B" read as a byte that might
    come, for a bound a fraction of one above nothing)."""
    if not math.isfinite(value):
        return "-"
    if value < 1.0:
        return "0 B"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            scaled = value / size
            return f"{scaled:.0f} {unit}" if scaled >= 100 else f"{scaled:.1f} {unit}"
    return f"{value:.0f} B"


def human(metric: str, value: float) -> str:
    return human_seconds(value) if metric.endswith("seconds") else human_bytes(value)


def counted(n: int, noun: str) -> str:
    """`1 run`, `2 runs`: a new user's one run read `1 runs`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def human_interval(metric: str, lower: float, upper: float) -> str:
    """`2.4-5.0 m`: the unit once where both ends share it, so a cell stays narrow."""
    low, high = human(metric, lower), human(metric, upper)
    if low == high:
        return low
    low_value, _, low_unit = low.partition(" ")
    if low_unit and high.endswith(" " + low_unit):
        return f"{low_value}-{high}"
    return f"{low}-{high}"


SHORT_METRIC = {
    "wall_clock_seconds": "wall",
    "cpu_seconds": "cpu",
    "memory_peak_bytes": "memory",
    "download_bytes": "download",
}


def validation_table(report: Any) -> Table:
    """Fits 80 columns: the counts of a plugin's executions and its last date are said once,
    on its first metric's row; columns of missing values and duplicate timestamps appear only
    where there are some."""
    hosts = sorted({s.host for s in report.series})
    one_host = len(hosts) == 1
    title = f"History quality of {hosts[0]}" if one_host else "History quality"
    optional = {
        "miss": any(s.missing for s in report.series),
        "dup": any(s.duplicate_timestamps for s in report.series),
    }
    absent = [
        label
        for name, label in (("miss", "missing values"), ("dup", "duplicate times"))
        if not optional[name]
    ]
    caption = "\n".join(filter(None, [_executions(report), _reasons(report)])) or None
    if absent:
        caption = "\n".join(filter(None, [f"No {' or '.join(absent)}.", caption]))
    table = _table(title, caption)
    if not one_host:
        table.add_column("host", no_wrap=True)
    table.add_column("plugin", no_wrap=True)
    table.add_column("metric", no_wrap=True)
    numeric = ["n", "ok/fl/sk/to", *(n for n in ("miss", "dup") if optional[n]), "outl", "/wk"]
    for name in numeric:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("last", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    seen: set[tuple[str, str]] = set()
    for s in report.series:
        style = VERDICT_STYLE[s.verdict]
        first = (s.host, s.plugin) not in seen
        seen.add((s.host, s.plugin))
        table.add_row(
            *([] if one_host else [s.host if first else ""]),
            s.plugin if first else "",
            SHORT_METRIC.get(s.metric, s.metric),
            str(s.samples),
            f"{s.success}/{s.failed}/{s.skipped}/{s.timeout}" if first else "",
            *([str(s.missing)] if optional["miss"] else []),
            *([str(s.duplicate_timestamps)] if optional["dup"] else []),
            str(s.outliers),
            f"{s.runs_per_week:.1f}" if first else "",
            s.last[:10] if first else "",
            f"[{style}]{s.verdict}[/{style}]",
        )
    return table


def _executions(report: Any) -> str:
    """One line per host: its runs, and whether its plugins ran one after another."""
    lines = []
    for h in report.hosts:
        how = {"sequential": "plugins one after another"}.get(
            h.execution, f"{h.parallel} with plugins side by side"
        )
        lines.append(f"{h.host}: {counted(h.runs, 'run')}, {how}")
    return "\n".join(lines)


def _reasons(report: Any) -> str | None:
    repeated = report.duplicate_execution_ids
    lines = [f"{repeated} repeated execution ids were counted once"] * bool(repeated)
    lines += report.short_series()
    lines += [
        f"{s.host}/{s.plugin}/{SHORT_METRIC.get(s.metric, s.metric)}: {'; '.join(s.other_reasons)}"
        for s in report.series
        if s.other_reasons
    ]
    return "\n".join(lines) or None


def _table(title: str | None, caption: str | None) -> Table:
    """Light rules only, so the tables fit an 80-column terminal."""
    from rich import box
    from rich.table import Table

    return Table(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )


def validation_json(report: Any) -> str:
    return json_document(
        "validate",
        {
            "usable": report.any_usable,
            "duplicate_execution_ids": report.duplicate_execution_ids,
            "hosts": [asdict(h) for h in report.hosts],
            "series": [asdict(s) for s in report.series],
        },
    )


def print_table(table: RenderableType, console: Console | None = None) -> None:
    """A pipe or a file gets no trailing blanks: padded to the table's width, each line of
    `validate | tail` in an 80-column terminal wrapped into an empty line."""
    from rich.console import Console

    console = console or Console()
    if console.is_terminal:
        console.print(table)
        return
    with console.capture() as captured:
        console.print(table)
    console.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def _metric_dict(m: Any) -> dict[str, Any]:
    return m.as_dict()


def estimate_json(result: Any) -> str:
    return json_document("estimate", _estimate_body(result))


def batch_json(result: Any) -> str:
    """Several hosts: each host's answer as `estimate_json` writes it, and the batch's."""
    f = result.finish
    return json_document(
        "estimate",
        {
            "level": result.level,
            "at_once": result.at_once,
            "shared_days": result.shared_days,
            "hosts": [_estimate_body(h) for h in result.hosts],
            "total": {"metrics": {name: _metric_dict(m) for name, m in result.total.items()}},
            "finish": {k: _iso(getattr(f, k)) for k in ("point", "lower", "upper")},
            "warnings": result.warnings,
        },
    )


def _estimate_body(result: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "level": result.level,
        "host": result.host,
        "source": result.source,
        "plugins": [
            {
                "plugin": p.plugin,
                "state": p.state,
                "used_covariates": p.used_covariates,
                "metrics": {name: _metric_dict(m) for name, m in p.metrics.items()},
            }
            for p in result.plugins
        ],
        "total": {
            "metrics": {name: _metric_dict(m) for name, m in result.total.items()},
            "jobs": result.jobs,
        },
        "warnings": result.warnings,
    }
    if result.finish is not None:
        f = result.finish
        body["finish"] = {k: _iso(getattr(f, k)) for k in ("point", "lower", "upper")}
    if result.remaining is not None:
        r = result.remaining
        body["remaining"] = {
            "done": r.done,
            "running": r.running,
            "elapsed_seconds": r.elapsed,
            "overdue": r.overdue,
            "wall_clock_seconds": _metric_dict(r.wall_clock_seconds),
            "running_wall_clock_seconds": (
                None
                if r.running_wall_clock_seconds is None
                else _metric_dict(r.running_wall_clock_seconds)
            ),
        }
    return body


def _iso(moment: datetime) -> str:
    """ISO 8601 with this machine's UTC offset: history times are naive local time."""
    return moment.astimezone().isoformat(timespec="seconds")


METRIC_HEADINGS = {
    "wall_clock_seconds": "wall clock",
    "cpu_seconds": "CPU",
    "memory_peak_bytes": "peak memory",
    "download_bytes": "download",
}
MARKERS = {"limited": " ~", "default": " ?"}


def _clock(moment: datetime, day: datetime) -> str:
    """`14:32`, with the day only where it is not `day`'s: `Thu 00:31` within the week around
    it (a run that ends after midnight kept the title on one line at 80 columns only so), else
    `Mon 1 Jun 14:32`, and its year half a year away or more (a plugin stuck for years read
    `ends Thu 4 Dec 12:04` ten years on)."""
    if moment.date() == day.date():
        return f"{moment:%H:%M}"
    away = abs((moment.date() - day.date()).days)
    if away < 7:
        return f"{moment:%a %H:%M}"
    year = f" {moment.year}" if away >= 183 else ""
    return f"{moment:%a} {moment.day} {moment:%b}{year} {moment:%H:%M}"


def finish_sentence(result: Any, now: datetime | None = None) -> str:
    """`ends 14:32 (14:29-14:41)`: the run's end on the clock, local time; its day where it is
    not `now`'s (the clock's)."""
    if result.finish is None:
        return ""
    return f"ends {_ends(result.finish, now or datetime.now())}"


def _ends(f: Any, now: datetime) -> str:
    """`14:32 (14:29-14:41)`: a finish's point and interval on the clock, the lower bound's
    day shown only where it is not the point's, the upper's where it is not the lower's (beside
    the point's, `Tue 04:44 (Mon 12:04-22:05)` read as one Monday). The point is on its
    nearest minute, the bounds on the minutes that hold them: cut to the minute, a run of 5.0
    minutes from 21:00 read `ends 21:04` beside it. An interval within one minute is left out:
    a run of 33-50 s read `19:00 (19:00-19:00)`, an interval of no width."""
    point = _minute(f.point, 0.5)
    lower, upper = _minute(f.lower, 0.0), _minute(f.upper, 1.0)
    shown = _clock(point, now)
    if upper - lower <= timedelta(minutes=1):
        return shown
    return f"{shown} ({_clock(lower, point)}-{_clock(upper, lower)})"


def _minute(moment: datetime, up: float) -> datetime:
    """`moment` on a whole minute: down (`up` 0), to the nearest (0.5) or up (1.0)."""
    start = moment.replace(second=0, microsecond=0)
    past = (moment - start) / timedelta(minutes=1)
    return start + timedelta(minutes=1) if past > 0 and past >= 1.0 - up else start


def _marker(m: Any) -> str:
    return MARKERS.get(m.basis, "")


def _cell(metric: str, m: Any, one_line: bool, after: str = "") -> str:
    interval = human_interval(metric, m.lower, m.upper)
    point = human(metric, m.point) + after + _marker(m)
    return f"{point} [dim]{interval}[/dim]" if one_line else f"{point}\n[dim]{interval}[/dim]"


def estimate_title(result: Any) -> str:
    host = result.host or "this host"
    if result.remaining is None:
        wall = result.total["wall_clock_seconds"]
        head = f"Next run on {host}: about {human_seconds(wall.point)}"
        head += f", {result.jobs} at once" if result.jobs > 1 else ""
    else:
        wall = result.remaining.wall_clock_seconds
        head = f"Remaining on {host}: about {human_seconds(wall.point)}"
    return f"{head}, {finish_sentence(result)}" if result.finish else head


@dataclass(frozen=True)
class Layout:
    """How much a screen's width holds: a plugin on one line or two, and its model or not."""

    one_line: bool
    models: bool

    @classmethod
    def for_width(cls, width: int | None, verbose: bool = False) -> Layout:
        """`width` None: not a terminal (a pipe, a log), which is never wrapped."""
        if width is None or width >= ONE_LINE:
            return cls(one_line=True, models=True)
        return cls(one_line=False, models=verbose or width >= MODELS)


ONE_LINE = 150  # columns from which a plugin, its model included, fits on one line
MODELS = 110  # columns from which the two-line layout has room for the model


def estimate_legend(result: Any, layout: Layout) -> str:
    """One line at 80 columns; wider layouts have room to say how totals are made."""
    where = "Beside" if layout.one_line else "Under"
    legend = (
        f"{where} each: its {percent(result.level)} interval; "
        "* report used, ~ limited, ? no history"
    )
    if not layout.models:
        return legend
    if result.jobs > 1:
        how = (
            f"joint draws run through update-all's schedule, {result.jobs} at once: wall time "
            "the makespan, peak memory the largest sum running together"
        )
    else:
        how = f"joint draws, peak memory the {'sum' if result.parallel else 'max'} over plugins"
    return f"{legend}. Totals: {how}; source: {result.source}."


def titled(title: str, table: Table, legend: str | None = None) -> RenderableType:
    """The title on a line of its own over the table, and the legend under it, both wrapped
    at the terminal's width rather than the table's: a headline must not take two of a small
    screen's lines, and a caption wrapped at a narrow table's width (a new user's four
    plugins) split a marker from its meaning ("?" at the end of a line, "no history" on the
    next)."""
    from rich.console import Group
    from rich.text import Text

    below = [Text(legend, style="table.caption")] if legend else []
    return Group(Text(title, style="bold"), table, *below)


def estimate_view(result: Any, layout: Layout) -> RenderableType:
    legend = estimate_legend(result, layout)
    return titled(estimate_title(result), estimate_table(result, layout), legend)


def estimate_table(result: Any, layout: Layout) -> Table:
    """Two lines a plugin at 80 columns (estimate over interval), one where there is room,
    the model where it fits: a glance must show every plugin unbroken."""
    one = layout.one_line
    table = _table(None, None)
    table.add_column("plugin", no_wrap=True)
    for heading in METRIC_HEADINGS.values():
        table.add_column(heading, justify="right", no_wrap=True)
    if layout.models:
        table.add_column("model", no_wrap=True)
    for p in result.plugins:
        name = p.plugin + (" *" if p.used_covariates else "")
        if p.state == "done":
            table.add_row(f"[dim]{name}[/dim]", "[dim]done[/dim]")
            continue
        wall = p.metrics["wall_clock_seconds"]
        basis = f"{wall.basis}, {counted(wall.data_points, 'run')}"
        model = [
            f"{wall.model} [dim]({basis})[/dim]" if one else f"{wall.model}\n[dim]{basis}[/dim]"
        ]
        cells = [_cell(n, m, one) for n, m in p.metrics.items()]
        if p.state == "running":
            left = result.remaining
            name += f" (running {human_seconds(left.elapsed)})"
            if left.running_wall_clock_seconds is not None:
                cells[0] = _cell(
                    "wall_clock_seconds", left.running_wall_clock_seconds, one, " left"
                )
        table.add_row(name, *cells, *(model if layout.models else []))
    last = dict(result.total)
    label = "total"
    if result.remaining is not None:
        last["wall_clock_seconds"] = result.remaining.wall_clock_seconds
        label = "remaining"
    table.add_row(
        f"[bold]{label}[/bold]",
        *(_cell(n, m, one) for n, m in last.items()),
        *(["joint draws"] if layout.models else []),
    )
    return table


def batch_view(result: Any, layout: Layout) -> RenderableType:
    """Several hosts: one row per host (its run's totals), then the batch's."""
    one = layout.one_line
    how = "all at once" if result.at_once else "one after another"
    wall = result.total["wall_clock_seconds"]
    hosts = counted(len(result.hosts), "host")
    title = f"Next runs on {hosts}, {how}: about {human_seconds(wall.point)}"
    title += f", {finish_sentence(result)}"
    legend = f"Under each: its {percent(result.level)} interval; ~ limited, ? no history"
    if layout.models:
        wall_is = "the slowest host's" if result.at_once else "the sum"
        paired = (
            f"hosts' past runs on {result.shared_days} shared days replayed together"
            if result.shared_days
            else "hosts paired at random (too few shared days)"
        )
        legend += (
            f". Batch: wall time {wall_is}, CPU and download the sum, peak memory the "
            f"largest host's" + (f"; {paired}." if len(result.hosts) > 1 else ".")
        )
    table = _table(None, legend)
    table.add_column("host", no_wrap=True)
    for heading in METRIC_HEADINGS.values():
        table.add_column(heading, justify="right", no_wrap=True)
    for h in result.hosts:
        table.add_row(h.host or "?", *(_cell(n, m, one) for n, m in h.total.items()))
    table.add_row("[bold]batch[/bold]", *(_cell(n, m, one) for n, m in result.total.items()))
    return titled(title, table)


def train_json(result: Any) -> str:
    return json_document(
        "train",
        {
            "unchanged": result.unchanged,
            "cache": str(result.cache_path) if result.cache_path else None,
            "seconds": round(result.seconds, 3),
            "fingerprint": result.fingerprint,
            "missing_extras": result.missing_extras,
            "series": [
                {
                    "key": s.key,
                    "host": s.host,
                    "plugin": s.plugin,
                    "metric": s.metric,
                    "phase": s.phase,
                    "data_points": s.data_points,
                    "basis": s.basis,
                    "variants": [asdict(v) for v in s.variants],
                }
                for s in result.series
            ],
        },
    )


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def train_table(result: Any) -> Table:
    table = _table(
        f"Trained {len(result.series)} series in {result.seconds:.1f} s",
        "MAE on log1p scale over a rolling one-step backtest; coverage of 90% "
        "intervals calibrated on earlier runs only, as estimate serves them. "
        "*: with the plugin's own pre-run report.",
    )
    for name in ("host", "plugin", "metric", "model", "n", "MAE", "naive MAE", "cover", "naive"):
        table.add_column(
            name, justify="right" if name not in ("host", "plugin", "metric", "model") else "left"
        )
    for s in result.series:
        metric = SHORT_METRIC.get(s.metric, s.metric) + (f"/{s.phase.lower()}" if s.phase else "")
        for v in s.variants:
            table.add_row(
                s.host,
                s.plugin,
                metric,
                v.model
                + (" *" if v.variant == "reports" else "")
                + ("" if s.basis == "model" else f" ({s.basis})"),
                str(s.data_points),
                _fmt(v.mae, ".3f"),
                _fmt(v.baseline_mae, ".3f"),
                _fmt(v.coverage, ".0%"),
                _fmt(v.baseline_coverage, ".0%"),
            )
    return table


def backtest_json(result: Any) -> str:
    return json_document(
        "backtest",
        {
            "level": result.level,
            "last": result.last,
            "with_covariates": result.with_covariates,
            "rows": [
                {
                    "host": r.host,
                    "plugin": r.plugin,
                    "metric": r.metric,
                    "scores": {m: asdict(sc) for m, sc in r.scores.items()},
                }
                for r in result.rows
            ],
        },
    )


def backtest_view(result: Any) -> RenderableType:
    mode = (
        "answers given the plugins' own reports (as after the check phase)"
        if result.with_covariates
        else "answers before the check phase, without reports"
    )
    last = counted(result.last, "run")
    title = f"Backtest over the last {last} ({percent(result.level)} intervals), {mode}"
    table = _table(
        None,
        "ours / last value / recent median. MdAPE: median absolute percentage error; "
        "IS: interval score (width plus penalties for misses, lower is better).",
    )
    for name in ("plugin", "metric", "n"):
        table.add_column(name, justify="right" if name == "n" else "left")
    for name in ("cover", "MdAPE", "IS ratio"):
        table.add_column(name, justify="right")
    for r in result.rows:
        ours, last, median = (r.scores[m] for m in ("ours", "last_value", "recent_median"))
        table.add_row(
            r.plugin,
            SHORT_METRIC.get(r.metric, r.metric),
            str(ours.n),
            f"{ours.coverage:.0%} / {last.coverage:.0%} / {median.coverage:.0%}",
            " / ".join(_fmt(s.median_ape, ".0%") for s in (ours, last, median)),
            f"{ours.interval_score / median.interval_score:.2f}" if median.interval_score else "-",
        )
    return titled(title, table)


def _nullable(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def live_json(result: Any) -> str:
    def scores(s: Any) -> dict[str, Any]:
        return {k: _nullable(v) if isinstance(v, float) else v for k, v in asdict(s).items()}

    return json_document(
        "backtest",
        {
            "level": result.level,
            "last": result.runs,
            "live": {
                "runs": result.runs,
                "tracked": scores(result.tracked),
                "per_plugin": scores(result.per_plugin),
                "rises": result.rises,
                "event_ms": {
                    "median": round(result.event_ms[0], 3),
                    "p99": round(result.event_ms[1], 3),
                },
            },
        },
    )


def live_view(result: Any) -> RenderableType:
    title = (
        f"Live tracking replayed over the last {counted(result.runs, 'run')} "
        f"({percent(result.level)} intervals of the remaining time), "
        f"{result.tracked.cases} answers"
    )
    table = _table(
        None,
        "per plugin: estimate --done --running --elapsed at the same moments. Width: median "
        "interval width relative to what remained; IS: the interval score, that width plus "
        f"penalties for misses. Point rose {result.rises} times while only "
        "the clock moved, no plugin past the end foretold; each event took "
        f"{result.event_ms[0]:.2f} ms "
        f"(99th percentile {result.event_ms[1]:.2f} ms).",
    )
    for name in ("answer", "cover", "width", "IS", "MdAPE", "midpoint MdAPE"):
        table.add_column(name, justify="left" if name == "answer" else "right")
    for name, s in (("tracked", result.tracked), ("per plugin", result.per_plugin)):
        table.add_row(
            name,
            _fmt(s.coverage, ".0%"),
            _fmt(s.width, ".2f"),
            _fmt(s.interval_score, ".2f"),
            _fmt(s.mdape, ".0%"),
            _fmt(s.midpoint_mdape, ".0%"),
        )
    return titled(title, table)


def progress_json(progress: Any, event: str, line: int) -> str:
    """One answer of `track` on one line (schema `track.json`)."""
    body: dict[str, Any] = {
        "schema_version": JSON_SCHEMA_VERSION,
        "command": "track",
        "line": line,
        "event": event,
        "time": _iso(progress.time),
        "level": progress.level,
        "host": progress.host,
        "ended": progress.ended,
        "jobs": progress.jobs,
        "elapsed_seconds": round(progress.elapsed, 3),
        "remaining": _metric_dict(progress.remaining),
        "finish": {k: _iso(getattr(progress.finish, k)) for k in ("point", "lower", "upper")},
        "download_left": _metric_dict(progress.download_left),
        "plugins": [
            {
                "plugin": p.plugin,
                "state": p.state,
                "phase": p.phase,
                "elapsed_seconds": round(p.elapsed, 3),
                "remaining": _metric_dict(p.remaining),
            }
            for p in progress.plugins
        ],
        "flags": [asdict(f) for f in progress.flags],
    }
    return json.dumps(body, default=str, allow_nan=False, separators=(",", ":"))


def progress_line(progress: Any, width: int | None = None) -> str:
    """`apt DOWNLOAD 42 s | 3.1 m left (2.5-4.9 m) | ends 14:32 (14:29-14:41) | 1/8 done |
    120 MB to download`: the run's state on one line, `OVERDUE` after a phase past its
    interval, `+2 running` beside it in a parallel run; what does not fit `width` is left out
    from the end, whole parts only."""
    if progress.ended:
        return f"run ended after {human_seconds(progress.elapsed)}"
    running = [p for p in progress.plugins if p.state == "running"]
    done = sum(p.state not in ("pending", "running") for p in progress.plugins)
    left, f = progress.remaining, progress.finish
    interval = human_interval("wall_clock_seconds", left.lower, left.upper)
    parts = []
    if running:
        # side by side: one overdue, else the first in the run's order, and how many more
        late = {f.plugin for f in progress.flags if f.kind == "overdue"}
        first = next((p for p in running if p.plugin in late), running[0])
        phase = f" {first.phase}" if first.phase else ""
        parts.append(
            f"{first.plugin}{phase} {human_seconds(first.elapsed)}"
            + (" OVERDUE" if first.plugin in late else "")
            + (f" +{len(running) - 1} running" if len(running) > 1 else "")
        )
    point = human_seconds(left.point)
    # the run's own last seconds after its last plugin: `1.0 s left (1.0 s)` said it twice
    left_text = f"{point} left" if interval == point else f"{point} left ({interval})"
    parts += [left_text, f"ends {_ends(f, progress.time)}"]
    parts.append(f"{done}/{len(progress.plugins)} done")
    if progress.download_left.upper > 0:
        parts.append(f"{human_bytes(progress.download_left.point)} to download")
    text = parts[0]
    for part in parts[1:]:
        if width is not None and len(text) + 3 + len(part) > width:
            break
        text += " | " + part
    return text
