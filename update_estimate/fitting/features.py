"""Run-indexed series on log1p scale, robust outlier flags and the covariates known before a run.

A run is the time step (design.md, decision 1): series are indexed by execution order, never by
calendar day, and the irregular gaps between runs become a covariate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from update_estimate.record import DEFAULT_GAP_HOURS, Outcomes, series_key
from update_estimate.reports import REPORTED

if TYPE_CHECKING:
    import pandas as pd

MAD_SCALE = 1.4826
OUTLIER_Z = 3.5
TARGET_STATUSES = ("success", "timeout")


def robust_outliers(values: np.ndarray) -> np.ndarray:
    """Flag points far from the median on the log1p scale, in units of the scaled MAD.

    The MAD is not inflated by the outlier it looks for, unlike a z-score on the raw scale.
    Zeros are never outliers (a run with nothing to do is real) and do not shift the centre.
    When more than half the points are equal (MAD 0), the mean absolute deviation stands in.
    """
    raw = np.asarray(values, dtype=float)
    logged = np.log1p(raw)
    ok = np.isfinite(logged) & (raw > 0)
    flags = np.zeros(logged.shape, dtype=bool)
    if ok.sum() < 3:
        return flags
    centre = np.median(logged[ok])
    deviation = np.abs(logged - centre)
    scale = MAD_SCALE * np.median(deviation[ok])
    if scale <= 0:
        scale = 1.2533 * float(np.mean(deviation[ok]))
    if scale <= 0:
        return flags
    flags[ok] = deviation[ok] / scale > OUTLIER_Z
    return flags


def plausible_cap(y: np.ndarray) -> float:
    """The log1p of 1.5 times the largest value observed: no bound reaches beyond it."""
    return round(float(np.log1p(1.5 * np.expm1(np.max(y)))), 6)


def timeout_of(y: np.ndarray, killed: np.ndarray) -> float | None:
    """The time runs were `killed` at (their timeout, log1p), where no run lasted longer: no
    run goes past it (a plugin's builds after a long break, timed out at 30 minutes, were
    answered up to 45 by the cap of 1.5 times the longest). None without such runs."""
    if killed.any() and np.max(y[killed]) >= np.max(y):
        return round(float(np.max(y)), 6)
    return None


REPORT_COLUMNS = {"package_count": "package_count_est", "download_bytes": "download_bytes_est"}
REPORT_SHARE = 0.5


@dataclass(frozen=True)
class Series:
    """One run-indexed target on log1p scale with what was known before each of its runs.

    `covariates` columns: log1p(hours since the plugin's last success), then log1p of each
    reported quantity in `reports`. `calendar`: sin/cos of hour of day and of day of week.
    `idle`: the runs that had nothing to do (no package updated, nothing downloaded), where
    the history says. `run_numbers`: each run's place among its host's update-all runs, which
    is how a forecast record names the run a residual came from.
    """

    host: str
    plugin: str
    metric: str
    phase: str | None
    y: np.ndarray
    censored: np.ndarray
    outlier: np.ndarray
    run_ids: tuple[str, ...]
    run_numbers: tuple[int, ...]
    covariates: np.ndarray
    calendar: np.ndarray
    reports: tuple[str, ...]
    last_success: str | None
    starts: tuple[str, ...] = ()
    idle: np.ndarray | None = None
    outcomes: Outcomes | None = None

    @property
    def key(self) -> str:
        return series_key(self.host, self.plugin, self.metric, self.phase)

    @property
    def n(self) -> int:
        return len(self.y)

    def report(self, index: int) -> dict[str, float]:
        """What the plugin reported before its run at `index`, in its own units."""
        return {
            name: float(np.expm1(self.covariates[index, j + 1]))
            for j, name in enumerate(self.reports)
        }


CALENDAR_COLUMNS = 4


def calendar_features(hours: np.ndarray, weekdays: np.ndarray) -> np.ndarray:
    h = 2 * np.pi * np.asarray(hours, dtype=float) / 24
    d = 2 * np.pi * np.asarray(weekdays, dtype=float) / 7
    return np.column_stack([np.sin(h), np.cos(h), np.sin(d), np.cos(d)])  # CALENDAR_COLUMNS


# Per covariate, in its raw units: where a fixed cost may give way to a cost per unit.
KNEES: dict[str, tuple[float, ...]] = {
    "gap_hours": (24.0, 168.0),
    "package_count": (10.0,),
    "download_bytes": (1e7,),
}


def width(name: str) -> int:
    """How many model columns one covariate becomes."""
    return 1 + len(KNEES.get(name, ()))


def expand(logs: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Model columns of log1p covariates: each one, then log1p(value / knee) per knee.

    A plugin's time is a fixed cost plus a cost per package, byte or hour of backlog: on the log
    scale, flat below overhead / unit cost and rising with slope 1 above it. log1p alone puts
    that bend at one unit; knees at plausible scales let a linear model find the real bend
    (measured: a third less error on the time after a long gap).
    """
    logs = np.atleast_2d(np.asarray(logs, dtype=float))
    columns = []
    for j, name in enumerate(names):
        raw = np.expm1(logs[:, j])
        columns.append(logs[:, j])
        columns.extend(np.log1p(raw / knee) for knee in KNEES.get(name, ()))
    return np.column_stack(columns)


def log_gap(hours: np.ndarray | float) -> np.ndarray:
    return np.log1p(np.clip(np.asarray(hours, dtype=float), 0, None))


def _fill(values: np.ndarray, default: float) -> np.ndarray:
    ok = np.isfinite(values)
    fill = float(np.median(values[ok])) if ok.any() else default
    return np.where(ok, values, fill)


def _reports(frame: pd.DataFrame) -> tuple[str, ...]:
    return tuple(
        name for name in REPORTED if frame[REPORT_COLUMNS[name]].notna().mean() >= REPORT_SHARE
    )


def _series_from(
    frame: pd.DataFrame,
    values: np.ndarray,
    metric: str,
    phase: str | None,
    last_success: str | None,
) -> Series | None:
    keep = np.isfinite(values)
    if not keep.any():
        return None
    frame = frame[keep]
    values = values[keep]
    reports = _reports(frame)
    gap = log_gap(_fill(frame["hours_since_success"].to_numpy(dtype=float), DEFAULT_GAP_HOURS))
    columns = [gap]
    for name in reports:
        reported = frame[REPORT_COLUMNS[name]].to_numpy(dtype=float)
        columns.append(np.log1p(np.clip(_fill(reported, 0.0), 0, None)))
    starts = frame["start_time"]
    return Series(
        host=str(frame["host"].iloc[0]),
        plugin=str(frame["plugin"].iloc[0]),
        metric=metric,
        phase=phase,
        y=np.log1p(values),
        censored=frame["censored"].to_numpy(dtype=bool),
        outlier=robust_outliers(values),
        run_ids=tuple(frame["run_id"].astype(str)),
        run_numbers=tuple(int(n) for n in frame["run_number"]),
        covariates=np.column_stack(columns),
        calendar=calendar_features(starts.dt.hour.to_numpy(), starts.dt.dayofweek.to_numpy()),
        reports=reports,
        last_success=last_success,
        starts=tuple(starts.dt.strftime("%Y-%m-%d %H:%M:%S")),
        idle=frame["idle"].to_numpy(dtype=bool) if "idle" in frame else None,
    )


OTHER_OUTCOMES = ("failed", "skipped")
LATEST_OUTCOMES = 50


def outcomes(executions: pd.DataFrame, metric: str) -> Outcomes | None:
    """How a plugin's failed and skipped executions went in `metric` (`record.Outcomes`);
    None when it has finished nothing."""
    finished = executions[executions["status"].isin((*TARGET_STATUSES, *OTHER_OUTCOMES))]
    if finished.empty:
        return None
    others = finished[finished["status"].isin(OTHER_OUTCOMES)]
    values = others[metric].fillna(0.0).clip(lower=0.0).tail(LATEST_OUTCOMES)
    return Outcomes(round(len(others) / len(finished), 6), [round(float(v), 3) for v in values])


def last_success(executions: pd.DataFrame) -> str | None:
    """When a plugin's executions last succeeded, as the history's naive local time."""
    success = executions[executions["status"] == "success"]["start_time"]
    return success.max().isoformat(sep=" ") if len(success) else None


def build_series(
    executions: pd.DataFrame,
    phases: pd.DataFrame | None,
    metrics: Sequence[str],
    phase_metric: str = "wall_clock_seconds",
) -> list[Series]:
    """Every (host, plugin, metric) series, plus per-phase series of `phase_metric`."""
    out: list[Series] = []
    for (_, _), group in executions.groupby(["host", "plugin"], sort=True):
        last = last_success(group)
        targets = group[group["status"].isin(TARGET_STATUSES)].reset_index(drop=True)
        if targets.empty:
            continue
        for metric in metrics:
            s = _series_from(targets, targets[metric].to_numpy(dtype=float), metric, None, last)
            if s is not None:
                out.append(replace(s, outcomes=outcomes(group, metric)))
        if phases is None or phases.empty:
            continue
        per_phase = phases[phases["execution_id"].isin(targets["execution_id"])]
        for phase, rows in per_phase.groupby("phase", sort=True):
            if len(rows) < REPORT_SHARE * len(targets):
                continue
            values = (
                targets[["execution_id"]]
                .merge(rows[["execution_id", phase_metric]], on="execution_id", how="left")[
                    phase_metric
                ]
                .to_numpy(dtype=float)
            )
            s = _series_from(targets, values, phase_metric, str(phase), last)
            if s is not None:
                out.append(s)
    return out


def truncate(s: Series, end: int) -> Series:
    """The series as it stood before run `end`: what `train` would have seen then.

    `last_success` is set so that the gap to run `end` is the one its own covariate recorded.
    """
    from datetime import datetime, timedelta

    gap_hours = float(np.expm1(s.covariates[end, 0]))
    start = datetime.fromisoformat(s.starts[end])
    return replace(
        s,
        y=s.y[:end],
        censored=s.censored[:end],
        outlier=robust_outliers(np.expm1(s.y[:end])),
        run_ids=s.run_ids[:end],
        run_numbers=s.run_numbers[:end],
        covariates=s.covariates[:end],
        calendar=s.calendar[:end],
        last_success=(start - timedelta(hours=gap_hours)).isoformat(sep=" "),
        starts=s.starts[:end],
        idle=None if s.idle is None else s.idle[:end],
    )
