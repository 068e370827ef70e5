"""Accuracy and calibration per scenario: ours against the two baselines, with and without the
plugins' pre-run reports (check-phase covariates).

Usage: .venv/bin/python bench/accuracy.py [--runs 100] [--last 20] [--seed 5]
Prints a Markdown table (see bench/RESULTS.md for the recorded one).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from update_estimate import backtest, simulate

PLUGINS = ("apt", "flatpak", "pip")
METRICS = ("wall_clock_seconds", "cpu_seconds", "memory_peak_bytes", "download_bytes")
SCENARIOS = ("steady", "trend", "level-shift", "slow-network", "sparse", "bursty")


def pooled(result: backtest.BacktestResult, method: str, plugin_total: bool) -> dict[str, float]:
    """Coverage per metric over the plugins (or the totals), pooled over runs."""
    out = {}
    for metric in METRICS:
        rows = [
            r for r in result.rows if r.metric == metric and (r.plugin == "total") == plugin_total
        ]
        n = sum(r.scores[method].n for r in rows)
        out[metric] = sum(r.scores[method].coverage * r.scores[method].n for r in rows) / n
    return out


def wall(result: backtest.BacktestResult, method: str) -> tuple[float, float]:
    """Median APE and mean interval score of wall clock over the plugins' cases."""
    cases = [c for c in result.cases if c.metric == "wall_clock_seconds" and c.plugin != "total"]
    actual = np.array([c.actual for c in cases])
    bounds = np.array([c.intervals[method] for c in cases])
    s = backtest.score(actual, bounds, result.level)
    return s.median_ape or float("nan"), s.interval_score


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--last", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    print(
        "| scenario | covariates | coverage wall/cpu/mem/dl (plugins) | coverage totals | "
        "MdAPE wall ours / median / last | ratio to median | IS ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in SCENARIOS:
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "h.duckdb"
            tables = simulate.generate(PLUGINS, runs=args.runs, seed=args.seed, scenario_name=name)
            simulate.write(tables, db)
            results = backtest.evaluate(db, None, METRICS, None, args.last, 0.9, (True, False), 2)
        for mode in (True, False):
            r = results[mode]
            cov = pooled(r, "ours", False)
            tot = pooled(r, "ours", True)
            ours, ours_is = wall(r, "ours")
            med, med_is = wall(r, "recent_median")
            last, _ = wall(r, "last_value")
            print(
                f"| {name} | {'yes' if mode else 'no'} | "
                + "/".join(f"{cov[m]:.2f}" for m in METRICS)
                + " | "
                + "/".join(f"{tot[m]:.2f}" for m in METRICS)
                + f" | {ours:.2f} / {med:.2f} / {last:.2f} | {ours / med:.2f}"
                + f" | {ours_is / med_is:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
