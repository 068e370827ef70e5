"""Data-quality report of a history: what each (host, plugin, metric) series can support."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from update_estimate.fitting.features import TARGET_STATUSES, robust_outliers
from update_estimate.hints import unknown_plugins
from update_estimate.history import reader
from update_estimate.history.reader import History
from update_estimate.record import METRICS
from update_estimate.requests import ValidateRequest

USABLE_MIN = 20
LIMITED_MIN = 3
MAX_MISSING_SHARE = 0.2
# Sequential runs leave a gap between one plugin's end and the next one's start; executions
# overlapping by more than this ran side by side (update-all's parallel orchestrator).
OVERLAP_SECONDS = 1.0


@dataclass(frozen=True)
class SeriesQuality:
    host: str
    plugin: str
    metric: str
    samples: int
    success: int
    failed: int
    skipped: int
    timeout: int
    missing: int
    outliers: int
    duplicate_timestamps: int
    first: str
    last: str
    runs_per_week: float
    verdict: str
    reasons: list[str] = field(default_factory=list)

    @property
    def other_reasons(self) -> list[str]:
        """Its reasons but its count of samples, which its host's line says once
        (`ValidationReport.short_series`)."""
        return [r for r in self.reasons if r != few_samples(self.samples)]


@dataclass(frozen=True)
class HostRuns:
    """How a host's runs were executed: `parallel` counts the runs in which some plugins ran
    side by side; `execution` is sequential (none), parallel (every run of two or more
    plugins) or mixed."""

    host: str
    runs: int
    parallel: int
    execution: str


@dataclass(frozen=True)
class ValidationReport:
    series: list[SeriesQuality]
    duplicate_execution_ids: int = 0
    warnings: list[str] = field(default_factory=list)  # for stderr: plugins with no history
    hosts: list[HostRuns] = field(default_factory=list)

    @property
    def any_usable(self) -> bool:
        return any(s.verdict == "usable" for s in self.series)

    def why_nothing_usable(self) -> str | None:
        """Why no series is usable, in a sentence, or None where one is. A young history's
        series are limited, not broken: it answers, with wider intervals, until then."""
        if self.any_usable:
            return None
        most = max((s.samples for s in self.series), default=0)
        if most >= LIMITED_MIN:
            return (
                f"no series has {USABLE_MIN} samples yet (at most {most}): every estimate is "
                "limited, its interval widened, until then"
            )
        return f"no series has {LIMITED_MIN} samples yet (at most {most})"

    def short_series(self) -> list[str]:
        """A line per host whose series have too few samples for calibrated intervals: said
        once, where a line per series filled a new user's screen with the same words."""
        short: dict[str, list[int]] = {}
        for s in self.series:
            if few_samples(s.samples) is not None:
                short.setdefault(s.host, []).append(s.samples)
        lines = []
        for host, samples in short.items():
            low, high = min(samples), max(samples)
            span = f"{low}" if low == high else f"{low}-{high}"
            unusable = sum(n < LIMITED_MIN for n in samples)
            lines.append(
                f"{host}: {len(samples)} series with {span} samples (< {USABLE_MIN}): intervals "
                "are widened"
                + (f"; {unusable} with fewer than {LIMITED_MIN} are unusable" if unusable else "")
            )
        return lines


def few_samples(samples: int) -> str | None:
    """The reason a series' count of samples gives for its verdict, if it gives one."""
    if samples < LIMITED_MIN:
        return f"{samples} samples (< {LIMITED_MIN})"
    if samples < USABLE_MIN:
        return f"{samples} samples (< {USABLE_MIN}): intervals are widened"
    return None


def _verdict(samples: int, missing_share: float, outlier_share: float) -> tuple[str, list[str]]:
    reasons = []
    few = few_samples(samples)
    if samples < LIMITED_MIN:
        return "unusable", [str(few)]
    verdict = "usable"
    if few is not None:
        verdict = "limited"
        reasons.append(few)
    if missing_share > MAX_MISSING_SHARE:
        verdict = "limited"
        reasons.append(f"{missing_share:.0%} of successful runs lack this metric")
    if outlier_share > 0.1:
        reasons.append(f"{outlier_share:.0%} robust outliers")
    return verdict, reasons


def validate(history: History) -> ValidationReport:
    ex = history.executions
    rows: list[SeriesQuality] = []
    for (host, plugin), group in ex.groupby(["host", "plugin"], sort=True):
        status = group["status"].value_counts()
        targets = group[group["status"].isin(TARGET_STATUSES)]
        duplicates = int(group["start_time"].duplicated().sum())
        first, last = group["start_time"].min(), group["start_time"].max()
        weeks = max((last - first).total_seconds() / (7 * 86400), 1.0)
        per_week = float((len(group) - 1) / weeks)  # gaps per week: 1/day gives 7
        for metric in METRICS:
            values = targets[metric].to_numpy(dtype=float)
            present = np.isfinite(values)
            samples = int(present.sum())
            missing = int(len(values) - samples)
            outliers = int(robust_outliers(values[present]).sum())
            verdict, reasons = _verdict(
                samples,
                missing / len(values) if len(values) else 1.0,
                outliers / samples if samples else 0.0,
            )
            if duplicates:
                reasons.append(f"{duplicates} executions share a start time")
            rows.append(
                SeriesQuality(
                    host=str(host),
                    plugin=str(plugin),
                    metric=metric,
                    samples=samples,
                    success=int(status.get("success", 0)),
                    failed=int(status.get("failed", 0)),
                    skipped=int(status.get("skipped", 0)),
                    timeout=int(status.get("timeout", 0)),
                    missing=missing,
                    outliers=outliers,
                    duplicate_timestamps=duplicates,
                    first=first.isoformat(sep=" "),
                    last=last.isoformat(sep=" "),
                    runs_per_week=round(per_week, 2),
                    verdict=verdict,
                    reasons=reasons,
                )
            )
    return ValidationReport(
        series=rows, duplicate_execution_ids=history.duplicate_ids, hosts=host_runs(history)
    )


def host_runs(history: History) -> list[HostRuns]:
    """Per host, how many of its runs had plugins running side by side."""
    out = []
    for host, group in history.executions.groupby("host", sort=True):
        runs = group["run_id"].nunique()
        several = parallel = 0
        for _, run in group[group["end_time"].notna()].groupby("run_id"):
            if len(run) < 2:
                continue
            several += 1
            parallel += overlaps(run["start_time"].tolist(), run["end_time"].tolist())
        execution = "sequential" if not parallel else "parallel" if parallel == several else "mixed"
        out.append(HostRuns(str(host), int(runs), parallel, execution))
    return out


def overlaps(starts: list, ends: list) -> bool:
    """Some execution started over OVERLAP_SECONDS before an earlier one ended."""
    latest = None
    for start, end in sorted(zip(starts, ends, strict=True)):
        if latest is not None and (latest - start).total_seconds() > OVERLAP_SECONDS:
            return True
        latest = end if latest is None else max(latest, end)
    return False


def most_at_once(starts: list, ends: list) -> int:
    """The most executions running together (overlapping by more than OVERLAP_SECONDS)."""
    events = sorted(
        [(s.timestamp(), 1) for s in starts] + [(e.timestamp() - OVERLAP_SECONDS, -1) for e in ends]
    )
    running = best = 0
    for _, step in events:
        running += step
        best = max(best, running)
    return max(best, 1)


def run(request: ValidateRequest) -> ValidationReport:
    """The report of the request's history, hosts and plugins."""
    hist = reader.read(request.db, hosts=request.hosts, plugins=request.plugins)
    report = validate(hist)
    unknown = unknown_plugins(request.plugins or [], hist.plugins_by_host)
    return replace(report, warnings=unknown)
