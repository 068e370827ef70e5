"""Why `trend` over-covers, and what intervals scaled to the forecast's level would do.

In `trend` the backlog grows by 40% over a history, and the relative noise of a larger backlog
is smaller (a count of packages is Poisson). The residuals that calibrate a forecast come from
the 60 runs before it, when the noise was larger, so the intervals are too wide. Here the
`linear` candidate's one-step residuals (gap covariates only, no reports; series that never
observed zero) calibrate 90% intervals over each history's last 30 runs in two ways: plain
split conformal on the residuals, and normalized conformal as `estimate` does since 0.6.0
(`update_estimate.serving.spread`): each residual is rescaled by the spread at the new forecast over
the spread at its own, where log |residual| has a clear slope on the forecast over the same
60 runs. Printed per scenario: coverage, median width on the log1p scale, and the standard
deviation of the calibration residuals against that of the errors they had to cover.

The residuals here are not scaled to the final fit (`linear.walk`'s inflation) as `train`
scales them, so both columns over-cover a little on 100-run histories.

Usage: .venv/bin/python bench/normalized_conformal.py [--seeds 5 6 7 8] [--runs 100]
           [--metrics wall_clock_seconds cpu_seconds] [--plugins apt flatpak pip snap]
"""

from __future__ import annotations

import argparse

import numpy as np
from linear_models import FIRST, LAST, SCENARIOS, WINDOW, design, histories

from update_estimate.fitting import spread
from update_estimate.fitting.candidates import linear
from update_estimate.serving import conformal
from update_estimate.serving.spread import rescale


def cases(y: np.ndarray, preds: np.ndarray) -> list[tuple[bool, float, bool, float, float, float]]:
    """(plain covered, plain width, normalized covered, normalized width, calibration SD,
    error) for each of the last runs."""
    r = y - preds
    out = []
    for cut in range(len(y) - LAST, len(y)):
        idx = np.arange(max(cut - WINDOW, FIRST), cut)
        plain = conformal.bounds(r[idx].tolist(), 0.9)
        rate = spread.slope(preds[idx], r[idx], np.ones(len(idx), dtype=bool))
        scaled = rescale(r[idx].tolist(), preds[idx].tolist(), rate, float(preds[cut]))
        z = conformal.bounds(scaled, 0.9)
        out.append(
            (
                plain.lower <= r[cut] <= plain.upper,
                plain.upper - plain.lower,
                z.lower <= r[cut] <= z.upper,
                z.upper - z.lower,
                float(np.std(r[idx])),
                float(r[cut]),
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 6, 7, 8])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--metrics", nargs="+", default=["wall_clock_seconds", "cpu_seconds"])
    parser.add_argument("--plugins", nargs="+", default=["apt", "flatpak", "pip", "snap"])
    args = parser.parse_args()
    results: dict[tuple[str, str], list] = {}
    for scenario, s in histories(args.seeds, args.runs, args.plugins, args.metrics):
        if (s.y == 0).any():
            continue
        x = design(s.covariates, ["gap_hours"], True)
        preds = np.full(s.n, np.nan)
        preds[FIRST:] = linear.walk(s.y, x, FIRST)[0]
        results.setdefault((scenario, s.metric), []).extend(cases(s.y, preds))
    print(
        "| scenario | metric | n | coverage plain / normalized | median width plain / normalized"
        " | SD calibration residuals / errors |"
    )
    print("|---|---|---|---|---|---|")
    for scenario in SCENARIOS:
        for metric in args.metrics:
            rows = np.array(results.get((scenario, metric), []), dtype=float)
            if not len(rows):
                continue
            print(
                f"| {scenario} | {metric} | {len(rows)} | {rows[:, 0].mean():.3f} / "
                f"{rows[:, 2].mean():.3f} | {np.median(rows[:, 1]):.3f} / "
                f"{np.median(rows[:, 3]):.3f} | {rows[:, 4].mean():.3f} / {rows[:, 5].std():.3f} |"
            )


if __name__ == "__main__":
    main()
