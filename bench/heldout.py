"""Held-out histories: a second generator, written apart from `simulate`, scored by the two
checks that need no truth (issue 19): ours never above the recent median's interval score, and
coverage within 0.87-0.93 (or a 95% Wilson interval that reaches it).

`simulate` and the models grew up together, so being good on it may only mean being good at
it. This generator shares the v1 schema and the kinds of plugins and nothing else:
- runs come from a daily timer at about 09:00 on the days the machine is on, plus manual
  runs in the afternoon and evening, and holidays of one to three weeks;
- work comes in upstream releases on the calendar: single security fixes, and batches (point
  releases) of a geometric number of packages, so what waits depends on which releases fell
  since the last success, not on a rate times the gap;
- each package has its own size (lognormal, sigma 1) and install time, and one in fifty is a
  heavy one (a kernel, a toolchain: 15x the time and CPU, 1.5x the memory);
- the line is slower in the evening and down to a tenth on rare outage days, when downloads
  also fail;
- the check phase refreshes metadata: longer after longer breaks, with gamma noise;
- reports count the packages (a stale count one time in ten) and give compressed sizes (a
  bias of the plugin's own, and noise).

Each history is backtested as `backtest` does (every series retrained before each of its last
runs), with and without reports; plugins and totals are scored per metric. The generator's own
predictive (`with_truth`: its process drawn again given what was known before each run, a
report's count and size weighed as the generator makes them) is scored beside ours: the
limit, as `simulate`'s truth is for the lead table. Beside the checks' measure (the median
over cases of the interval score relative to the actual value) the table gives its mean and
the recent median's coverage: the median of the scores does not see how far the misses fell,
and a narrow interval that misses a fifth of the runs can have the lower one.

Usage: .venv/bin/python bench/heldout.py [--seeds 1 2 3] [--runs 100] [--last 12]
           [--short-runs 18] [--short-last 8] [--shapes long short] [--save DIR | --load DIR]
The short histories (a new user's first weeks) add `cargo` halfway.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
import uuid
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import accuracy
import numpy as np

from update_estimate.fitting import backtest
from update_estimate.history import simulate
from update_estimate.requests import BacktestRequest

MB = 1_000_000
METHODS = ("ours", "recent_median", "last_value")


@dataclasses.dataclass(frozen=True)
class Plugin:
    fixes_per_day: float  # single-package security fixes
    batch_every_days: float  # point releases
    batch_mean: float  # packages in a batch (geometric)
    package_mb: float  # median package size
    install_seconds: float  # median per package
    check_base: float  # metadata refresh, seconds
    check_per_day: float  # more metadata after a longer break
    cpu_share: float
    memory_mb: float
    reports: str | None  # phase of its report, None: it reports nothing
    report_bias: float  # reported / true download size (compression)
    fail: float


PLUGINS = {
    "apt": Plugin(1.5, 9, 25, 1.2, 1.8, 10, 2.0, 0.55, 110, "DOWNLOAD", 0.8, 0.02),
    "flatpak": Plugin(0.15, 12, 4, 70, 5, 5, 0.5, 0.35, 260, "EXECUTE", 1.0, 0.02),
    "snap": Plugin(0.2, 20, 3, 90, 7, 3, 0.2, 0.3, 80, "DOWNLOAD", 1.1, 0.03),
    "pip": Plugin(0.6, 30, 6, 2.5, 1.5, 4, 0.3, 0.7, 70, None, 1.0, 0.04),
    "cargo": Plugin(0.1, 25, 3, 5, 60, 6, 0.4, 1.7, 800, None, 1.0, 0.05),
}
HEAVY = 0.02
PRIOR_DRAWS = 200_000  # the packages that wait, drawn to weigh a report's count against


def _run_times(rng: np.random.Generator, runs: int, end: datetime) -> list[datetime]:
    """A timer at about 09:00 on the days the machine is on, manual runs later in the day,
    holidays of one to three weeks; the last `runs` of them."""
    times: list[datetime] = []
    day = end.replace(hour=0, minute=0, second=0)
    while len(times) < runs:
        if rng.random() < 0.02:
            day -= timedelta(days=int(rng.integers(7, 22)))
            continue
        if rng.random() < 0.8:
            times.append(day + timedelta(hours=9, minutes=float(rng.normal(0, 20))))
        if rng.random() < 0.3:
            times.append(day + timedelta(hours=float(rng.uniform(13, 23))))
        day -= timedelta(days=1)
    return sorted(t.replace(microsecond=0) for t in times)[-runs:]


def _releases(
    rng: np.random.Generator, p: Plugin, start: datetime, end: datetime
) -> list[tuple[datetime, int]]:
    """Upstream releases between `start` and `end`: (when, packages)."""
    out = []
    days = (end - start).total_seconds() / 86400
    for _ in range(rng.poisson(p.fixes_per_day * days)):
        out.append((start + timedelta(days=float(rng.uniform(0, days))), 1))
    for _ in range(rng.poisson(days / p.batch_every_days)):
        size = int(rng.geometric(1 / p.batch_mean))
        out.append((start + timedelta(days=float(rng.uniform(0, days))), size))
    return sorted(out)


@dataclasses.dataclass(frozen=True)
class Known:
    """What the truth knows before a plugin's execution: its profile, the line's usual speed,
    the days since its last success (the releases that wait) and its last run (the metadata
    to refresh), whether the run starts in the evening, and its report (None: none)."""

    plugin: str
    base_speed: float
    days_since_success: float
    days_since_run: float
    evening: bool
    count: int | None
    reported_bytes: float | None


class Generated(NamedTuple):
    tables: simulate.Tables
    known: dict[tuple[str, str], Known]  # (run id, plugin) -> what was known before it


def generate(
    seed: int, runs: int, plugins: tuple[str, ...], late: tuple[str, ...] = ()
) -> Generated:
    rng = np.random.default_rng(seed + 1000)
    end = datetime(2026, 11, 20, 22, 0)
    times = _run_times(rng, runs, end)
    t = simulate.Tables(
        runs={c: [] for c in simulate.RUN_COLS},
        executions={c: [] for c in simulate.EXEC_COLS},
        steps={c: [] for c in simulate.STEP_COLS},
        estimates={c: [] for c in simulate.EST_COLS},
    )
    origin = times[0] - timedelta(days=3)
    releases = {name: _releases(rng, PLUGINS[name], origin, end) for name in plugins}
    last_success = {name: origin for name in plugins}
    last_run = {name: origin for name in plugins}
    base_speed = float(rng.uniform(8, 30)) * MB
    clock = times[0]
    known: dict[tuple[str, str], Known] = {}

    def uid() -> str:
        return str(uuid.UUID(bytes=rng.bytes(16), version=4))

    for index, planned in enumerate(times):
        run_id, run_start = uid(), max(planned, clock + timedelta(minutes=1))
        clock = run_start
        outage = rng.random() < 0.04
        evening = 0.6 if run_start.hour >= 18 else 1.0
        speed = base_speed * evening * rng.gamma(8, 1 / 8) * (0.1 if outage else 1.0)
        ran = [n for n in plugins if n not in late or index >= len(times) // 2]
        counts = {"success": 0, "failed": 0, "skipped": 0}
        for name in ran:
            p = PLUGINS[name]
            exec_id = uid()
            if name in late and last_success[name] < times[len(times) // 2] - timedelta(days=3):
                last_success[name] = last_run[name] = clock - timedelta(days=3)
            waiting = sum(k for when, k in releases[name] if last_success[name] < when <= clock)
            sizes = rng.lognormal(np.log(p.package_mb * MB), 1.0, waiting)
            heavy = rng.random(waiting) < HEAVY
            installs = rng.lognormal(np.log(p.install_seconds), 0.5, waiting) * np.where(
                heavy, 15, 1
            )
            dl = float(sizes.sum())
            away = (clock - last_run[name]).total_seconds() / 86400
            check = (p.check_base + p.check_per_day * min(away, 30)) * rng.gamma(6, 1 / 6)
            download = dl / speed + 0.4 * waiting + (0.3 if waiting else 0.0)
            execute = (3 + float(installs.sum())) * rng.gamma(10, 1 / 10)
            failed = rng.random() < p.fail + (0.3 if outage and waiting else 0.0)
            if failed:
                execute *= 0.1
            status = "failed" if failed else "success"
            cpu_exec = execute * p.cpu_share * rng.gamma(12, 1 / 12) + float(
                installs[heavy].sum() * 0.8
            )
            peak = p.memory_mb * MB * rng.lognormal(0, 0.08)
            if waiting:
                peak *= 1 + 0.12 * np.log1p(sizes.max() / (50 * MB)) + (0.5 if heavy.any() else 0)
            else:
                peak *= 0.45
            count, reported = None, None
            if p.reports is not None:
                stale = rng.random() < 0.1
                count = max(waiting + (int(rng.poisson(2)) if stale else 0), 0)
                t.estimates["estimate_id"].append(uid())
                t.estimates["execution_id"].append(exec_id)
                t.estimates["phase"].append(p.reports)
                reported = int(dl * p.report_bias * rng.lognormal(0, 0.05))
                t.estimates["download_bytes_est"].append(reported)
                t.estimates["package_count_est"].append(count)
                t.estimates["confidence"].append(0.9)
            known[(run_id, name)] = Known(
                name,
                base_speed,
                (clock - last_success[name]).total_seconds() / 86400,
                away,
                evening < 1.0,
                count,
                None if reported is None else float(reported),
            )
            step = clock
            phases = {
                "CHECK": (check, check * 0.35, 0.5 * peak),
                "DOWNLOAD": (download, download * 0.04, 0.6 * peak),
                "EXECUTE": (execute, cpu_exec, peak),
            }
            for phase, (wall, cpu, mem) in phases.items():
                got = dl if phase == "DOWNLOAD" else 0
                row = (
                    uid(),
                    exec_id,
                    simulate.STEP_NAMES[phase],
                    phase,
                    step,
                    step + timedelta(seconds=wall),
                    float(wall),
                    0.85 * cpu,
                    0.15 * cpu,
                    int(mem),
                    int(mem * 0.5),
                    int(got),
                    int(got * 2),
                    int(got),
                    int(got),
                    speed if got else None,
                )
                for col, value in zip(simulate.STEP_COLS, row, strict=True):
                    t.steps[col].append(value)
                step += timedelta(seconds=wall)
            updated = waiting if status == "success" else 0
            row = (exec_id, run_id, name, status, clock, step, updated, 1000, None, 0)
            for col, value in zip(simulate.EXEC_COLS, row, strict=True):
                t.executions[col].append(value)
            if failed:
                t.executions["error_message"][-1] = "exit status 1"
                t.executions["exit_code"][-1] = 1
            counts[status] += 1
            last_run[name] = clock
            if status == "success":
                last_success[name] = clock
            clock = step + timedelta(seconds=float(rng.uniform(0.2, 3)))
        row = (run_id, run_start, clock, "heldout", "user", "beef", len(ran))
        for col, value in zip(simulate.RUN_COLS, row, strict=False):
            t.runs[col].append(value)
        t.runs["successful_plugins"].append(counts["success"])
        t.runs["failed_plugins"].append(counts["failed"])
        t.runs["skipped_plugins"].append(counts["skipped"])
    return Generated(t, known)


def _waiting(rng: np.random.Generator, p: Plugin, days: float, n: int) -> np.ndarray:
    """Packages released in `days` (the generator's releases fall as Poisson processes, so
    those since the last success owe nothing to any earlier run)."""
    batches = rng.poisson(days / p.batch_every_days, n)
    sizes = rng.geometric(1 / p.batch_mean, int(batches.sum()))
    batched = np.bincount(np.repeat(np.arange(n), batches), sizes, minlength=n)
    return rng.poisson(p.fixes_per_day * days, n) + batched.astype(int)


def _reported_waiting(
    rng: np.random.Generator, p: Plugin, k: Known, n: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The packages that wait, and their download size where a report pins it: the count is
    exact but one time in ten, when Poisson(2) more are counted; the size is the true one
    times the plugin's bias and lognormal(0, 0.05) noise (a flat prior under it)."""
    if k.count is None or k.reported_bytes is None:
        return _waiting(rng, p, k.days_since_success, n), None
    prior = np.bincount(_waiting(rng, p, k.days_since_success, PRIOR_DRAWS))
    w = np.arange(len(prior))
    extra = np.maximum(k.count - w, 0)
    lgamma = np.array([math.lgamma(e + 1.0) for e in extra])
    stale = np.where(w <= k.count, np.exp(extra * math.log(2.0) - 2.0 - lgamma), 0.0)
    weight = prior * (0.9 * (w == k.count) + 0.1 * stale) * ((w > 0) == (k.reported_bytes > 0))
    if weight.sum() <= 0:  # a count beyond every draw of the prior
        weight = (w == min(k.count, len(prior) - 1)).astype(float)
    waiting = rng.choice(w, n, p=weight / weight.sum())
    size = k.reported_bytes / p.report_bias / rng.lognormal(0, 0.05, n)
    return waiting, np.where(waiting > 0, size, 0.0)


def _truth_draws(
    ks: list[Known], with_reports: bool, n: int, seed: int
) -> list[dict[str, np.ndarray]]:
    """Joint draws of one run's executions from the generator's own process, given what was
    known before it: per execution its metrics, NaN where it failed (only successes are
    cases). The run's line speed and outage are shared, as the generator draws them once."""
    rng = np.random.default_rng(seed)
    outage = rng.random(n) < 0.04
    shared = rng.gamma(8, 1 / 8, n) * np.where(outage, 0.1, 1.0)
    out = []
    for k in ks:
        p = PLUGINS[k.plugin]
        if with_reports and p.reports is not None:
            waiting, size = _reported_waiting(rng, p, k, n)
        else:
            waiting, size = _waiting(rng, p, k.days_since_success, n), None
        owner = np.repeat(np.arange(n), waiting)
        sizes = rng.lognormal(np.log(p.package_mb * MB), 1.0, len(owner))
        heavy = rng.random(len(owner)) < HEAVY
        installs = rng.lognormal(np.log(p.install_seconds), 0.5, len(owner)) * np.where(
            heavy, 15, 1
        )
        dl = np.bincount(owner, sizes, minlength=n)
        if size is not None:  # the reported size, shared among the packages as drawn
            sizes = sizes * (size / np.where(dl > 0, dl, 1.0))[owner]
            dl = size
        largest = np.zeros(n)
        np.maximum.at(largest, owner, sizes)
        heavy_any = np.bincount(owner, heavy, minlength=n) > 0
        speed = k.base_speed * (0.6 if k.evening else 1.0) * shared
        check = (p.check_base + p.check_per_day * min(k.days_since_run, 30)) * rng.gamma(
            6, 1 / 6, n
        )
        download = dl / speed + 0.4 * waiting + np.where(waiting > 0, 0.3, 0.0)
        execute = (3 + np.bincount(owner, installs, minlength=n)) * rng.gamma(10, 1 / 10, n)
        failed = rng.random(n) < p.fail + np.where(outage & (waiting > 0), 0.3, 0.0)
        cpu = (
            check * 0.35
            + download * 0.04
            + execute * p.cpu_share * rng.gamma(12, 1 / 12, n)
            + np.bincount(owner, installs * heavy, minlength=n) * 0.8
        )
        peak = p.memory_mb * MB * rng.lognormal(0, 0.08, n)
        peak *= np.where(
            waiting > 0,
            1 + 0.12 * np.log1p(largest / (50 * MB)) + np.where(heavy_any, 0.5, 0.0),
            0.45,
        )
        metrics = {
            "wall_clock_seconds": check + download + execute,
            "cpu_seconds": cpu,
            "memory_peak_bytes": peak,
            "download_bytes": dl,
        }
        out.append({name: np.where(failed, np.nan, v) for name, v in metrics.items()})
    return out


def with_truth(
    seed: int,
    runs: int,
    plugins: tuple[str, ...],
    late: tuple[str, ...],
    cases: dict[bool, list[backtest.Case]],
    draws: int = 4000,
) -> dict[bool, list[backtest.Case]]:
    """The cases of one held-out history, each with the generator's own median and 90%
    interval (`truth`) beside the others: the limit, as `simulate`'s truth is for the lead
    table (`accuracy.truth_scored`)."""
    known = generate(seed, runs, plugins, late).known

    def draw(mode: bool, run: str, names: list[str]) -> dict[str, dict[str, np.ndarray]]:
        ks = [known[(run, name)] for name in names]
        drawn = _truth_draws(ks, mode, draws, zlib.crc32(f"{seed} {run}".encode()))
        return dict(zip(names, drawn, strict=True))

    return accuracy.truth_scored(cases, draw)


Cases = dict[bool, list[backtest.Case]]


def evaluate(
    seed: int, runs: int, last: int, plugins: tuple[str, ...], late: tuple[str, ...]
) -> Cases:
    """One history's cases with and without reports, the truth's interval beside ours."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(generate(seed, runs, plugins, late).tables, db)
        request = BacktestRequest(db, last=last, level=accuracy.LEVEL, n_jobs=2, full_race=True)
        results = backtest.evaluate(request, (True, False))
    return with_truth(seed, runs, plugins, late, {m: list(r.cases) for m, r in results.items()})


def report(name: str, results: list[Cases]) -> list[str]:
    """The table of one shape, and its cells that miss a check. Beside the checks (the
    recent median's median score, the coverage band), the truth's own: where the truth
    itself scores above the recent median, the check is one no forecast can be sure to
    pass, and the ratio to the truth's score says how far from the limit we are."""
    misses = []
    print(f"\n### {name}\n")
    print(
        "| reports | side | metric | n | truth IS / MdAPE / coverage | ours IS | ours / truth | "
        "median IS | last IS | ours MdAPE | median MdAPE | ours coverage (95% Wilson) | "
        "mean IS: ours / truth / median | median coverage |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for mode in (True, False):
        for side, totals in (("plugins", False), ("totals", True)):
            for metric in accuracy.METRICS:
                cases = [
                    c
                    for r in results
                    for c in r[mode]
                    if c.metric == metric and (c.plugin == "total") == totals
                ]
                c = accuracy.cell(cases, (*METHODS, "truth"))
                cov, truth_is = c.coverage["ours"], c.interval["truth"]
                print(
                    f"| {'yes' if mode else 'no'} | {side} | {accuracy.SHORT[metric]} | {cov.n} | "
                    f"{truth_is:.2f} / {c.ape['truth']:.2f} / {c.coverage['truth'].value:.2f} | "
                    f"{c.interval['ours']:.2f} | {c.interval['ours'] / truth_is:.2f}x | "
                    f"{c.interval['recent_median']:.2f} | "
                    f"{c.interval['last_value']:.2f} | {c.ape['ours']:.2f} | "
                    f"{c.ape['recent_median']:.2f} | {cov.value:.2f} ({cov.interval}) | "
                    f"{c.mean_interval['ours']:.2f} / {c.mean_interval['truth']:.2f} / "
                    f"{c.mean_interval['recent_median']:.2f} | "
                    f"{c.coverage['recent_median'].value:.2f} |",
                    flush=True,
                )
                where = f"{name}, {'with' if mode else 'without'} reports, {side}, "
                where += accuracy.SHORT[metric]
                if c.interval["ours"] > c.interval["recent_median"]:
                    too = ", above it too" if truth_is > c.interval["recent_median"] else ""
                    misses.append(
                        f"- {where}: interval score above the recent median's "
                        f"({c.interval['ours']:.2f} > {c.interval['recent_median']:.2f}; "
                        f"the truth's {truth_is:.2f}{too})"
                    )
                if not cov.reaches_bar:
                    misses.append(f"- {where}: coverage {cov.value:.2f} ({cov.interval})")
    return misses


def _save(folder: Path, shape: str, seed: int, cases: Cases) -> None:
    body = {str(m): [dataclasses.asdict(c) for c in rows] for m, rows in cases.items()}
    (folder / f"{shape}-{seed}.json").write_text(json.dumps(body))


def _load(folder: Path, shape: str, seed: int) -> Cases:
    body = json.loads((folder / f"{shape}-{seed}.json").read_text())
    return {m == "True": [backtest.Case(**c) for c in rows] for m, rows in body.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--last", type=int, default=12)
    parser.add_argument("--short-runs", type=int, default=18)
    parser.add_argument("--short-last", type=int, default=8)
    parser.add_argument("--shapes", nargs="+", choices=("long", "short"), default=["long", "short"])
    parser.add_argument("--save", type=Path, help="keep each history's cases in this folder")
    parser.add_argument("--load", type=Path, help="score the cases --save kept, not backtest")
    args = parser.parse_args()
    started = time.monotonic()
    plugins = ("apt", "flatpak", "snap", "pip", "cargo")
    shapes = {
        "long": (f"long ({args.runs} runs)", args.runs, args.last, ()),
        "short": (
            f"first weeks ({args.short_runs} runs, cargo from the middle)",
            args.short_runs,
            args.short_last,
            ("cargo",),
        ),
    }
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    misses = []
    for shape in args.shapes:
        name, runs, last, late = shapes[shape]
        results = []
        for seed in args.seeds:
            if args.load:
                cases = with_truth(seed, runs, plugins, late, _load(args.load, shape, seed))
            else:
                cases = evaluate(seed, runs, last, plugins, late)
            if args.save:
                _save(args.save, shape, seed, cases)
            results.append(cases)
            print(f"{name} seed {seed}: {time.monotonic() - started:.0f} s", file=sys.stderr)
        misses += report(name, results)
    print("\nCells that miss a check:\n")
    print("\n".join(misses) or "- none")
    print(f"\nseeds {' '.join(map(str, args.seeds))}; {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
