"""Few residuals, one scale or one per side (`serving.conformal.side_scales`).

Between 9 and 18 residuals the 90% interval is the symmetric rank (n+1)*0.9 of distances from
the centre. With one scale, a long upper tail (runs with a heavy package) is mirrored below
the centre. Each side may be scaled by its own mean distance (`own`), or halfway between it
and both sides' (`halfway`, what `conformal.bounds` does): the scaled distance is the score,
and its rank bounds each side in its own scale. Rows: the next error's coverage and mean
interval score (width plus 2/alpha times the miss), over `--draws` samples of n + 1
exchangeable errors from symmetric and skewed shapes.

Usage: .venv/bin/python bench/side_scales.py [--draws 3000]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from update_estimate.serving.conformal import at_rank, side_scales

LEVEL = 0.9
Draw = Callable[[np.random.Generator, int], np.ndarray]
SHAPES: dict[str, Draw] = {
    "normal": lambda rng, k: rng.normal(0, 1, k),
    "gamma(1.5)": lambda rng, k: rng.gamma(1.5, 0.4, k) - 0.6,
    "exponential": lambda rng, k: rng.exponential(1, k) - 0.7,
    "15% heavy runs": lambda rng, k: np.where(
        rng.random(k) < 0.15, rng.normal(2.3, 0.3, k), rng.normal(0, 0.3, k)
    ),
    "30% quiet runs": lambda rng, k: np.where(
        rng.random(k) < 0.3, rng.normal(-1.5, 0.2, k), rng.normal(0, 0.2, k)
    ),
}


def scales(past: np.ndarray, form: str) -> tuple[float, float]:
    if form == "one":
        return 1.0, 1.0
    up, down = side_scales(past.tolist(), 0.0)
    if form == "halfway" or (up, down) == (1.0, 1.0):
        return up, down
    return 2 * up - 1, 2 * down - 1  # undo the halfway: each side's own mean distance


def interval_score(lower: float, upper: float, actual: float) -> float:
    alpha = 1 - LEVEL
    miss = max(lower - actual, 0.0) + max(actual - upper, 0.0)
    return upper - lower + 2 / alpha * miss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=3000)
    args = parser.parse_args()
    forms = ("one", "halfway", "own")
    print("| errors | n | " + " | ".join(f"{f}: coverage / score" for f in forms) + " |")
    print("|---|---|" + "---|" * len(forms))
    for name, shape in SHAPES.items():
        for n in (9, 12, 18):
            rng = np.random.default_rng(n)
            hits = {f: 0 for f in forms}
            scores = {f: 0.0 for f in forms}
            for _ in range(args.draws):
                past, actual = shape(rng, n), float(shape(rng, 1)[0])
                for form in forms:
                    up, down = scales(past, form)
                    scaled = sorted(np.where(past >= 0, past / up, -past / down))
                    q = at_rank(scaled, (n + 1) * LEVEL)
                    lower, upper = -q * down, q * up
                    hits[form] += lower <= actual <= upper
                    scores[form] += interval_score(lower, upper, actual)
            cells = [f"{hits[f] / args.draws:.3f} / {scores[f] / args.draws:.2f}" for f in forms]
            print(f"| {name} | {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
