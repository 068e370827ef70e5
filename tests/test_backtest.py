"""backtest: the scores against hand-computed values, and the command end to end."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
import numpy as np
import pytest

from tests.conftest import Trained, invoke
from tests.test_json_schemas import schema
from update_estimate.errors import ExitCode
from update_estimate.fitting.backtest import baselines, score
from update_estimate.requests import BacktestRequest


def test_scores_match_hand_computed_values() -> None:
    actual = np.array([10.0, 20.0, 0.0])
    bounds = np.array([[12.0, 8.0, 14.0], [15.0, 10.0, 18.0], [1.0, 0.0, 2.0]])
    s = score(actual, bounds, 0.9)
    assert s.n == 3
    assert s.mae == pytest.approx((2 + 5 + 1) / 3)
    assert s.median_ape == pytest.approx(np.median([0.2, 0.25]))  # zero actual skipped
    assert s.coverage == pytest.approx(2 / 3)
    assert s.width == pytest.approx((6 + 8 + 2) / 3)
    # the miss above 18 costs 2/alpha = 20 per unit
    assert s.interval_score == pytest.approx((6 + (8 + 20 * 2) + 2) / 3)
    assert s.pinball_upper == pytest.approx(np.mean([0.05 * 4, 0.95 * 2, 0.05 * 2]))


def test_baselines_bracket_their_points() -> None:
    past = np.array([10.0, 12, 11, 30, 10, 9, 13, 12, 11, 10, 12, 14])
    out = baselines(past, 0.9)
    assert out["last_value"][0] == 14
    assert out["recent_median"][0] == pytest.approx(np.median(past[-10:]))
    for point, lower, upper in out.values():
        assert lower <= point <= upper
    falling = baselines(np.array([20.0, 15, 11, 8]), 0.9)  # last value 8 read [5.8, 6.8]
    for point, lower, upper in falling.values():
        assert lower <= point <= upper


def test_backtest_command_json_and_plot(runner, trained: Trained, tmp_path) -> None:
    png = tmp_path / "bt.png"
    result = invoke(
        runner,
        "backtest",
        "--db",
        trained.db,
        "--plugins",
        "apt",
        "pip",
        "--metrics",
        "wall_clock_seconds",
        "--last",
        "4",
        "-j",
        "1",
        "--json",
        "--plot",
        png,
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, schema("backtest"))
    assert {r["plugin"] for r in doc["rows"]} == {"apt", "pip", "total"}
    for row in doc["rows"]:
        assert 1 <= row["scores"]["ours"]["n"] <= 4
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_metric_is_a_usage_error(runner, trained: Trained) -> None:
    result = invoke(runner, "backtest", "--db", trained.db, "--metrics", "speed")
    assert result.exit_code == ExitCode.USAGE and "unknown metric" in result.stderr


def test_totals_do_not_depend_on_the_order_workers_finish(trained: Trained) -> None:
    """Workers hand back series in any order: the joint totals and their baselines must come
    out bit for bit the same, or two runs of the benchmark could not be compared."""
    from update_estimate.fitting.backtest import _total_cases, backtest_series
    from update_estimate.fitting.features import build_series
    from update_estimate.history import reader as history

    hist = history.read(trained.db, plugins=["apt", "flatpak", "pip"])
    series = build_series(hist.executions, None, ["wall_clock_seconds", "cpu_seconds"])
    pairs = [
        pair
        for s in series
        for pair in backtest_series(s, [s.n - 2, s.n - 1], 0.9, (False,)).pairs[False]
    ]
    forward = _total_cases(pairs, series, 0.9)
    assert len(forward) == 4
    assert _total_cases(pairs[::-1], series, 0.9) == forward


def test_progress_has_a_total_from_the_start_and_one_step_a_cut(trained: Trained) -> None:
    from update_estimate.fitting import backtest

    calls: list[tuple[int, int]] = []
    request = BacktestRequest(trained.db, ["apt", "pip"], ["wall_clock_seconds"], last=3, n_jobs=1)
    result = backtest.evaluate(request, (True,), lambda done, total: calls.append((done, total)))[
        True
    ]
    cases = [c for c in result.cases if c.plugin != "total"]
    assert calls[0] == (0, len(cases)) and calls[-1] == (len(cases), len(cases))
    assert [done for done, _ in calls] == list(range(len(cases) + 1))
    for plugin in ("apt", "pip", "total"):
        starts = [c.start for c in result.cases if c.plugin == plugin]
        assert starts == sorted(starts), plugin  # oldest first, as the plot draws them


def test_the_plot_is_a_grid_and_the_table_names_its_mode(runner, trained: Trained, tmp_path):
    import struct

    png = tmp_path / "bt.png"
    args = ["backtest", "--db", trained.db, "-p", "apt", "pip", "--last", "2", "-j", "1"]
    args += ["--metrics", "wall_clock_seconds", "memory_peak_bytes", "--plot", png]
    result = invoke(runner, *args, "--no-covariates")
    assert result.exit_code == 0, result.stderr
    assert "before the check phase, without reports" in result.stdout
    width, height = struct.unpack(">II", png.read_bytes()[16:24])
    assert (width, height) == (612, 567)  # two metrics across, apt, pip and the total down


def test_later_runs_race_only_the_first_races_winners(trained: Trained) -> None:
    """The default backtest races every candidate before a series' first judged run, then
    only the winners and the baselines: the first cases are the full race's own, and every
    run is still judged."""
    from update_estimate.fitting import backtest
    from update_estimate.fitting.candidates import BASELINES
    from update_estimate.fitting.features import build_series

    request = BacktestRequest(trained.db, ["apt"], ["wall_clock_seconds"], last=3, n_jobs=1)
    quick = backtest.evaluate(request, (False,))[False].cases
    full = backtest.evaluate(replace(request, full_race=True), (False,))[False].cases
    assert [c.run_id for c in quick] == [c.run_id for c in full]
    assert quick[0] == full[0]

    s = build_series(history_of(trained), None, ["wall_clock_seconds"])[0]
    first = backtest.backtest_series(s, [s.n - 3], 0.9, (False,))
    later = backtest.backtest_series(s, [s.n - 2], 0.9, (False,), only=first.winners)
    assert first.winners and set(later.winners) <= set(first.winners) | set(BASELINES)


def history_of(trained: Trained):
    from update_estimate.history import reader as history

    return history.read(trained.db, plugins=["apt"]).executions


def test_live_backtest_replays_the_last_run(runner, trained: Trained) -> None:
    """One run replayed event by event against a cache trained before it."""
    result = invoke(
        runner, "backtest", "--db", trained.db, "--live", "--last", "1", "-j", "2", "--json"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, schema("backtest"))
    live = doc["live"]
    assert live["runs"] == 1 and live["tracked"]["cases"] == live["per_plugin"]["cases"] > 20
    assert 0 <= live["tracked"]["coverage"] <= 1 and live["rises"] == 0  # none unexplained
    mixed = invoke(runner, "backtest", "--db", trained.db, "--live", "--plot", "x.png")
    assert mixed.exit_code == ExitCode.USAGE and "--live replays whole runs" in mixed.stderr


@pytest.mark.parametrize("mode", [[], ["--live"]])
def test_a_history_too_short_to_judge_says_so(runner, tmp_path, mode: list[str]) -> None:
    """A new user's one run: the backtest printed an empty table and exited 0, and `--live`
    failed on the temporary copy of the history it trains on ("no plugin executions in
    /tmp/update-estimate-live-.../history.duckdb")."""
    db = tmp_path / "one.duckdb"
    assert invoke(runner, "simulate", "--db", db, "--runs", "1").exit_code == 0
    result = invoke(runner, "backtest", "--db", db, *mode)
    assert result.exit_code == ExitCode.NOTHING_USABLE, result.output
    assert result.stdout == "" and "update-estimate-live" not in result.stderr
    assert "no run to judge" in result.stderr or "no run to replay" in result.stderr
