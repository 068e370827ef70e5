"""validate's verdicts on crafted histories whose quality is known."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tests.builders import Execution, Run, Step, steady_runs, write_runs
from tests.conftest import invoke
from update_estimate.errors import ExitCode
from update_estimate.history import reader as history
from update_estimate.history import validation

T0 = datetime(2026, 1, 1, 9)


def test_verdicts_follow_sample_counts(tmp_path: Path) -> None:
    runs = (
        steady_runs("h", "big", 30, T0)
        + steady_runs("h", "mid", 10, T0)
        + steady_runs("h", "tiny", 2, T0)
    )
    report = validation.validate(history.read(write_runs(tmp_path / "h.duckdb", runs)))
    verdict = {(s.plugin, s.metric): s.verdict for s in report.series}
    assert verdict[("big", "wall_clock_seconds")] == "usable"
    assert verdict[("mid", "wall_clock_seconds")] == "limited"
    assert verdict[("tiny", "wall_clock_seconds")] == "unusable"
    big = next(s for s in report.series if s.plugin == "big")
    assert big.samples == 30 and big.runs_per_week == 7.0


def test_outliers_failures_and_duplicates_are_counted(tmp_path: Path) -> None:
    runs = steady_runs("h", "apt", 30, T0)
    runs[5].executions[0].steps[0].wall = 5000.0
    runs.append(Run("h", T0, [Execution("apt", "failed", [Step("CHECK", 1.0)])]))
    report = validation.validate(history.read(write_runs(tmp_path / "h.duckdb", runs)))
    wall = next(s for s in report.series if s.metric == "wall_clock_seconds")
    assert (wall.outliers, wall.failed, wall.success, wall.duplicate_timestamps) == (1, 1, 30, 1)
    download = next(s for s in report.series if s.metric == "download_bytes")
    assert download.outliers == 0  # all zeros: nothing to update is not an outlier


def test_nothing_usable_exits_8_with_json(runner, tmp_path: Path) -> None:
    db = write_runs(tmp_path / "h.duckdb", steady_runs("h", "apt", 4, T0))
    result = invoke(runner, "validate", "--db", db, "--json")
    assert result.exit_code == ExitCode.NOTHING_USABLE
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1 and doc["usable"] is False
    assert {s["verdict"] for s in doc["series"]} == {"limited"}


def test_a_young_history_says_once_why_nothing_is_usable_yet(runner, tmp_path: Path) -> None:
    """Four runs of apt and two checks of snap: every series limited or unusable (snap's
    memory and downloads unmeasured). The table's notes said `4 samples (< 20): intervals
    are widened` once per series (a screen of them on a new user's host), and the error `no
    series has enough data to be usable`, as if the history were broken. One line per host
    says it, and the error says what waits."""
    runs = steady_runs("h", "apt", 4, T0)
    for run in runs[:2]:
        run.executions.append(Execution("snap", "success", [Step("CHECK", 3.0)]))
    db = write_runs(tmp_path / "h.duckdb", runs)
    result = invoke(runner, "validate", "--db", db)
    assert result.exit_code == ExitCode.NOTHING_USABLE
    assert "no series has 20 samples yet (at most 4)" in result.stderr
    assert "every estimate is limited" in result.stderr
    notes = [line for line in result.stdout.splitlines() if "(< 20)" in line]
    assert len(notes) == 1 and notes[0].startswith("h: 8 series with 0-4 samples (< 20)"), notes
    assert "samples (< 3)" not in result.stdout


def test_table_lists_every_host_and_plugin(runner, sim_db: Path) -> None:
    result = invoke(runner, "validate", "--db", sim_db)
    assert result.exit_code == 0
    for name in ("workstation", "laptop", "apt", "rustup", "usable"):
        assert name in result.stdout
    assert result.stderr == ""


def test_host_filter(runner, sim_db: Path) -> None:
    doc = json.loads(
        invoke(runner, "validate", "--db", sim_db, "--host", "laptop", "--json").stdout
    )
    assert {s["host"] for s in doc["series"]} == {"laptop"}
