"""Accuracy and calibration per scenario, scored against the truth: ours and the two baselines
beside the simulator's own predictive, with and without the plugins' pre-run reports.

Every scenario is simulated with several seeds; each history goes through `backtest.evaluate`
(every series retrained before each of the last runs, as `train` would have done then). The
truth (`history.truth`) answers the same runs from the generating process itself, given
what a forecaster could know before each: the days since the plugin's last success, the
scenario's drift, and with reports the plugin's report. No forecast beats it on average, so its
scores are the limit, and ours are shown as ratios to it.

Scores per scenario, reports mode, metric, and plugins or totals: the interval score of the 90%
interval relative to the actual value (median over cases with an actual above zero), the
median APE of the point, and coverage with its 95% Wilson interval. The bars (issue 19): ours
at most 1.3x the truth's interval score, wall-clock MdAPE at most 1.2x the truth's, never above
the recent median's interval score, coverage in 0.87-0.93 or a Wilson interval that reaches it.

Usage: .venv/bin/python bench/accuracy.py [--runs 100] [--last 30] [--seeds 5 6 7 8]
           [--plugins apt flatpak pip snap] [--scenarios steady ...] [--save DIR]
           [--metrics download_bytes ...] [--modes with without]
       .venv/bin/python bench/accuracy.py --load DIR [DIR ...] [--scenarios steady ...] [--by-gap]
           [--lean] [--by-work]
Prints Markdown tables (see bench/RESULTS.md for the recorded ones). `late-plugins` and `jump`
have their own history lengths (SHAPES). `--save` keeps every history's cases as JSON (one file
per scenario and seed); `--load` reports saved cases without retraining (the truth is recomputed
from the same seed). `--by-gap` adds a table of the cases pooled by the days since the last
run (ratios to the truth's interval score; the cells as in the tables above); `--lean` how far
our points lie from the truth's; `--by-work` the plugins' runs that updated nothing apart from
those that updated some. The cells that miss a bar are listed last, each ratio to the truth's
with a 95% bootstrap interval over the cell's cases.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import statistics
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from update_estimate.fitting import backtest
from update_estimate.history import simulate, truth
from update_estimate.requests import BacktestRequest

PLUGINS = ("apt", "flatpak", "pip", "snap")
METRICS = truth.METRICS
SCENARIOS = tuple(s for s in simulate.SCENARIOS if s != "realistic")
SHAPES = {"late-plugins": (16, 8), "jump": (150, 10)}  # runs, last: 14-20-run and 50+ after
LEVEL = 0.9
BAR = (0.87, 0.93)
IS_BAR, APE_BAR = 1.3, 1.2
METHODS = ("truth", "ours", "recent_median", "last_value")
SHORT = {
    "wall_clock_seconds": "wall",
    "cpu_seconds": "cpu",
    "memory_peak_bytes": "memory",
    "download_bytes": "download",
}

Cases = dict[bool, list[backtest.Case]]


@dataclasses.dataclass(frozen=True)
class History:
    scenario: str
    seed: int
    runs: int
    plugins: tuple[str, ...]
    cases: Cases


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

    @property
    def reaches_bar(self) -> bool:
        return BAR[0] <= round(self.value, 2) <= BAR[1] or not (
            self.high < BAR[0] or self.low > BAR[1]
        )


def coverage(cases: list[backtest.Case], method: str = "ours") -> Coverage:
    hits = sum(c.intervals[method][1] <= c.actual <= c.intervals[method][2] for c in cases)
    lo, hi = wilson(hits, len(cases))
    return Coverage(hits / max(len(cases), 1), len(cases), lo, hi)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One scenario, mode, metric and side (plugins or totals): every method's scores."""

    interval: dict[str, float]  # median interval score / actual
    ape: dict[str, float]  # median APE
    coverage: dict[str, Coverage]
    # mean interval score / actual: the median of the scores is blind to how far the misses
    # fell (a narrow interval missing a third of the runs can have the lower median)
    mean_interval: dict[str, float]


def case_scores(cases: list[backtest.Case], method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per case that observed something: `method`'s interval score and its APE, relative to
    the actual value."""
    seen = [c for c in cases if c.actual > 0]
    actual = np.array([c.actual for c in seen])
    b = np.array([c.intervals[method] for c in seen]).reshape(-1, 3)
    scores = backtest.interval_scores(actual, b[:, 1], b[:, 2], LEVEL) / actual
    return scores, np.abs(actual - b[:, 0]) / actual


def cell(cases: list[backtest.Case], methods: tuple[str, ...] = METHODS) -> Cell:
    interval, ape, mean = {}, {}, {}
    for m in methods:
        relative, errors = case_scores(cases, m)
        interval[m] = float(np.median(relative)) if len(relative) else math.nan
        mean[m] = float(np.mean(relative)) if len(relative) else math.nan
        ape[m] = float(np.median(errors)) if len(errors) else math.nan
    return Cell(interval, ape, {m: coverage(cases, m) for m in methods}, mean)


# One run's truth draws: (mode, run id, its plugins) -> per plugin, per metric, the draws
# (NaN where the truth's draw is not a case: an execution that failed)
RunDraws = Callable[[bool, str, list[str]], dict[str, dict[str, np.ndarray]]]


def truth_scored(cases: Cases, draw: RunDraws) -> Cases:
    """The cases, each with the truth's median and 90% interval beside the others: a plugin's
    from its own draws, a total's from its plugins' joint draws combined (only those in which
    every one of them is a case)."""
    q = [(1 - LEVEL) / 2, 0.5, (1 + LEVEL) / 2]
    out: Cases = {}
    for mode, rows in cases.items():
        by_run: dict[str, list[backtest.Case]] = defaultdict(list)
        for c in rows:
            by_run[c.run_id].append(c)
        scored = []
        for run, of_run in by_run.items():
            plugins = sorted({c.plugin for c in of_run if c.plugin != "total"})
            draws_of = draw(mode, run, plugins)
            for c in of_run:
                if c.plugin == "total":
                    members = [
                        p
                        for p in plugins
                        if any(r.plugin == p and r.metric == c.metric for r in of_run)
                    ]
                    values = truth.combine(c.metric, [draws_of[p][c.metric] for p in members])
                else:
                    values = draws_of[c.plugin][c.metric]
                values = values[~np.isnan(values)]
                lower, point, upper = np.quantile(values, q)
                intervals = {**c.intervals, "truth": (float(point), float(lower), float(upper))}
                scored.append(dataclasses.replace(c, intervals=intervals))
        out[mode] = scored
    return out


def with_truth(h: History, draws: int = 2000) -> Cases:
    """The history's cases, each with the truth's median and 90% interval beside the others."""
    sc = simulate.scenario(h.scenario)
    tables = simulate.generate(h.plugins, h.runs, h.seed, scenario_name=h.scenario)
    known = truth.known(tables, sc, h.runs)

    def draw(mode: bool, run: str, plugins: list[str]) -> dict[str, dict[str, np.ndarray]]:
        seed = zlib.crc32(f"{h.seed} {run}".encode())
        drawn = truth.run_draws([known[(run, p)] for p in plugins], sc, mode, draws, seed)
        return dict(zip(plugins, drawn, strict=True))

    return truth_scored(h.cases, draw)


def evaluate(
    scenario: str,
    seed: int,
    plugins: tuple[str, ...],
    runs: int,
    last: int,
    metrics: tuple[str, ...] = METRICS,
    modes: tuple[bool, ...] = (True, False),
) -> History:
    runs, last = SHAPES.get(scenario, (runs, last))
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "h.duckdb"
        simulate.write(simulate.generate(plugins, runs, seed, scenario_name=scenario), db)
        request = BacktestRequest(
            db, last=last, level=LEVEL, n_jobs=2, full_race=True, metrics=metrics
        )
        results = backtest.evaluate(request, modes)
    cases = {mode: list(result.cases) for mode, result in results.items()}
    return History(scenario, seed, runs, plugins, cases)


def save(folder: Path, h: History) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "scenario": h.scenario,
        "seed": h.seed,
        "runs": h.runs,
        "plugins": list(h.plugins),
        "cases": {
            str(mode): [dataclasses.asdict(c) for c in rows] for mode, rows in h.cases.items()
        },
    }
    (folder / f"{h.scenario}-{h.seed}.json").write_text(json.dumps(body))


def load(folders: list[Path]) -> list[History]:
    out = []
    for path in sorted(p for folder in folders for p in folder.glob("*.json")):
        body = json.loads(path.read_text())
        cases = {
            mode == "True": [backtest.Case(**c) for c in rows]
            for mode, rows in body["cases"].items()
        }
        out.append(
            History(body["scenario"], body["seed"], body["runs"], tuple(body["plugins"]), cases)
        )
    return out


def _ratio(value: float, limit: float) -> str:
    return f"{value / limit:.2f}" if limit > 0 else "-"


def ratio_interval(ours: np.ndarray, truth: np.ndarray, draws: int = 2000) -> str:
    """A 95% interval of the ratio of the medians, the cases resampled in pairs: a cell of 40
    runs moves by a tenth between two draws of its histories, and a bar missed by less can
    be the draw's."""
    picks = np.random.default_rng(0).integers(0, len(ours), (draws, len(ours)))
    ratios = np.median(ours[picks], axis=1) / np.median(truth[picks], axis=1)
    low, high = np.quantile(ratios, [0.025, 0.975])
    return f"(95% bootstrap {low:.2f}-{high:.2f})"


def misses(where: str, metric: str, c: Cell, cases: list[backtest.Case]) -> list[str]:
    """The bars this cell fails; a coverage miss within its Wilson interval is not one. The
    ratios to the truth's come with a bootstrap interval over the cell's cases."""
    out = []
    ours, limit, median = c.interval["ours"], c.interval["truth"], c.interval["recent_median"]
    (ours_is, ours_ape), (truth_is, truth_ape) = (
        case_scores(cases, "ours"),
        case_scores(cases, "truth"),
    )
    if ours > IS_BAR * limit:
        spread = ratio_interval(ours_is, truth_is)
        out.append(f"interval score {ours / limit:.2f}x the truth's {spread}")
    if ours > median:
        covered = c.coverage["recent_median"].value
        out.append(
            f"interval score above the recent median's ({ours:.2f} > {median:.2f}, "
            f"which covers {covered:.2f})"
        )
    if metric == "wall_clock_seconds" and c.ape["ours"] > APE_BAR * c.ape["truth"]:
        spread = ratio_interval(ours_ape, truth_ape)
        out.append(f"wall MdAPE {c.ape['ours'] / c.ape['truth']:.2f}x the truth's {spread}")
    cov = c.coverage["ours"]
    if not cov.reaches_bar:
        out.append(f"coverage {cov.value:.2f} ({cov.interval}, n {cov.n})")
    return [f"- {where}, {SHORT[metric]}: {m}" for m in out]


def report(scenarios: list[str], histories: list[History]) -> list[tuple[History, Cases]]:
    """Print the tables; return each reported history with its cases scored by the truth."""
    reported = [(h, with_truth(h)) for name in scenarios for h in histories if h.scenario == name]
    pooled: dict[tuple[bool, bool], list[backtest.Case]] = defaultdict(list)
    failures: list[str] = []
    for side, totals in (("plugins", False), ("totals", True)):
        print(f"\n### {side}: ratios to the truth\n")
        print(
            "| scenario | reports | metric | n | truth IS / MdAPE / coverage | "
            "ours IS / MdAPE | median IS / MdAPE / coverage | last IS / MdAPE | ours coverage |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for name in scenarios:
            scored = [truthful for h, truthful in reported if h.scenario == name]
            if not scored:
                continue
            for mode in (True, False):
                cases = [
                    c for s in scored for c in s.get(mode, []) if (c.plugin == "total") == totals
                ]
                pooled[(mode, totals)].extend(cases)
                for metric in METRICS:
                    of_metric = [x for x in cases if x.metric == metric]
                    if not of_metric:  # run with --metrics or --modes
                        continue
                    c = cell(of_metric)
                    t = c.coverage["truth"]
                    where = f"{name}, {'with' if mode else 'without'} reports, {side}"
                    failures.extend(misses(where, metric, c, of_metric))
                    print(
                        f"| {name} | {'yes' if mode else 'no'} | {SHORT[metric]} | {t.n} | "
                        f"{c.interval['truth']:.2f} / {c.ape['truth']:.2f} / {t.value:.2f} | "
                        + " | ".join(
                            f"{_ratio(c.interval[m], c.interval['truth'])} / "
                            f"{_ratio(c.ape[m], c.ape['truth'])}"
                            + (f" / {c.coverage[m].value:.2f}" if m == "recent_median" else "")
                            for m in ("ours", "recent_median", "last_value")
                        )
                        + f" | {c.coverage['ours'].value:.2f} ({c.coverage['ours'].interval}) |",
                        flush=True,
                    )
    print("\nCells that miss a bar (coverage only when its Wilson interval misses 0.87-0.93):\n")
    print("\n".join(failures) or "- none")
    print("\nPooled over the scenarios: coverage (95% Wilson interval), n cases\n")
    print("| reports | metric | plugins ours | plugins truth | totals ours | totals truth |")
    print("|---|---|---|---|---|---|")
    for mode in (True, False):
        for m in METRICS:
            if not any(c.metric == m for side in (False, True) for c in pooled[(mode, side)]):
                continue
            cells = [
                coverage([c for c in pooled[(mode, side)] if c.metric == m], method)
                for side in (False, True)
                for method in ("ours", "truth")
            ]
            print(
                f"| {'yes' if mode else 'no'} | {SHORT[m]} | "
                + " | ".join(f"{c.value:.3f} ({c.interval}), {c.n}" for c in cells)
                + " |"
            )
    return reported


GAP_BANDS = ((1.0, "under a day"), (7.0, "1-7 days"), (math.inf, "a week or more"))


def _gaps(h: History) -> dict[tuple[str, str], float]:
    """Days before each case's run: a plugin's since its last success, a total's since the
    host's last run (keyed by run and plugin, "total" for the totals)."""
    t = simulate.generate(h.plugins, h.runs, h.seed, scenario_name=h.scenario)
    out: dict[tuple[str, str], float] = {}
    runs = sorted(zip(t.runs["start_time"], t.runs["run_id"], strict=True))
    for (before, _), (start, run) in itertools.pairwise(runs):
        out[(run, "total")] = (start - before).total_seconds() / 86400
    ex = t.executions
    rows = zip(ex["plugin_name"], ex["start_time"], ex["run_id"], ex["status"], strict=True)
    last: dict[str, object] = {}
    for plugin, start, run, status in sorted(rows, key=lambda r: r[1]):
        if plugin in last:
            out[(run, plugin)] = (start - last[plugin]).total_seconds() / 86400
        if status == "success":
            last[plugin] = start
    return out


def by_gap(scored: list[tuple[History, Cases]]) -> None:
    """Pooled over the scenarios, by how long before the run its plugin (or host) last ran:
    a calibration of every gap can cover on average and miss after the long breaks."""
    banded: dict[tuple[bool, bool, str, str], list[backtest.Case]] = defaultdict(list)
    for h, truthful in scored:
        gaps = _gaps(h)
        for mode, cases in truthful.items():
            for c in cases:
                days = gaps.get((c.run_id, c.plugin))
                if days is not None:
                    name = next(label for bound, label in GAP_BANDS if days < bound)
                    banded[(c.plugin == "total", mode, c.metric, name)].append(c)
    print("\nBy the days since the last run, pooled over the scenarios\n")
    print(
        "| side | reports | metric | gap | n | truth IS / coverage | ours IS / coverage "
        "| median IS |"
    )
    print("|---|---|---|---|---|---|---|---|")
    order = {label: i for i, (_, label) in enumerate(GAP_BANDS)}
    for key in sorted(banded, key=lambda k: (k[0], not k[1], METRICS.index(k[2]), order[k[3]])):
        totals, mode, metric, name = key
        scores = cell(banded[key])
        print(
            f"| {'totals' if totals else 'plugins'} | {'yes' if mode else 'no'} | "
            f"{SHORT[metric]} | {name} | {scores.coverage['ours'].n} | "
            f"{scores.interval['truth']:.2f} / {scores.coverage['truth'].value:.2f} | "
            f"{_ratio(scores.interval['ours'], scores.interval['truth'])} / "
            f"{scores.coverage['ours'].value:.2f} ({scores.coverage['ours'].interval}) | "
            f"{_ratio(scores.interval['recent_median'], scores.interval['truth'])} |"
        )


CHECKS_BEFORE = ((1, "none"), (5, "1-4"), (math.inf, "5+"))  # the plugin's checks so far


def _checks_before(h: History) -> dict[tuple[str, str], tuple[bool, str]]:
    """Per run and plugin: whether it updated nothing (a check), and how many of its
    successful runs before had (`CHECKS_BEFORE`'s bands)."""
    ex = simulate.generate(h.plugins, h.runs, h.seed, scenario_name=h.scenario).executions
    columns = ("start_time", "run_id", "plugin_name", "packages_updated", "status")
    checks: dict[str, int] = defaultdict(int)
    out = {}
    for _, run, plugin, updated, status in sorted(zip(*(ex[c] for c in columns), strict=True)):
        band = next(label for bound, label in CHECKS_BEFORE if checks[plugin] < bound)
        out[(run, plugin)] = (updated == 0, band)
        checks[plugin] += status == "success" and updated == 0
    return out


def by_work(scored: list[tuple[History, Cases]]) -> None:
    """The plugins' cases split by what the plugin did in the run, updated nothing (a check)
    or some packages, and by how many checks it had before. The two are populations apart in
    every metric; a cell pooling them hides how each is answered, and a new plugin's few
    checks are a kind it barely knows."""
    kinds: dict[tuple[str, bool, str, bool, str], list[backtest.Case]] = defaultdict(list)
    for h, truthful in scored:
        runs = _checks_before(h)
        for mode, cases in truthful.items():
            for c in cases:
                if c.plugin != "total" and (c.run_id, c.plugin) in runs:
                    kinds[(h.scenario, mode, c.metric, *runs[(c.run_id, c.plugin)])].append(c)
    print("\nPlugins by what they did in the run and the checks they had before (ours as a")
    print("ratio to the truth; lean: mean log of our point over the truth's)\n")
    print(
        "| scenario | reports | metric | run | checks before | n | truth IS / coverage "
        "| ours IS / coverage | lean |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    order = {label: i for i, (_, label) in enumerate(CHECKS_BEFORE)}
    for key in sorted(
        kinds, key=lambda k: (k[0], not k[1], METRICS.index(k[2]), not k[3], order[k[4]])
    ):
        name, mode, metric, quiet, before = key
        scores = cell(kinds[key])
        pairs = [(c.intervals["ours"][0], c.intervals["truth"][0]) for c in kinds[key]]
        logs = [math.log(ours / truth) for ours, truth in pairs if ours > 0 and truth > 0]
        truth_score, ours = scores.interval["truth"], scores.interval["ours"]
        nothing = math.isnan(truth_score)  # every run fetched nothing: no score relative to it
        truth_cell = "-" if nothing else f"{truth_score:.2f}"
        ratio = "-" if nothing else f"{ours / truth_score:.2f}"
        print(
            f"| {name} | {'yes' if mode else 'no'} | {SHORT[metric]} | "
            f"{'updated nothing' if quiet else 'updated'} | {before} | "
            f"{scores.coverage['ours'].n} | "
            f"{truth_cell} / {scores.coverage['truth'].value:.2f} | "
            f"{ratio} / {scores.coverage['ours'].value:.2f} | "
            f"{statistics.mean(logs) if logs else math.nan:+.3f} |"
        )


def lean(scored: list[tuple[History, Cases]]) -> None:
    """How far our points lie from the truth's, signed: the mean log of ours over the truth's
    per scenario. Intervals calibrated on the model's own errors cannot show a lean that
    serving adds (a grid read above its model); this does, beside the MdAPE it inflates."""
    leans: dict[tuple[str, bool, bool, str], list[float]] = defaultdict(list)
    for h, truthful in scored:
        for mode, cases in truthful.items():
            for c in cases:
                ours, truth = c.intervals["ours"][0], c.intervals["truth"][0]
                if ours > 0 and truth > 0:
                    key = (h.scenario, mode, c.plugin == "total", c.metric)
                    leans[key].append(math.log(ours / truth))
    print("\nLean of our points: mean log of ours over the truth's (plugins / totals)\n")
    print("| scenario | reports | " + " | ".join(SHORT[m] for m in METRICS) + " |")
    print("|---|---|" + "---|" * len(METRICS))
    for key, values in list(leans.items()):
        if key[0] != "late-plugins":  # a new user's first weeks lean apart, and pool apart
            leans[("all but late-plugins", *key[1:])].extend(values)
    for name in dict.fromkeys(key[0] for key in leans):
        for mode in (True, False):
            cells = [
                " / ".join(
                    f"{statistics.mean(leans[(name, mode, totals, m)]):+.3f}"
                    if leans[(name, mode, totals, m)]
                    else "-"
                    for totals in (False, True)
                )
                for m in METRICS
            ]
            print(f"| {name} | {'yes' if mode else 'no'} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--last", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 6, 7, 8])
    parser.add_argument("--plugins", nargs="+", default=list(PLUGINS))
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    parser.add_argument(
        "--metrics", nargs="+", default=list(METRICS), help="only these metrics' cases"
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=("with", "without"),
        default=["with", "without"],
        help="with reports, without, or both",
    )
    parser.add_argument("--save", type=Path, help="keep each history's cases in this folder")
    parser.add_argument("--load", type=Path, nargs="+", help="report saved cases; run nothing")
    parser.add_argument(
        "--by-gap", action="store_true", help="also pool the cases by the days since the last run"
    )
    parser.add_argument(
        "--lean", action="store_true", help="also how far our points lie from the truth's, signed"
    )
    parser.add_argument(
        "--by-work",
        action="store_true",
        help="also the plugins' runs that updated nothing apart from those that updated some, "
        "by the checks each plugin had before",
    )
    args = parser.parse_args()
    started = time.monotonic()
    modes = tuple(mode == "with" for mode in args.modes)
    if args.load:
        histories = load(args.load)
    else:
        histories = []
        for name in args.scenarios:
            for seed in args.seeds:
                shape = (args.runs, args.last, tuple(args.metrics), modes)
                h = evaluate(name, seed, tuple(args.plugins), *shape)
                if args.save:
                    save(args.save, h)
                histories.append(h)
                print(f"{name} seed {seed}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    scored = report(args.scenarios, histories)
    if args.by_gap:
        by_gap(scored)
    if args.lean:
        lean(scored)
    if args.by_work:
        by_work(scored)
    seeds = sorted({h.seed for h in histories})
    print(f"\nseeds {' '.join(map(str, seeds))}; {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
