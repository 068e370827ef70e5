"""Accuracy and calibration per scenario: ours against the two baselines, with and without the
plugins' pre-run reports (check-phase covariates).

Every scenario is simulated with several seeds; each history goes through `backtest.evaluate`
(every series retrained before each of the last runs, as `train` would have done then). Cases
are pooled per scenario, then over all scenarios. Coverage comes with a 95% Wilson interval: a
perfectly calibrated method lands outside 0.87-0.93 on a hundred cases more often than not, so
the interval says whether a miss is noise: the report lists every cell outside the bar, and
whether its interval still reaches the bar. The noise floor is the wall-time error of the truth
itself (`simulate.typical_wall`): its median time given what a forecaster could know (the
run's packages and bytes with reports; only the days since the plugin's last success without),
with the network speed and the noise unknown. No forecast does much better than that.

Usage: .venv/bin/python bench/accuracy.py [--runs 100] [--last 30] [--seeds 5 6 7 8]
           [--plugins apt flatpak pip snap] [--scenarios steady ...] [--save DIR]
       .venv/bin/python bench/accuracy.py --load DIR [DIR ...] [--scenarios steady ...]
Prints Markdown tables (see bench/RESULTS.md for the recorded ones). `--save` keeps every
history's cases as JSON (one file per scenario and seed), so that later runs on other seeds can
be pooled with `--load` without recomputing: a totals cell holds only 30 cases per seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np

from update_estimate import backtest, simulate

PLUGINS = ("apt", "flatpak", "pip", "snap")
METRICS = ("wall_clock_seconds", "cpu_seconds", "memory_peak_bytes", "download_bytes")
SCENARIOS = ("steady", "trend", "level-shift", "slow-network", "sparse", "bursty")
LEVEL = 0.9
BAR = (0.87, 0.93)

Cases = dict[bool, list[backtest.Case]]
Floors = dict[bool, float]


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@dataclasses.dataclass(frozen=True)
class Coverage:
    value: float
    n: int
    low: float  # 95% Wilson interval
    high: float

    @property
    def interval(self) -> str:
        return f"{self.low:.2f}-{self.high:.2f}"


def coverage(
    cases: list[backtest.Case], metric: str, totals: bool, observed: bool = False
) -> Coverage:
    """`observed`: only runs whose actual was above zero (a download happened)."""
    rows = [c for c in cases if c.metric == metric and (c.plugin == "total") == totals]
    rows = [c for c in rows if c.actual > 0] if observed else rows
    hits = sum(c.intervals["ours"][1] <= c.actual <= c.intervals["ours"][2] for c in rows)
    lo, hi = wilson(hits, len(rows))
    return Coverage(hits / max(len(rows), 1), len(rows), lo, hi)


def outside_bar(cell: str, c: Coverage) -> str | None:
    """A cell outside the bar, and whether its Wilson interval still reaches the bar (noise)
    or lies wholly outside it (a real miss)."""
    if BAR[0] <= round(c.value, 2) <= BAR[1]:
        return None
    real = c.high < BAR[0] or c.low > BAR[1]
    verdict = "outside the bar" if real else "reaches the bar: within noise"
    return f"- {cell}: {c.value:.2f} ({c.interval}, n {c.n}), {verdict}"


def wall(cases: list[backtest.Case], method: str) -> tuple[float, float]:
    """Median APE and mean interval score of wall clock over the plugins' cases."""
    rows = [c for c in cases if c.metric == "wall_clock_seconds" and c.plugin != "total"]
    actual = np.array([c.actual for c in rows])
    s = backtest.score(actual, np.array([c.intervals[method] for c in rows]), LEVEL)
    return s.median_ape or math.nan, s.interval_score


def noise_floors(db: Path, scenario: str, runs: int, cases: list[backtest.Case]) -> Floors:
    """Median APE of the truth's own median wall time on the same cases, given what a
    forecaster can know: the run's packages and bytes (reports), or only the days since the
    plugin's last success (no reports). Plugins without reports get the second in both."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT e.run_id, e.plugin_name, e.status, e.start_time, e.packages_updated, "
            "sum(s.download_size_bytes) FROM plugin_executions e "
            "LEFT JOIN step_metrics s USING (execution_id) GROUP BY ALL ORDER BY e.start_time"
        ).fetchall()
        order = [
            r for (r,) in con.execute("SELECT run_id FROM runs ORDER BY start_time").fetchall()
        ]
    finally:
        con.close()
    sc = simulate.scenario(scenario)
    index = {run: i for i, run in enumerate(order)}
    known: dict[tuple[str, str], tuple[int, float, float]] = {}
    last: dict[str, datetime] = {}
    for run, plugin, status, start, packages, size in rows:
        since = last.get(plugin, start - timedelta(days=2))  # as simulate starts a history
        known[(run, plugin)] = (
            int(packages or 0),
            float(size or 0),
            (start - since).total_seconds() / 86400,
        )
        if status == "success":
            last[plugin] = start
        elif status == "timeout":
            last[plugin] = since + (start - since) / 2
    errors: dict[bool, list[float]] = {True: [], False: []}
    for c in cases:
        if c.metric != "wall_clock_seconds" or c.plugin == "total":
            continue
        packages, size, days = known[(c.run_id, c.plugin)]
        drift = simulate.drift(sc, index[c.run_id], runs)
        by_gap = simulate.typical_wall(c.plugin, sc, days=days, backlog_drift=drift)
        reported = simulate.profile_for(c.plugin).estimate_phase is not None
        by_report = (
            simulate.typical_wall(c.plugin, sc, packages=packages, download_bytes=size)
            if reported
            else by_gap
        )
        errors[True].append(abs(c.actual - by_report) / c.actual)
        errors[False].append(abs(c.actual - by_gap) / c.actual)
    return {mode: float(np.median(e)) for mode, e in errors.items()}


def evaluate(
    scenario: str, seed: int, plugins: tuple[str, ...], runs: int, last: int
) -> tuple[Cases, Floors]:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(simulate.generate(plugins, runs, seed, scenario_name=scenario), db)
        results = backtest.evaluate(db, None, METRICS, None, last, LEVEL, (True, False), 2)
        cases = {mode: list(result.cases) for mode, result in results.items()}
        return cases, noise_floors(db, scenario, runs, results[True].cases)


def save(folder: Path, scenario: str, seed: int, cases: Cases, floors: Floors) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "scenario": scenario,
        "seed": seed,
        "floors": {str(mode): value for mode, value in floors.items()},
        "cases": {str(mode): [dataclasses.asdict(c) for c in rows] for mode, rows in cases.items()},
    }
    (folder / f"{scenario}-{seed}.json").write_text(json.dumps(body))


def load(folders: list[Path]) -> dict[str, list[tuple[int, Cases, Floors]]]:
    out: dict[str, list[tuple[int, Cases, Floors]]] = {}
    for path in sorted(p for folder in folders for p in folder.glob("*.json")):
        body = json.loads(path.read_text())
        cases = {
            mode == "True": [backtest.Case(**c) for c in rows]
            for mode, rows in body["cases"].items()
        }
        floors = {mode == "True": value for mode, value in body["floors"].items()}
        out.setdefault(body["scenario"], []).append((body["seed"], cases, floors))
    return out


def report(scenarios: list[str], histories: dict[str, list[tuple[int, Cases, Floors]]]) -> None:
    pooled: Cases = {True: [], False: []}
    misses: list[str] = []
    print(
        "| scenario | covariates | coverage wall/cpu/mem/dl (plugins, n) | coverage totals (n) | "
        "MdAPE wall ours / median / last / noise floor | ratio to median (floor's) | IS ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in scenarios:
        runs = histories.get(name, [])
        if not runs:
            continue
        for mode in (True, False):
            cases = [c for _, by_mode, _ in runs for c in by_mode[mode]]
            pooled[mode].extend(cases)
            per = [coverage(cases, m, False) for m in METRICS]
            tot = [coverage(cases, m, True) for m in METRICS]
            ours, ours_is = wall(cases, "ours")
            med, med_is = wall(cases, "recent_median")
            last, _ = wall(cases, "last_value")
            floor = float(np.mean([f[mode] for _, _, f in runs]))
            reports = "with reports" if mode else "without reports"
            misses.extend(
                miss
                for kind, cells in (("plugins", per), ("totals", tot))
                for m, c in zip(METRICS, cells, strict=True)
                if (miss := outside_bar(f"{name}, {reports}, {kind}, {m}", c))
            )
            print(
                f"| {name} | {'yes' if mode else 'no'} | "
                + "/".join(f"{c.value:.2f}" for c in per)
                + f" ({per[0].n}) | "
                + "/".join(f"{c.value:.2f}" for c in tot)
                + f" ({tot[0].n}) | {ours:.2f} / {med:.2f} / {last:.2f} / "
                + f"{floor:.2f} | {ours / med:.2f} ({floor / med:.2f}) | {ours_is / med_is:.2f} |",
                flush=True,
            )
    print()
    print(f"Coverage cells outside {BAR[0]}-{BAR[1]} (95% Wilson interval, n cases):")
    print()
    print("\n".join(misses) or "- none")
    print()
    print("Pooled over the scenarios: coverage (95% Wilson interval), n cases")
    print()
    print("| covariates | metric | plugins | totals |")
    print("|---|---|---|---|")
    for mode in (True, False):
        for m in METRICS:
            p, t = coverage(pooled[mode], m, False), coverage(pooled[mode], m, True)
            print(
                f"| {'yes' if mode else 'no'} | {m} | {p.value:.3f} ({p.interval}), {p.n} "
                f"| {t.value:.3f} ({t.interval}), {t.n} |"
            )
        p, t = (coverage(pooled[mode], "download_bytes", side, True) for side in (False, True))
        print(
            f"| {'yes' if mode else 'no'} | download_bytes, runs that downloaded | "
            f"{p.value:.3f} ({p.interval}), {p.n} | {t.value:.3f} ({t.interval}), {t.n} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--last", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 6, 7, 8])
    parser.add_argument("--plugins", nargs="+", default=list(PLUGINS))
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument("--save", type=Path, help="keep each history's cases in this folder")
    parser.add_argument("--load", type=Path, nargs="+", help="report saved cases; run nothing")
    args = parser.parse_args()
    started = time.monotonic()
    if args.load:
        histories = load(args.load)
    else:
        histories = {}
        for name in args.scenarios:
            for seed in args.seeds:
                cases, floors = evaluate(name, seed, tuple(args.plugins), args.runs, args.last)
                if args.save:
                    save(args.save, name, seed, cases, floors)
                histories.setdefault(name, []).append((seed, cases, floors))
                print(f"{name} seed {seed}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    report(args.scenarios, histories)
    seeds = sorted({seed for runs in histories.values() for seed, _, _ in runs})
    print(f"\nseeds {' '.join(map(str, seeds))}; {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
