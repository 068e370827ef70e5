"""The covariate grid a forecast record is stored over, for what is only known at estimate time.

Time since the last run and, for plugins that report them, package count and download size are
known only when `estimate` runs. `train` predicts the next run at every node of a small grid of
those values (with day and hour at a reference) plus one row per weekday and per hour; `estimate`
interpolates multilinearly on the log1p scale (a sum of costs on the raw scale,
`Variant.summed`) and adds the calendar offsets.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from update_estimate.fitting.features import (
    CALENDAR_COLUMNS,
    Series,
    calendar_features,
    expand,
    width,
)

GAP_HOURS_BASE = (0.5, 2, 6, 12, 24, 48, 96, 168, 336, 720, 1440)
GAP_HOURS_REPORTS = (2, 24, 96, 336, 1440)
REF_HOUR, REF_WEEKDAY = 12, 2
VARIANTS = ("base", "reports")


@dataclass(frozen=True)
class Grid:
    axes: list[tuple[str, list[float]]]
    rows: np.ndarray
    nodes: int

    def split(self, predictions: np.ndarray) -> tuple[list[float], list[float], list[float]]:
        """Node predictions, then weekday and hour offsets from the reference node."""
        points = predictions[: self.nodes]
        ref = predictions[self.nodes]
        weekday = predictions[self.nodes + 1 : self.nodes + 8] - ref
        hour = predictions[self.nodes + 8 : self.nodes + 32] - ref
        return points.tolist(), weekday.tolist(), hour.tolist()


def shrunk(offsets: list[float], calendar: np.ndarray, column: int, noise: float) -> list[float]:
    """Calendar offsets (per hour or weekday) shrunk towards a typical run's, their mean over
    the runs, by how much the runs at that hour say (empirical Bayes): an hour's offset rests
    on its own runs, each off by `noise` (the calibration's spread), and only as much of the
    spread between hours as exceeds that noise is taken for real.

    A model's calendar term is noise where the hours differ by less than their runs' errors
    (trees split on it anyway, and the demo's cargo CPU read twice as long at 07:00 as at
    10:00); and a model extrapolates to an hour no run started at (trees step where the sin
    and cos of hours never seen fall between leaves, a harmonic swings: 333 s at 03:10, 568 s
    at 04:10). Nothing in the history speaks for such an hour: it answers as a typical run."""
    period = len(offsets)
    angle = np.arctan2(calendar[:, column], calendar[:, column + 1])
    at = np.round(angle * period / (2 * np.pi)).astype(int) % period
    counts = np.bincount(at, minlength=period)
    typical = float(np.dot(counts, offsets) / counts.sum())
    apart = np.asarray(offsets, dtype=float) - typical
    seen = counts > 0
    error = noise**2 / np.maximum(counts, 1)
    real = float(np.sum(counts * apart**2) - np.sum(counts[seen] * error[seen])) / counts.sum()
    kept = np.where(seen, max(real, 0.0) / np.maximum(max(real, 0.0) + error, 1e-12), 0.0)
    return [typical + float(k * d) for k, d in zip(kept, apart, strict=True)]


def variants(series: Series) -> list[str]:
    return list(VARIANTS) if series.reports else ["base"]


def names(series: Series, variant: str) -> list[str]:
    """The estimate-time covariates a variant's models see, in design order."""
    return ["gap_hours", *series.reports] if variant == "reports" else ["gap_hours"]


def design(series: Series, variant: str) -> np.ndarray:
    """The model inputs of a variant: expanded estimate-time covariates, then calendar."""
    used = names(series, variant)
    return np.hstack([expand(series.covariates[:, : len(used)], used), series.calendar])


def base_columns(rows: np.ndarray, variant: str) -> np.ndarray:
    """A variant's rows as a base-design model sees them: the gap and the calendar only."""
    if variant == "base":
        return rows
    return np.hstack([rows[:, : width("gap_hours")], rows[:, -CALENDAR_COLUMNS:]])


def _report_axis(values: np.ndarray) -> list[float]:
    """Zero, then quantiles of the reports of some work: where most runs report nothing to do,
    quantiles over all runs were all zero but the top, and a report of one package was
    interpolated between nothing and the weeks-long backlog (twice the model's own forecast)."""
    raw = np.expm1(values)
    work = raw[raw > 0]
    qs = np.quantile(work, [0.05, 0.25, 0.5, 0.75, 0.95]) if len(work) else []
    top = float(raw.max())
    return sorted({0.0, *(round(float(q), 3) for q in qs), top, 2 * top + 1})


def build(series: Series, variant: str) -> Grid:
    axes: list[tuple[str, list[float]]] = [
        ("gap_hours", list(GAP_HOURS_REPORTS if variant == "reports" else GAP_HOURS_BASE))
    ]
    if variant == "reports":
        for i, name in enumerate(series.reports, start=1):
            axes.append((name, _report_axis(series.covariates[:, i])))
    used = [name for name, _ in axes]
    logs = np.array(list(itertools.product(*(np.log1p(v) for _, v in axes))), dtype=float)
    nodes = expand(logs, used)
    ref_node = expand(np.median(series.covariates[:, : len(axes)], axis=0), used)[0]
    ref_cal = calendar_features(np.array([REF_HOUR]), np.array([REF_WEEKDAY]))[0]
    week = calendar_features(np.full(7, REF_HOUR), np.arange(7))
    day = calendar_features(np.arange(24), np.full(24, REF_WEEKDAY))
    rows = np.vstack(
        [
            np.hstack([nodes, np.tile(ref_cal, (len(nodes), 1))]),
            np.hstack([ref_node, ref_cal])[None, :],
            np.hstack([np.tile(ref_node, (7, 1)), week]),
            np.hstack([np.tile(ref_node, (24, 1)), day]),
        ]
    )
    return Grid(axes=axes, rows=rows, nodes=len(nodes))
