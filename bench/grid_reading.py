"""How far a forecast record's grid, read at a run's covariates, lies from the stored model's
own answer there: `simulate`'s histories, each wall and CPU series' last runs with their
reports, trained as `train` would before each. A grid read on the log1p scale where the model
sums raw costs (`additive`) answered above it; read on the raw scale, as the record now says
(`Variant.summed`), it answers as the model does.

    .venv/bin/python bench/grid_reading.py --scenarios jump steady noisy-reports --seeds 5
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import joblib

from update_estimate.fitting.features import build_series, truncate
from update_estimate.fitting.series_training import pickle_name, train_series
from update_estimate.fitting.slowpath import predict_at
from update_estimate.history import reader as history
from update_estimate.history import simulate
from update_estimate.reports import REPORTS_SUFFIX
from update_estimate.serving.interpolation import locate

PLUGINS = ("apt", "flatpak", "pip", "snap")
METRICS = ["wall_clock_seconds", "cpu_seconds"]


def readings(scenario: str, seed: int, runs: int, last: int) -> list[tuple[str, float, float]]:
    """(model, grid as read minus the model, the same grid read on log1p minus the model)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(simulate.generate(PLUGINS, runs, seed, scenario_name=scenario), db)
        executions = history.read(db).executions
    out = []
    for s in build_series(executions, None, METRICS):
        if not s.reports:
            continue
        for i in range(max(s.n - last, 2), s.n):
            trained = train_series(truncate(s, i), None, include_extras=False)
            variant = trained.record.variants.get("reports")
            data = trained.pickles.get(pickle_name(trained.key, "reports"))
            if variant is None or data is None or not variant.axes:
                continue
            stored = joblib.load(io.BytesIO(data))
            if stored["design"] != "reports":
                continue
            since = datetime.fromisoformat(s.starts[i]) - datetime.fromisoformat(
                str(trained.record.last_success)
            )
            values = {"gap_hours": since.total_seconds() / 3600, **s.report(i)}
            model = predict_at(stored, [axis.name for axis in variant.axes], values)
            read = locate(variant, values).centre - model
            on_log = locate(variant._replace(summed=False), values).centre - model
            out.append((variant.model.removesuffix(REPORTS_SUFFIX), read, on_log))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", nargs="+", default=["jump", "steady", "noisy-reports"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[5])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--last", type=int, default=10)
    args = parser.parse_args()
    started = time.monotonic()
    by_model: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for scenario in args.scenarios:
        for seed in args.seeds:
            for model, read, on_log in readings(scenario, seed, args.runs, args.last):
                by_model[model].append((read, on_log))
                by_model["every model"].append((read, on_log))
            print(f"{scenario} seed {seed}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    print(
        "| model | n | as read: mean / median / 90% of abs | on log1p: mean / median / 90% of abs |"
    )
    print("|---|---|---|---|")
    for model, pairs in sorted(by_model.items(), key=lambda kv: -len(kv[1])):
        cells = []
        for k in (0, 1):
            errors = [p[k] for p in pairs]
            ranked = sorted(abs(e) for e in errors)
            p90 = ranked[min(int(0.9 * len(ranked)), len(ranked) - 1)]
            cells.append(
                f"{statistics.mean(errors):+.4f} / {statistics.median(errors):+.4f} / {p90:.4f}"
            )
        print(f"| {model} | {len(pairs)} | {cells[0]} | {cells[1]} |")
    print(
        f"\n{' '.join(args.scenarios)}, seeds {' '.join(map(str, args.seeds))}; "
        f"{time.monotonic() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
