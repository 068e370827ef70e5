"""A report's time, one run ahead: the host's line, the plugin's own costs, and both joined.

With a report, a plugin with few runs answers with its host's line (`pooled`), and from
`pooled.OWN_COSTS` runs also from its own costs summed on the raw scale (`additive`): the
two averaged on the log scale, the own costs alone beyond every report the plugin has seen
(`pooled._with_own_costs`). Here each is scored out of sample: on `late-plugins` histories,
every run of a reporting plugin is forecast from the plugin's runs before it (its host's
other plugins cut at the same time) by the line, the own costs, and their average. Rows: the
errors on the log scale (mean, median absolute, 90th percentile absolute), by the plugin's
runs before, and by whether the run's report was more than 1.5 times any it made before.

Usage: .venv/bin/python bench/own_costs.py [--seeds 5 6 ... 20] [--runs 16]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from update_estimate.fitting import pooled
from update_estimate.fitting.candidates import additive
from update_estimate.fitting.features import Series, build_series, truncate
from update_estimate.history import reader, simulate

PLUGINS = ("apt", "flatpak", "pip", "snap")
METRICS = ("wall_clock_seconds", "cpu_seconds")
FORMS = ("line", "own costs", "average")
BEYOND = 1.5  # a report this many times any before is beyond the plugin's reports


def errors(s: Series, siblings: list[Series], k: int) -> tuple[float, float] | None:
    """Errors of the line and of the own costs on run k, fitted on the runs before it."""
    past = truncate(s, k)
    host = pooled.stack(past, siblings, "reports", s.starts[k])
    kept = np.flatnonzero(~past.censored)
    if host is None or len(kept) < 3:
        return None
    row = pooled.inputs(s, "reports", 0, len(host.members))[k : k + 1]
    line = host.line(host.usable)(row)[0]
    x = pooled.own_inputs(s)
    own = additive.fit(past.y[kept], x[kept]).predict(x[k])[0]
    return float(line - s.y[k]), float(own - s.y[k])


def cases(seeds: list[int], runs: int) -> list[tuple[str, int, bool, float, float]]:
    """Per run: metric, own runs before, whether beyond, and the two errors."""
    out = []
    for seed in seeds:
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "h.duckdb"
            tables = simulate.generate(PLUGINS, runs, seed, scenario_name="late-plugins")
            simulate.write(tables, db)
            series = build_series(reader.read(db).executions, None, METRICS)
        for s in (s for s in series if s.phase is None and s.reports):
            siblings = [o for o in series if o.metric == s.metric and o is not s]
            reports = np.expm1(s.covariates[:, 1:])
            for k in range(3, s.n):
                found = None if s.censored[k] else errors(s, siblings, k)
                if found is not None:
                    beyond = bool((reports[k] > BEYOND * reports[:k].max(axis=0)).any())
                    before = int((~s.censored[:k]).sum())
                    out.append((s.metric, before, beyond, *found))
    return out


def row(label: str, chosen: list[tuple[str, int, bool, float, float]]) -> str:
    e = np.array([[c[3], c[4], (c[3] + c[4]) / 2] for c in chosen])
    size = np.abs(e)
    cells = [
        f"{e[:, i].mean():+.3f} / {np.median(size[:, i]):.3f} / {np.quantile(size[:, i], 0.9):.3f}"
        for i in range(len(FORMS))
    ]
    return f"| {label} | {len(chosen)} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(5, 21)))
    parser.add_argument("--runs", type=int, default=16)
    args = parser.parse_args()
    found = cases(args.seeds, args.runs)
    print("mean / median absolute / 90th percentile absolute error, log scale\n")
    print("| metric, runs | n | " + " | ".join(FORMS) + " |")
    print("|---|---|" + "---|" * len(FORMS))
    groups = (
        ("3-5 runs", lambda c: c[1] < pooled.OWN_COSTS),
        ("6+ runs, report beyond", lambda c: c[1] >= pooled.OWN_COSTS and c[2]),
        ("6+ runs, the others", lambda c: c[1] >= pooled.OWN_COSTS and not c[2]),
        ("3-5 runs, report beyond", lambda c: c[1] < pooled.OWN_COSTS and c[2]),
    )
    for metric in METRICS:
        for label, keep in groups:
            chosen = [c for c in found if c[0] == metric and keep(c)]
            if chosen:
                print(row(f"{metric.split('_')[0]}, {label}", chosen))


if __name__ == "__main__":
    main()
