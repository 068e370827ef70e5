"""A download's chance of fetching nothing, one run ahead: the count that serves it against
the one it replaced, on every run of many histories rather than a bench's last dozen.

`serving.idle.zero_chance` counts the share of zeros among the runs after a break within a
factor of two of today's, drawn towards the share within a factor of four, and so on out to
the calibration's share, and may exceed that share up to `idle.CEILING` (0.38.0). Before, it
counted among every break at least half as long as today's and never exceeded the share
(`before` below). Since 0.41.0 a break shorter than every one seen is at least as likely to
bring nothing as the shortest (the count there, raised to the power of how much shorter;
"counted alone" leaves that out). Each is also tried with other weights (PRIOR_RUNS),
ceilings and reaches.

Every download series of the histories is forecast at each run from its 40th on, from the
runs before it: the calibration's share is that of the last 50 runs. Columns: the log loss of
the chance against what the run did (fetched nothing or not); a proxy interval score for the
runs that fetched something, relative to the size (the 5-95% range of a mixture of the chance
of nothing and the sizes of the last 50 runs that fetched something; the serving interval is
read from residuals instead, so this isolates the chance); its coverage; and per band of the
chance, its mean against the share of runs that fetched nothing.

Usage: .venv/bin/python bench/zero_chance.py [--heldout 1 2 ... 12] [--scenarios steady ...]
           [--seeds 5 6 7 8] [--first 40]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import accuracy
import heldout
import numpy as np

from update_estimate.fitting.features import build_series
from update_estimate.history import reader, simulate
from update_estimate.serving import idle

FIRST = 40  # runs before the first forecast (`--first`)
WINDOW = 50  # runs the calibration's share and the sizes are taken from
BANDS = ((0.0, 0.3), (0.3, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 1.01))
Rule = Callable[[Sequence[float], Sequence[float], float, float], float]


def before(nothing: Sequence[float], some: Sequence[float], gap: float, share: float) -> float:
    """The count replaced at 0.38.0: every break at least half as long, never above `share`."""
    chance = share
    for halvings in range(idle.REACH_STEPS, 0, -1):
        reach = gap / 2**halvings
        zeros = sum(h >= reach for h in nothing)
        runs = zeros + sum(h >= reach for h in some)
        chance = (zeros + idle.PRIOR_RUNS * chance) / (runs + idle.PRIOR_RUNS)
    return min(chance, share)


def counted(
    nothing: Sequence[float],
    some: Sequence[float],
    gap: float,
    share: float,
    prior: float = idle.PRIOR_RUNS,
    ceiling: float = idle.CEILING,
    steps: int = idle.REACH_STEPS,
    sooner: bool = True,
) -> float:
    """The serving count (`idle.zero_chance`), with other weights, ceilings and reaches."""
    return idle.zero_chance((nothing, some), gap, share, prior, ceiling, steps, sooner)


def downloads(tables: simulate.Tables) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each download series: the hours before each run and its size (log1p)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(tables, db)
        history = reader.read(db)
    series = build_series(history.executions, None, ["download_bytes"])
    return [(np.expm1(s.covariates[:, 0]), np.asarray(s.y)) for s in series if s.phase is None]


def score(
    histories: list[list[tuple[np.ndarray, np.ndarray]]], rules: dict[str, Rule], first: int
) -> None:
    print("| rule | runs | log loss | proxy IS (median / mean) | coverage | mean chance / share")
    print(f"|---|---|---|---|---|{'---|' * 1}")
    for name, rule in rules.items():
        loss, scores, hits, chances, zeros = [], [], [], [], []
        for series in histories:
            for hours, y in series:
                empty = y <= 0
                for i in range(first, len(y)):
                    low = max(0, i - WINDOW)
                    nothing = [float(h) for h in hours[:i][empty[:i]]]
                    some = [float(h) for h in hours[:i][~empty[:i]]]
                    chance = rule(nothing, some, float(hours[i]), float(empty[low:i].mean()))
                    chance = min(max(chance, 1e-3), 1 - 1e-3)
                    loss.append(-math.log(chance if empty[i] else 1 - chance))
                    chances.append(chance)
                    zeros.append(bool(empty[i]))
                    sizes = np.expm1(y[low:i][~empty[low:i]])
                    if empty[i] or not len(sizes):
                        continue
                    actual = float(np.expm1(y[i]))

                    def at(level: float, p: float = chance, s: np.ndarray = sizes) -> float:
                        return 0.0 if level <= p else float(np.quantile(s, (level - p) / (1 - p)))

                    lower, upper = at(0.05), at(0.95)
                    miss = max(lower - actual, 0.0) + max(actual - upper, 0.0)
                    scores.append((upper - lower + 20 * miss) / actual)
                    hits.append(lower <= actual <= upper)
        c, z = np.array(chances), np.array(zeros)
        bands = " ".join(
            f"{c[(c >= a) & (c < b)].mean():.2f}/{z[(c >= a) & (c < b)].mean():.2f}"
            if ((c >= a) & (c < b)).any()
            else "-"
            for a, b in BANDS
        )
        print(
            f"| {name} | {len(loss)} | {np.mean(loss):.4f} | {np.median(scores):.2f} / "
            f"{np.mean(scores):.2f} | {np.mean(hits):.3f} | {bands} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heldout", type=int, nargs="*", default=list(range(1, 13)))
    parser.add_argument("--scenarios", nargs="*", default=[])
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 6, 7, 8])
    parser.add_argument("--first", type=int, default=FIRST, help="the first run forecast")
    args = parser.parse_args()
    rules: dict[str, Rule] = {
        "before (0.37.0)": before,
        "counted alone (0.38.0)": partial(counted, sooner=False),
        "counted (0.41.0)": counted,
    }
    for prior in (1, 4):
        rules[f"counted, prior {prior}"] = partial(counted, prior=prior)
    for ceiling in (0.8, 0.95):
        rules[f"counted, ceiling {ceiling}"] = partial(counted, ceiling=ceiling)
    rules["counted, reach 3"] = partial(counted, steps=3)
    plugins = ("apt", "flatpak", "snap", "pip", "cargo")
    if args.heldout:
        print(f"\nHeld-out histories (100 runs), seeds {' '.join(map(str, args.heldout))}\n")
        series = [downloads(heldout.generate(seed, 100, plugins)) for seed in args.heldout]
        score(series, rules, args.first)
    for name in args.scenarios:
        runs, _ = accuracy.SHAPES.get(name, (100, 10))
        tables = [
            simulate.generate(accuracy.PLUGINS, runs, s, scenario_name=name) for s in args.seeds
        ]
        print(f"\n`{name}`, seeds {' '.join(map(str, args.seeds))}\n")
        score([downloads(t) for t in tables], rules, args.first)


if __name__ == "__main__":
    main()
