"""The simulator's own predictive (the limit the accuracy bench scores against) is right: its
backlog law is the sampler's, its intervals cover the simulated runs, and a report informs it."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from update_estimate.history import simulate, truth

PLUGINS = ("apt", "flatpak", "pip", "snap")


@pytest.mark.parametrize("name", ["steady", "check-only"])
@pytest.mark.parametrize("plugin", ["apt", "snap", "rustup"])
def test_backlog_law_is_the_samplers(name: str, plugin: str) -> None:
    sc, prof = simulate.scenario(name), simulate.profile_for(plugin)
    rng = np.random.default_rng(1)
    for days in (0.1, 1.0, 9.0, 400.0):  # 400 days: apt and rustup hit their package totals
        drawn = simulate.pending(rng, prof, sc, days, 1.0, 100_000)
        counts = np.arange(prof.package_total + 1)
        law = truth.pending_pmf(prof, sc, days, 1.0, counts)
        seen = np.bincount(drawn, minlength=len(counts)) / len(drawn)
        assert law.sum() == pytest.approx(1.0, abs=1e-9)
        assert 0.5 * np.abs(law - seen).sum() < 0.02, (days, law[:5], seen[:5])


def _actuals(t: simulate.Tables) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(truth.METRICS, 0.0))
    measured = (
        "execution_id",
        "wall_clock_seconds",
        "cpu_user_seconds",
        "cpu_kernel_seconds",
        "memory_peak_bytes",
        "download_size_bytes",
    )
    for e, wall, user, kernel, peak, size in t.rows("steps", *measured):
        a = out[e]
        a["wall_clock_seconds"] += wall
        a["cpu_seconds"] += user + kernel
        a["memory_peak_bytes"] = max(a["memory_peak_bytes"], peak)
        a["download_bytes"] += size
    return out


def _scored(name: str, reports: bool, runs: int = 110, last: int = 100):
    """Per metric: hits of the truth's 90% interval and its median's APEs over the executions
    (and the runs' totals) of the last runs."""
    sc = simulate.scenario(name)
    t = simulate.generate(PLUGINS, runs, 3, scenario_name=name)
    known, actual = truth.known(t, sc, runs), _actuals(t)
    targets = defaultdict(list)
    ran = ("execution_id", "run_id", "plugin_name", "status")
    for e, run, plugin, status in t.rows("executions", *ran):
        if status in ("success", "timeout"):
            targets[run].append((plugin, e))
    hits, apes, total_hits = defaultdict(list), defaultdict(list), defaultdict(list)
    for i, run in enumerate(t.runs["run_id"][-last:]):
        rows = targets[run]
        if not rows:  # every plugin skipped, or the run crashed first
            continue
        draws = truth.run_draws([known[(run, p)] for p, _ in rows], sc, reports, 2000, seed=i)
        for metric in truth.METRICS:
            for (_, e), d in zip(rows, draws, strict=True):
                lo, mid, hi = np.quantile(d[metric], [0.05, 0.5, 0.95])
                y = actual[e][metric]
                hits[metric].append(lo <= y <= hi)
                if y > 0:
                    apes[metric].append(abs(y - mid) / y)
            total = truth.combine(metric, [d[metric] for d in draws])
            y = truth.combine(metric, [actual[e][metric] for _, e in rows])
            lo, hi = np.quantile(total, [0.05, 0.95])
            total_hits[metric].append(lo <= y <= hi)
    return hits, apes, total_hits


@pytest.mark.parametrize("name", ["check-only", "noisy-reports", "slow-network"])
def test_truth_covers_its_own_runs(name: str) -> None:
    for reports in (True, False):
        hits, _, totals = _scored(name, reports)
        for metric in truth.METRICS:
            assert 0.875 <= np.mean(hits[metric]) <= 0.95, (reports, metric, np.mean(hits[metric]))
            assert 0.8 <= np.mean(totals[metric]) <= 0.98, (reports, metric)


def test_a_report_informs_the_truth() -> None:
    _, with_reports, _ = _scored("steady", True)
    _, without, _ = _scored("steady", False)
    for metric in ("wall_clock_seconds", "download_bytes"):
        assert np.median(with_reports[metric]) < 0.6 * np.median(without[metric]), metric


def test_check_only_runs_are_a_population() -> None:
    t = simulate.generate(("apt", "cargo"), 300, 4, scenario_name="check-only")
    actual = _actuals(t)
    idle: dict[str, list[bool]] = defaultdict(list)
    memory: dict[bool, list[float]] = defaultdict(list)
    columns = ("execution_id", "plugin_name", "status", "packages_updated")
    for e, plugin, status, updated in t.rows("executions", *columns):
        if status == "success":
            idle[plugin].append(updated == 0)
            if plugin == "cargo":
                memory[updated == 0].append(actual[e]["memory_peak_bytes"])
    assert np.mean(idle["cargo"]) > 0.5 > 0.3 > np.mean(idle["apt"])
    assert np.median(memory[True]) < 0.5 * np.median(memory[False])


def test_late_plugins_join_halfway() -> None:
    t = simulate.generate(PLUGINS, 16, 2, scenario_name="late-plugins")
    first_run = {}
    index = {run: i for i, run in enumerate(t.runs["run_id"])}
    for run, plugin in t.rows("executions", "run_id", "plugin_name"):
        first_run.setdefault(plugin, index[run])
    assert first_run == {"apt": 0, "flatpak": 0, "pip": 8, "snap": 8}


def test_a_run_shares_its_network() -> None:
    """One speed factor per run, as simulate draws it: a slow day slows every download."""
    sc = simulate.scenario("slow-network")
    big = [truth.Known(p, 3.0, 1.0, 30, 2e9) for p in ("apt", "snap")]
    apt, snap = truth.run_draws(big, sc, True, 4000, seed=1)
    walls = np.log(apt["wall_clock_seconds"]), np.log(snap["wall_clock_seconds"])
    assert np.corrcoef(*walls)[0, 1] > 0.5
