"""What the covariate knees buy: a ridge on log1p covariates alone against one with the knees.

A ridge with one lag (as the `linear` candidate) is refitted before every run of simulated
histories (apt, flatpak, pip; 100 runs; every scenario); its one-step errors on the log1p scale
over each history's last 30 runs are compared, with the coverage of 90% split-conformal
intervals from the 60 residuals before each run. numpy only, so it takes seconds.

Usage: .venv/bin/python bench/knees.py [--seeds 0 1 2 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from update_estimate import conformal, history, simulate
from update_estimate.features import build_series, expand

SCENARIOS = ("steady", "trend", "level-shift", "slow-network", "sparse", "bursty")
METRICS = ("wall_clock_seconds", "download_bytes")
LAST, WINDOW, FIRST = 30, 60, 10


def design(covariates: np.ndarray, names: list[str], knees: bool) -> np.ndarray:
    """Names outside features.KNEES get no knees: the log1p-only design."""
    used = names if knees else [f"{n} (no knees)" for n in names]
    return expand(covariates[:, : len(names)], used)


def one_step_errors(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Ridge (alpha 1, free intercept) on [1, previous y, x], refitted before every run."""
    lagged = np.concatenate([[y[0]], y[:-1]])
    z = np.column_stack([np.ones(len(y)), lagged, x])
    penalty = np.eye(z.shape[1])
    penalty[0, 0] = 0
    errors = np.full(len(y), np.nan)
    for t in range(FIRST, len(y)):
        a, b = z[1:t], y[1:t]
        w = np.linalg.solve(a.T @ a + penalty, a.T @ b)
        errors[t] = y[t] - z[t] @ w
    return errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    args = parser.parse_args()
    results: dict[tuple, list[tuple[bool, float]]] = {}
    for seed in args.seeds:
        for scenario in SCENARIOS:
            with tempfile.TemporaryDirectory() as folder:
                db = Path(folder) / "h.duckdb"
                tables = simulate.generate(("apt", "flatpak", "pip"), 100, seed, 1, scenario)
                simulate.write(tables, db)
                series = build_series(history.read(db).executions, None, METRICS)
            for s in series:
                for reports in (False, True) if s.reports else (False,):
                    names = ["gap_hours", *s.reports] if reports else ["gap_hours"]
                    for knees in (False, True):
                        r = one_step_errors(s.y, design(s.covariates, names, knees))
                        key = (scenario, s.metric, reports, knees)
                        for cut in range(s.n - LAST, s.n):
                            b = conformal.bounds(list(r[max(cut - WINDOW, FIRST) : cut]), 0.9)
                            results.setdefault(key, []).append(
                                (b.lower <= r[cut] <= b.upper, abs(r[cut]))
                            )
    print(
        "| scenario | metric | reports | log-MAE without / with knees | coverage without / with |"
    )
    print("|---|---|---|---|---|")
    for scenario in SCENARIOS:
        for metric in METRICS:
            for reports in (False, True):
                rows = [results.get((scenario, metric, reports, k)) for k in (False, True)]
                if not rows[0]:
                    continue
                mae = [np.mean([e for _, e in r]) for r in rows]
                cov = [np.mean([h for h, _ in r]) for r in rows]
                print(
                    f"| {scenario} | {metric} | {'yes' if reports else 'no'} | "
                    f"{mae[0]:.3f} / {mae[1]:.3f} | {cov[0]:.2f} / {cov[1]:.2f} |"
                )


if __name__ == "__main__":
    main()
