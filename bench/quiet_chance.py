"""How well a new plugin's release rate reads the chance of nothing to do before a run.

    PYTHONPATH=. .venv/bin/python bench/quiet_chance.py [--seeds 1 2 ...] [--prior 0.03 1.5]

A plugin with fewer than MIN_KIND runs of a kind knows one release rate (`fitting.idle.
release_rates`, its posterior flat in the log of the rate); `serving.idle.quiet_chance`
averages its chances. For every plugin's run among the last `--last` of `late-plugins`
histories, after one to four checks and some run with work, this compares that chance with
the truth's own (the profile's idle share to the power of the days away) and with what the
run did: binned by our chance, the mean of ours, the truth's and the share that had nothing
to do, and Brier scores. `--prior RATE SD` reads the chance again with a log-normal prior on
the rate (per hour) beside the flat one.
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from update_estimate.fitting import idle as fitting_idle
from update_estimate.fitting.features import build_series
from update_estimate.history import reader, simulate
from update_estimate.serving import idle

PLUGINS = ("apt", "flatpak", "pip", "snap")
BINS = (0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0001)


def prior_rates(log_gaps: np.ndarray, quiet: np.ndarray, rate: float, sd: float) -> list[float]:
    """`fitting.idle.release_rates` with a log-normal prior on the rate instead of a flat one
    in its log."""
    hours = np.maximum(np.expm1(log_gaps), fitting_idle.MIN_GAP_HOURS)
    waited, work = float(hours[quiet].sum()), hours[~quiet]
    log_rates = np.linspace(math.log(1e-7), math.log(1e2), fitting_idle.RATE_GRID)
    exposure = np.minimum(np.outer(np.exp(log_rates), work), 700.0)
    log_posterior = (
        -np.exp(log_rates) * waited
        + np.log(-np.expm1(-exposure)).sum(axis=1)
        - 0.5 * ((log_rates - math.log(rate)) / sd) ** 2
    )
    posterior = np.exp(log_posterior - log_posterior.max())
    shares = np.cumsum(posterior) / posterior.sum()
    points = (np.arange(fitting_idle.RATE_POINTS) + 0.5) / fitting_idle.RATE_POINTS
    return [float(r) for r in np.exp(np.interp(points, shares, log_rates))]


def cases(
    seeds: Sequence[int], runs: int, last: int, prior: tuple[float, float] | None
) -> np.ndarray:
    """Rows of (ours, the prior's or NaN, the truth's, nothing to do, runs with work before)."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            db = Path(folder) / f"{seed}.duckdb"
            tables = simulate.generate(PLUGINS, runs, seed, scenario_name="late-plugins")
            simulate.write(tables, db)
            executions = reader.read(db).executions
            for s in build_series(executions, None, ("wall_clock_seconds",)):
                share = simulate.profile_for(s.plugin).idle_share
                for i in range(max(1, s.n - last), s.n):
                    quiet, gaps = s.idle[:i], s.covariates[:i, 0]
                    checks = int(quiet.sum())
                    if not 1 <= checks <= 4 or checks == i:
                        continue
                    hours = float(np.expm1(s.covariates[i, 0]))
                    rates = fitting_idle.release_rates(gaps, quiet)
                    assert rates is not None  # both kinds are there
                    other = math.nan
                    if prior is not None:
                        other = idle.quiet_chance(prior_rates(gaps, quiet, *prior), hours)
                    truth = share ** (hours / 24)
                    ours = idle.quiet_chance(rates, hours)
                    rows.append((ours, other, truth, float(s.idle[i]), i - checks))
    return np.array(rows)


def table(rows: np.ndarray, column: int, name: str) -> None:
    chance, truth, quiet = rows[:, column], rows[:, 2], rows[:, 3]
    brier, truths = np.mean((chance - quiet) ** 2), np.mean((truth - quiet) ** 2)
    print(f"\n{name}: Brier {brier:.4f} (the truth's {truths:.4f}), n {len(rows)}\n")
    print("| chance | n | ours | the truth's | nothing to do |")
    print("|---|---|---|---|---|")
    for low, high in itertools.pairwise(BINS):
        inside = (chance >= low) & (chance < high)
        if inside.any():
            print(
                f"| {low:.2f}-{min(high, 1.0):.2f} | {int(inside.sum())} | "
                f"{chance[inside].mean():.2f} | {truth[inside].mean():.2f} | "
                f"{quiet[inside].mean():.2f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 29)))
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--last", type=int, default=8)
    parser.add_argument(
        "--prior", type=float, nargs=2, metavar=("RATE", "SD"), help="e.g. 0.03 1.5"
    )
    args = parser.parse_args()
    rows = cases(args.seeds, args.runs, args.last, tuple(args.prior) if args.prior else None)
    for few, label in ((True, "fewer than 5 runs with work"), (False, "5 or more")):
        part = rows[(rows[:, 4] < 5) == few]
        table(part, 0, f"{label}, the flat prior")
        if args.prior:
            table(part, 1, f"{label}, a log-normal prior at {args.prior[0]}/h, sd {args.prior[1]}")


if __name__ == "__main__":
    main()
