"""Conformal ranks read whole or between neighbours, on few residuals (`serving.conformal`).

With n residuals the symmetric 90% interval is the residual at rank (n+1)*0.9 of the absolute
values. Rounded up to a whole rank it covers k/(n+1): from 10 to 18 residuals that is the
largest, which covers 0.91-0.95. Read between the two neighbouring ranks, it covers about the
level. Each row: the next error's coverage and the mean half-width, over `--draws` samples of
n + 1 exchangeable errors (normal, Student t with 3 degrees of freedom, centred lognormal).

Usage: .venv/bin/python bench/interpolated_ranks.py [--draws 20000]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from update_estimate.serving.conformal import RANK_SLACK, at_rank

LEVEL = 0.9


def draw(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    if kind == "normal":
        return rng.normal(size=size)
    if kind == "t3":
        return rng.standard_t(3, size=size)
    x = rng.lognormal(0, 1, size=size)
    return x - np.median(x)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=20000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| errors | n | whole rank: coverage | half-width | between: coverage | half-width |")
    print("|---|---|---|---|---|---|")
    for kind in ("normal", "t3", "lognormal"):
        for n in (9, 10, 12, 15, 18):
            rank = (n + 1) * LEVEL
            whole = math.ceil(rank - RANK_SLACK)
            hits = np.zeros(2)
            widths = np.zeros(2)
            for _ in range(args.draws):
                x = draw(rng, kind, n + 1)
                spread = sorted(np.abs(x[:-1]).tolist())
                for j, q in enumerate((spread[whole - 1], at_rank(spread, rank))):
                    hits[j] += abs(x[-1]) <= q
                    widths[j] += q
            cov, width = hits / args.draws, widths / args.draws
            print(
                f"| {kind} | {n} | {cov[0]:.3f} | {width[0]:.2f} | {cov[1]:.3f} | {width[1]:.2f} |"
            )


if __name__ == "__main__":
    main()
