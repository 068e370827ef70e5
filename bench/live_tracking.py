"""Live run tracking, replayed event by event on held-out runs of simulated histories.

Per scenario and seed: simulate a history, then for each of its last runs train on the
history as it stood before that run (`fitting.live.evaluate`) and feed the run's events
(`history.replay`: plugin and phase starts, reports, download progress, ticks inside each
phase and at the run's midpoint) to a `RunTracker`. Every answer is scored against what
really remained until the run ended, beside the per-plugin `estimate --done --running
--elapsed` answer at the same moment (in-process, same cache) and the simulator's own
predictive of what remained given what the run had shown (`history.live_truth`; side by
side with TRUTH_DRAWS_SIDE_BY_SIDE draws, each placed by the schedule): ours and the
per-plugin answer's interval score (IS) and MdAPEs are ratios to the truth's.

Usage: .venv/bin/python bench/live_tracking.py [--scenarios steady ...] [--seeds 1 2]
           [--runs 100] [--last 8] [--jobs 4] [--plugins apt snap ...] [--keep DIR]
       .venv/bin/python bench/live_tracking.py --latency
`--jobs` simulates update-all's parallel runs, that many plugins at once (their events
interleaved, the run_start saying so), with `--latency` too. `--keep` keeps each cut history
and its trained cache, so a second run replays without training. `--latency` times each
event in-process on a 10-plugin run (300 runs of history), replayed with a tick every second
besides its other events, as a display refreshing each second sends.
Prints Markdown (see bench/RESULTS.md for the recorded tables).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

from accuracy import wilson

from update_estimate.fitting import live
from update_estimate.history import simulate
from update_estimate.history.live_truth import LiveTruth

SCENARIOS = ("steady", "trend", "level-shift", "slow-network", "sparse", "bursty")
PLUGINS = ("apt", "flatpak", "snap", "pip", "cargo")
TEN = (*simulate.DEFAULT_PLUGINS, "texlive-packages", "gem")
BAND = (0.87, 0.93)
# the truth's draws per answer: side by side each is placed by the schedule, in Python
TRUTH_DRAWS, TRUTH_DRAWS_SIDE_BY_SIDE = 8000, 2000


Answers = dict[str, list[tuple[live.Checkpoint, live.Interval]]]


def answers(checkpoints: list[live.Checkpoint], truth: list[live.Interval]) -> Answers:
    """Each answer beside the checkpoint it was given at: ours, the per-plugin one and the
    truth's."""
    return {
        "tracked": [(c, c.tracked) for c in checkpoints],
        "per_plugin": [(c, c.per_plugin) for c in checkpoints],
        "truth": list(zip(checkpoints, truth, strict=True)),
    }


def ratio(ours: float, limit: float) -> str:
    return f"{ours / limit:.2f}x" if limit > 0 else "-"


def row(name: str, cases: Answers, rises: int) -> str:
    ours, per = live.scored(cases["tracked"]), live.scored(cases["per_plugin"])
    hits = round(ours.coverage * ours.cases)
    low, high = wilson(hits, ours.cases)
    t = live.scored(cases["truth"])
    limit = f"{t.coverage:.3f} | {t.interval_score:.2f} | {t.mdape:.3f} | {t.midpoint_mdape:.3f}"

    def against(s: live.Scores) -> str:
        return (
            f"{ratio(s.interval_score, t.interval_score)} | {ratio(s.mdape, t.mdape)} | "
            f"{ratio(s.midpoint_mdape, t.midpoint_mdape)}"
        )

    return (
        f"| {name} | {ours.cases} | {limit} | {ours.coverage:.3f} ({low:.2f}-{high:.2f}) | "
        f"{ours.width:.2f} | {against(ours)} | {per.coverage:.3f} | {against(per)} | {rises} |"
    )


def accuracy(args: argparse.Namespace) -> None:
    print(
        "| scenario | checkpoints | truth coverage | truth IS | truth MdAPE | truth midpoint "
        "MdAPE | coverage (95% Wilson) | width | IS x truth | MdAPE x truth | midpoint MdAPE x "
        "truth | per-plugin coverage | per-plugin IS x truth | per-plugin MdAPE x truth | "
        "per-plugin midpoint MdAPE x truth | rises |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    pooled: Answers = {}
    all_rises = 0
    for scenario in args.scenarios:
        cases: Answers = {}
        rises = 0
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as folder:
                db = Path(folder) / "h.duckdb"
                tables = simulate.generate(
                    tuple(args.plugins), args.runs, seed, scenario_name=scenario, jobs=args.jobs
                )
                simulate.write(tables, db)
                keep = args.keep / f"{scenario}-{seed}" if args.keep else None
                result = live.evaluate(db, args.last, n_jobs=2, keep=keep)
            draws = TRUTH_DRAWS if args.jobs == 1 else TRUTH_DRAWS_SIDE_BY_SIDE
            limit = LiveTruth(tables, scenario, args.runs, draws, args.jobs)
            truth = [
                limit.remaining(c.run_id, c.time, seed=i) for i, c in enumerate(result.checkpoints)
            ]
            for which, pairs in answers(result.checkpoints, truth).items():
                cases.setdefault(which, []).extend(pairs)
            rises += sum(c.rose for c in result.checkpoints)
        for which, pairs in cases.items():
            pooled.setdefault(which, []).extend(pairs)
        all_rises += rises
        print(row(scenario, cases, rises), flush=True)
    print(row("**pooled**", pooled, all_rises))


def latency(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(simulate.generate(TEN, 300, 11, jobs=args.jobs), db)
        keep = args.keep / f"latency-{args.jobs}" if args.keep else None
        started = time.monotonic()
        result = live.evaluate(db, 1, n_jobs=2, keep=keep)
        print(f"trained and replayed in {time.monotonic() - started:.0f} s", file=sys.stderr)
        from update_estimate.history.replay import last_runs
        from update_estimate.serving import source

        run = last_runs(db, 1, refresh=1.0)[0]
        cut = (keep or Path(folder)) / f"{run.host}-{run.start:%Y%m%dT%H%M%S}"
        del result
        costs: list[float] = []
        by_kind: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            loaded = source.load(
                cut / "history.duckdb", cut / "cache", run.host, None, math.inf, source.Fallbacks()
            )
            tracker = source.track(loaded, list(run.plugins), run.host, run.start, 0.9)
            for event in run.events:
                began = time.perf_counter()
                tracker.feed(event)
                costs.append((time.perf_counter() - began) * 1000)
                by_kind.setdefault(event.kind, []).append(costs[-1])
    costs.sort()
    p99 = costs[math.ceil(0.99 * len(costs)) - 1]
    print(
        f"{len(run.plugins)} plugins, {len(run.events)} events x {args.repeats} fresh trackers: "
        f"median {statistics.median(costs):.2f} ms, p99 {p99:.2f} ms, max {costs[-1]:.2f} ms"
    )
    for kind, spent in sorted(by_kind.items()):
        spent.sort()
        print(
            f"  {kind}: {len(spent)} events, median {statistics.median(spent):.2f} ms, "
            f"max {spent[-1]:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--last", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--plugins", nargs="+", default=list(PLUGINS))
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    latency(args) if args.latency else accuracy(args)


if __name__ == "__main__":
    main()
