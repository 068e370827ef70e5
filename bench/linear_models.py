"""What the `linear` candidate's design and fit buy: ridge on log1p covariates alone, ridge with
the covariate knees (`features.expand`), Huber-weighted ridge with the knees
(`candidates.linear`), and the candidate itself, whose calibration residuals are scaled to
the fit at the cut (`linear.walk`'s inflation); and next to them `gap_neighbours`
(`candidates.neighbours`): the median of the runs after similar breaks, or the Huber
line where fewer than 4 recent runs had one.

Each model, with one lag, is refitted before every run of simulated histories (apt, flatpak,
pip unless `--plugins`; 100 runs unless `--runs`; every scenario). Over each history's last
30 runs: mean absolute one-step error on the log1p scale, median absolute percentage error of
the raw value (runs that observed zero left out), and the coverage of 90% split-conformal
intervals from the 60 residuals before each run; then the mean APE of the runs after breaks of
over 100 hours, which a median of what usually happens can miss. numpy only, so it takes
seconds.

Usage: .venv/bin/python bench/linear_models.py [--seeds 0 1 2 3] [--runs 100] [--metrics ...]
           [--plugins apt flatpak pip]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from update_estimate.fitting.candidates import linear, neighbours
from update_estimate.fitting.features import Series, build_series, expand
from update_estimate.history import reader as history
from update_estimate.history import simulate
from update_estimate.serving import conformal
from update_estimate.serving.predictive import ZERO_LOG

SCENARIOS = ("steady", "trend", "level-shift", "slow-network", "sparse", "bursty")
METRICS = ("wall_clock_seconds", "download_bytes")
LAST, WINDOW, FIRST = 30, 60, 10
LONG_BREAK_HOURS = 100  # `bursty`'s weeks away, `sparse`'s every break, a sixth of the others'


def design(covariates: np.ndarray, names: list[str], knees: bool) -> np.ndarray:
    """Names outside features.KNEES get no knees: the log1p-only design."""
    used = names if knees else [f"{n} (no knees)" for n in names]
    return expand(covariates[:, : len(names)], used)


def ridge(y: np.ndarray, x: np.ndarray, start: int) -> np.ndarray:
    """The former candidate: ridge (alpha 1, free intercept) on [1, previous y, x]."""
    z = np.column_stack([np.ones(len(y) - 1), y[:-1], x[1:]])
    penalty = np.eye(z.shape[1])
    penalty[0, 0] = 0
    out = []
    for t in range(start, len(y)):
        a, b = z[: t - 1], y[1:t]
        out.append(z[t - 1] @ np.linalg.solve(a.T @ a + penalty, a.T @ b))
    return np.array(out)


Forecasts = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
# One-step forecasts from FIRST, and the learning curve the calibration is scaled by, if any.
Walk = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray | None]]


def unscaled(forecasts: Forecasts) -> Walk:
    return lambda y, x, start: (forecasts(y, x, start), None)


Method = tuple[str, bool, Walk]
METHODS: tuple[Method, ...] = (
    ("ridge", False, unscaled(ridge)),
    ("ridge + knees", True, unscaled(ridge)),
    ("Huber + knees", True, unscaled(lambda y, x, start: linear.walk(y, x, start)[0])),
    ("candidate", True, linear.walk),
    ("gap neighbours", True, unscaled(neighbours.one_step)),
)


def last_runs(
    y: np.ndarray, preds: np.ndarray, inflation: np.ndarray | None
) -> list[tuple[bool, float, float]]:
    """(covered, log error, APE) of each of the last runs, calibrated as `forecast` does: a past
    run that observed nothing replays as nothing (`ZERO_LOG`), whatever the centre. With
    `inflation` (`linear.walk`'s from FIRST), residuals are scaled to the fit at the
    cut, as `train` scales them to its final fit."""
    r = y - preds
    out = []
    for cut in range(len(y) - LAST, len(y)):
        centre = preds[cut]
        window = range(max(cut - WINDOW, FIRST), cut)
        scale = (
            np.ones(len(y))
            if inflation is None
            else np.sqrt(inflation[cut - FIRST] / np.r_[np.ones(FIRST), inflation])
        )
        b = conformal.bounds(
            [ZERO_LOG - centre if y[i] == 0 else r[i] * scale[i] for i in window],
            0.9,
            floor=-centre,
        )
        covered = b.lower <= -centre if y[cut] == 0 else b.lower <= r[cut] <= b.upper
        actual = np.expm1(y[cut])
        ape = abs(np.expm1(centre) - actual) / actual if actual else np.nan
        out.append((covered, abs(r[cut]), ape))
    return out


def histories(
    seeds: list[int], runs: int, plugins: list[str], metrics: list[str]
) -> Iterator[tuple[str, Series]]:
    """(scenario, series) of each simulated history, every scenario per seed."""
    for seed in seeds:
        for scenario in SCENARIOS:
            with tempfile.TemporaryDirectory() as folder:
                db = Path(folder) / "h.duckdb"
                simulate.write(simulate.generate(tuple(plugins), runs, seed, 1, scenario), db)
                series = build_series(history.read(db).executions, None, metrics)
            for s in series:
                yield scenario, s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--metrics", nargs="+", default=list(METRICS))
    parser.add_argument("--plugins", nargs="+", default=["apt", "flatpak", "pip"])
    args = parser.parse_args()
    results: dict[tuple, list[tuple[bool, float, float]]] = {}
    long_breaks: dict[tuple, list[float]] = {}
    for scenario, s in histories(args.seeds, args.runs, args.plugins, args.metrics):
        for reports in (False, True) if s.reports else (False,):
            names = ["gap_hours", *s.reports] if reports else ["gap_hours"]
            for label, knees, method in METHODS:
                x = design(s.covariates, names, knees)
                preds = np.full(s.n, np.nan)
                preds[FIRST:], inflation = method(s.y, x, FIRST)
                key = (scenario, s.metric, reports, label)
                cases = last_runs(s.y, preds, inflation)
                results.setdefault(key, []).extend(cases)
                after_weeks = np.expm1(s.covariates[s.n - LAST :, 0]) > LONG_BREAK_HOURS
                long_breaks.setdefault(key, []).extend(np.array([c[2] for c in cases])[after_weeks])
    labels = " / ".join(label for label, *_ in METHODS)
    print(f"| scenario | metric | reports | log-MAE {labels} | MdAPE | coverage |")
    print("|---|---|---|---|---|---|")
    for scenario in SCENARIOS:
        for metric in args.metrics:
            for reports in (False, True):
                rows = [results.get((scenario, metric, reports, m[0])) for m in METHODS]
                if not rows[0]:
                    continue
                cells = [
                    " / ".join(f"{f([v[i] for v in r]):.{d}f}" for r in rows)
                    for i, f, d in ((1, np.mean, 3), (2, np.nanmedian, 3), (0, np.mean, 2))
                ]
                print(
                    f"| {scenario} | {metric} | {'yes' if reports else 'no'} | "
                    + " | ".join(cells)
                    + " |"
                )
    print(f"\nPooled coverage, {labels}:")
    for metric in args.metrics:
        pooled = [
            np.mean([v[0] for k, r in results.items() if k[1] == metric and k[3] == m for v in r])
            for m, *_ in METHODS
        ]
        print(f"- {metric}: " + " / ".join(f"{c:.3f}" for c in pooled))
    print(f"\nMean APE of the runs after breaks over {LONG_BREAK_HOURS} h, {labels}:")
    for key in sorted({k[:3] for k in long_breaks}):
        rows = [long_breaks.get((*key, m)) for m, *_ in METHODS]
        if rows[0]:
            cells = " / ".join(f"{np.nanmean(r):.3f}" for r in rows)
            print(
                f"- {key[0]}, {key[1]}, reports {'yes' if key[2] else 'no'}: "
                f"{cells} ({len(rows[0])})"
            )


if __name__ == "__main__":
    main()
