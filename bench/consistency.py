"""How often the joint totals contradicted their own plugins before they were held to them, and
how far holding them moves them; how intervals grow with the distance past the stored grid.

On a demo-like history (200 runs, 8 plugins, seed 7, trained once), random requests: plugin
subsets of 1-8, `--at` from the last run to a year after it, levels 0.8-0.95, sequential or
parallel memory. For each total, the joint estimate as read from the replay (`_from_samples`)
is compared with its plugins' rows; `total` serves the held one.

Usage: .venv/bin/python bench/consistency.py [--requests 400]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from common import BIN

from update_estimate.history.simulate import DEFAULT_PLUGINS
from update_estimate.record import METRICS, series_key
from update_estimate.requests import EstimateRequest
from update_estimate.serving import cache
from update_estimate.serving.estimate import estimate
from update_estimate.serving.predictive import predictive, single
from update_estimate.serving.totals import combine, from_samples, joint_draws, total


def trained(folder: Path) -> tuple[dict, datetime]:
    db, where = folder / "history.duckdb", folder / "cache"
    subprocess.run([BIN, "simulate", "--db", db, "--runs", "200", "--seed", "7"], check=True)
    subprocess.run([BIN, "-q", "train", "--db", db, "--cache-dir", where], check=True)
    generation = cache.current(where)
    assert generation is not None
    records = generation.records().series
    last = max(datetime.fromisoformat(r.last_success) for r in records.values() if r.last_success)
    return records, last


def contradictions(records: dict, last: datetime, requests: int) -> None:
    rng = random.Random(1)
    seen = {m: 0 for m in METRICS}
    broken = {m: 0 for m in METRICS}
    moved: dict[str, list[float]] = {m: [] for m in METRICS}
    for _ in range(requests):
        plugins = rng.sample(DEFAULT_PLUGINS, rng.randint(1, len(DEFAULT_PLUGINS)))
        at = last + timedelta(hours=rng.uniform(0, 24 * 365))
        level = rng.choice((0.8, 0.9, 0.95))
        parallel = rng.random() < 0.5
        for metric in METRICS:
            preds = [
                predictive(records[series_key("workstation", p, metric)], at, None)[0]
                for p in plugins
            ]
            rows = [single(p, level) for p in preds]
            draws = joint_draws(preds)
            raw = from_samples([combine(metric, d, parallel) for d in draws], level, preds)
            held = total(metric, preds, level, parallel)
            seen[metric] += 1
            below = any(
                raw.lower < r.lower or raw.point < r.point or raw.upper < r.upper for r in rows
            )
            if len(rows) == 1:
                below = below or (raw.point, raw.lower, raw.upper) != (
                    rows[0].point,
                    rows[0].lower,
                    rows[0].upper,
                )
            if below:
                broken[metric] += 1
                for a, b in (
                    (raw.lower, held.lower),
                    (raw.point, held.point),
                    (raw.upper, held.upper),
                ):
                    if b > 0 and a != b:
                        moved[metric].append((b - a) / b)
    print("| metric | totals | contradicted a plugin | median move where held |")
    print("|---|---|---|---|")
    for m in METRICS:
        shift = f"{statistics.median(moved[m]):.1%}" if moved[m] else "-"
        print(f"| {m} | {seen[m]} | {broken[m]} ({broken[m] / seen[m]:.0%}) | {shift} |")


def widening(records: dict, last: datetime) -> None:
    print("\n| days since apt's last run | wall point | 90% interval | upper / lower |")
    print("|---|---|---|---|")
    for days in (0.003, 0.1, 1, 7, 30, 60, 120, 365):
        request = EstimateRequest(plugins=["apt"], at=last + timedelta(days=days))
        wall = (
            estimate(records, "workstation", request, "cache")
            .plugins[0]
            .metrics["wall_clock_seconds"]
        )
        print(
            f"| {days:g} | {wall.point:.0f} s | {wall.lower:.0f}-{wall.upper:.0f} s "
            f"| {wall.upper / max(wall.lower, 1e-9):.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        records, last = trained(Path(folder))
        contradictions(records, last, args.requests)
        widening(records, last)


if __name__ == "__main__":
    main()
