"""estimate through the real CLI and its warm path: the JSON contract, honesty, remaining time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.conftest import (
    Trained,
    copy_trained,
    estimate_importtime,
    held_for_writing,
    invoke,
    run_bin,
)
from update_estimate.errors import ExitCode
from update_estimate.history import simulate
from update_estimate.history.simulate import DEFAULT_PLUGINS
from update_estimate.requests import EstimateRequest
from update_estimate.serving import cache
from update_estimate.serving import estimate as answering

METRICS = {"wall_clock_seconds", "cpu_seconds", "memory_peak_bytes", "download_bytes"}
FIELDS = {"point", "lower", "upper", "data_points", "model", "basis"}


def estimate(where: Trained, *args: object) -> list[object]:
    """The estimate command line against a trained history and cache."""
    return ["estimate", "--db", where.db, "--cache-dir", where.cache, *args]


def run_json(runner, trained: Trained, *args: str) -> dict:
    result = invoke(runner, *estimate(trained, "--json", *args))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_json_matches_the_design_contract(runner, trained: Trained) -> None:
    doc = run_json(runner, trained, "--plugins", "apt", "pip")
    assert doc["schema_version"] == 1 and doc["level"] == 0.9
    assert [p["plugin"] for p in doc["plugins"]] == ["apt", "pip"]
    for plugin in doc["plugins"]:
        assert set(plugin["metrics"]) == METRICS
        for m in plugin["metrics"].values():
            assert set(m) >= FIELDS
            assert 0 <= m["lower"] <= m["point"] <= m["upper"]
            assert m["basis"] == "model" and m["data_points"] > 40
    assert set(doc["total"]["metrics"]) == METRICS
    wall = doc["total"]["metrics"]["wall_clock_seconds"]
    assert wall["lower"] <= wall["point"] <= wall["upper"]
    assert doc["source"] == "cache"


def test_every_plugin_by_default_and_table_output(runner, trained: Trained) -> None:
    doc = run_json(runner, trained)
    assert [p["plugin"] for p in doc["plugins"]] == ["apt", "cargo", "flatpak", "pip"]
    table = invoke(runner, *estimate(trained))
    assert table.exit_code == 0
    assert "total" in table.stdout and "flatpak" in table.stdout


def test_warm_path_imports_no_darts_pandas_or_sklearn(trained: Trained) -> None:
    result = estimate_importtime(trained)
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "update_estimate" in imported
    assert not imported & {"darts", "pandas", "sklearn", "numpy", "duckdb", "statsforecast"}


def test_levels_widen_and_narrow(runner, trained: Trained) -> None:
    narrow = run_json(runner, trained, "--plugins", "apt", "--level", "0.5")
    wide = run_json(runner, trained, "--plugins", "apt", "--level", "0.95")
    n = narrow["plugins"][0]["metrics"]["wall_clock_seconds"]
    w = wide["plugins"][0]["metrics"]["wall_clock_seconds"]
    assert w["lower"] <= n["lower"] and n["upper"] <= w["upper"]


@pytest.mark.parametrize("level", ["0", "1", "1.5", "-0.2"])
def test_level_outside_open_interval_is_a_usage_error(runner, trained: Trained, level) -> None:
    result = invoke(runner, *estimate(trained, "--level", level))
    assert result.exit_code == ExitCode.USAGE
    assert "between 0 and 1" in result.stderr


def test_unknown_plugin_gets_default_basis(runner, trained: Trained) -> None:
    result = invoke(runner, *estimate(trained, "--json", "--plugins", "apt", "brand-new"))
    doc = json.loads(result.stdout)
    new = doc["plugins"][1]["metrics"]["wall_clock_seconds"]
    assert new["basis"] == "default" and new["data_points"] == 0
    assert new["upper"] / max(new["lower"], 1e-9) > 10
    assert doc["total"]["metrics"]["wall_clock_seconds"]["basis"] == "limited"
    assert "no history for brand-new" in result.stderr


def test_check_phase_covariates_sharpen_the_estimate(runner, trained: Trained, tmp_path) -> None:
    few = tmp_path / "few.json"
    few.write_text(json.dumps({"apt": {"package_count": 1, "download_bytes": 1e6}}))
    many = tmp_path / "many.json"
    many.write_text(json.dumps({"apt": {"package_count": 150, "download_bytes": 3e8}}))
    a = run_json(runner, trained, "--plugins", "apt", "--covariates", str(few))["plugins"][0]
    b = run_json(runner, trained, "--plugins", "apt", "--covariates", str(many))["plugins"][0]
    assert a["used_covariates"] and b["used_covariates"]
    wall_a, wall_b = a["metrics"]["wall_clock_seconds"], b["metrics"]["wall_clock_seconds"]
    assert wall_b["point"] > 3 * wall_a["point"]
    plain = run_json(runner, trained, "--plugins", "apt")["plugins"][0]
    assert not plain["used_covariates"]


def test_covariates_from_stdin(trained: Trained) -> None:
    result = run_bin(
        *estimate(trained, "--json", "--plugins", "apt", "--covariates", "-"),
        stdin='{"apt": {"package_count_est": 20, "download_bytes_est": 40000000}}',
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["plugins"][0]["used_covariates"] is True


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '{"apt": 3}',
        '{"apt": {"package_count": "many"}}',
        '{"apt": {"package_count": -1}}',
    ],
)
def test_malformed_covariates_are_usage_errors(runner, trained: Trained, tmp_path, text) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    result = invoke(runner, *estimate(trained, "--covariates", path))
    assert result.exit_code == ExitCode.USAGE
    assert "--covariates" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_later_start_means_longer_backlog(runner, trained: Trained) -> None:
    generation = cache.current(trained.cache)
    last = generation.records().series["workstation|apt|wall_clock_seconds|ALL"].last_success
    soon = last[:10] + "T23:59"
    month = run_json(runner, trained, "--plugins", "apt", "--at", "2027-06-01T10:00")
    day = run_json(runner, trained, "--plugins", "apt", "--at", soon)
    assert (
        month["plugins"][0]["metrics"]["download_bytes"]["point"]
        > day["plugins"][0]["metrics"]["download_bytes"]["point"]
    )


def test_bad_at_is_a_usage_error(runner, trained: Trained) -> None:
    result = invoke(runner, *estimate(trained, "--at", "next tuesday"))
    assert result.exit_code == ExitCode.USAGE and "ISO 8601" in result.stderr


def test_memory_total_is_max_sequential_and_sum_parallel(runner, trained: Trained) -> None:
    seq = run_json(runner, trained)
    par = run_json(runner, trained, "--parallel")
    peaks = [p["metrics"]["memory_peak_bytes"]["point"] for p in seq["plugins"]]
    seq_total = seq["total"]["metrics"]["memory_peak_bytes"]["point"]
    par_total = par["total"]["metrics"]["memory_peak_bytes"]["point"]
    assert seq_total < 1.5 * max(peaks)
    assert par_total > 0.8 * sum(peaks)


def test_done_plugins_leave_the_total(runner, trained: Trained) -> None:
    whole = run_json(runner, trained)
    rest = run_json(runner, trained, "--done", "apt", "flatpak")
    assert (
        rest["remaining"]["wall_clock_seconds"]["point"]
        < whole["total"]["metrics"]["wall_clock_seconds"]["point"]
    )
    assert rest["remaining"]["done"] == ["apt", "flatpak"]


def test_remaining_time_rises_as_elapsed_grows_only_when_read_again(trained: Trained) -> None:
    """Within the running plugin's interval the point rises only once it has run past the end
    an earlier answer foretold, and says so; past it (overdue) the remaining time is
    conditioned on having run that long, and moves on with the clock instead of freezing."""
    generation = cache.current(trained.cache)
    records = generation.records().series
    points, previous, overdue, revised = [], None, [], 0
    started = datetime(2026, 11, 22, 9, 0)  # the run's start: only the elapsed time moves
    for elapsed in range(0, 3600, 15):
        request = EstimateRequest(
            plugins=["apt", "cargo", "flatpak", "pip"],
            done=["apt"],
            running="cargo",
            elapsed=float(elapsed),
            at=started,
        )
        answer = answering.estimate(records, "workstation", request, "cache")
        rem = answer.remaining
        assert rem is not None
        w = rem.wall_clock_seconds
        assert w.lower <= w.point <= w.upper
        if rem.overdue:
            overdue.append(w.point)
            continue
        read_again = any("past the end an earlier answer foretold" in m for m in answer.warnings)
        revised += read_again
        if previous is not None and not read_again:
            assert w.point <= previous + 1e-9
        previous = w.point
        points.append(w.point)
    assert points[0] > points[-1]
    assert len(points) > 4 and len(overdue) > 4 and revised < len(points) / 2
    assert overdue[-1] > overdue[0] > 0


def test_running_plugin_through_cli(runner, trained: Trained) -> None:
    doc = run_json(runner, trained, "--running", "cargo", "--elapsed", "30", "--done", "apt")
    rem = doc["remaining"]
    assert rem["running"] == "cargo" and rem["elapsed_seconds"] == 30
    result = invoke(runner, *estimate(trained, "--elapsed", "-5"))
    assert result.exit_code == ExitCode.USAGE


def test_no_cache_answers_from_history_with_a_hint(runner, trained: Trained, tmp_path) -> None:
    result = invoke(
        runner,
        "estimate",
        "--db",
        trained.db,
        "--cache-dir",
        tmp_path / "none",
        "--json",
        "--plugins",
        "pip",
    )
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["source"] == "history"
    assert doc["plugins"][0]["metrics"]["wall_clock_seconds"]["basis"] == "limited"
    assert "run `update-estimate train`" in result.stderr


def test_without_a_cache_a_download_answers_a_size_it_fetched(runner, tmp_path) -> None:
    """Answered from the history, a download's point is the median of its recent runs; where
    half fetched nothing, the mean of the middle two on the log scale (nothing and a size)
    read npm 2.6 kB and snap 7.0 kB beside runs of megabytes. It is now one of the sizes."""
    db = tmp_path / "h.duckdb"
    simulate.write(simulate.generate(DEFAULT_PLUGINS, 40, 3, scenario_name="check-only"), db)
    result = invoke(runner, "estimate", "--db", db, "--cache-dir", tmp_path / "none", "--json")
    assert result.exit_code == 0, result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        fetched = con.execute(
            """SELECT e.plugin_name, m.download_size_bytes FROM plugin_executions e
               JOIN step_metrics m USING (execution_id) WHERE m.phase = 'DOWNLOAD'"""
        ).fetchall()
    for row in json.loads(result.stdout)["plugins"]:
        point = row["metrics"]["download_bytes"]["point"]
        sizes = [float(b) for plugin, b in fetched if plugin == row["plugin"]]
        assert min(abs(point - b) for b in [0.0, *sizes]) <= 1e-6 * max(point, 1.0), row


def test_stale_cache_is_used_with_a_warning(runner, trained: Trained, tmp_path) -> None:
    mine = copy_trained(trained, tmp_path)
    con = duckdb.connect(str(mine.db))
    con.execute("INSERT INTO runs (run_id, start_time, hostname) VALUES ('n', now(), 'x')")
    con.close()
    result = invoke(runner, *estimate(mine, "--json"))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["source"] == "cache"
    assert "older than the history" in result.stderr


@pytest.fixture
def writer(trained: Trained, tmp_path: Path) -> Iterator[Trained]:
    """update-all mid-run: another real process holds a read-write connection."""
    mine = copy_trained(trained, tmp_path)
    with held_for_writing(mine.db):
        yield mine


def test_locked_history_with_cache_answers_from_cache(writer: Trained) -> None:
    result = run_bin(*estimate(writer, "--json"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"] == "cache"


def _without_cache(writer: Trained, tmp_path: Path, *args: str):
    return run_bin("estimate", "--db", writer.db, "--cache-dir", tmp_path / "none", "--json", *args)


def test_locked_history_without_cache_answers_defaults(writer: Trained, tmp_path) -> None:
    result = _without_cache(writer, tmp_path, "--plugins", "apt", "snap")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["source"] == "default"
    assert {p["metrics"]["wall_clock_seconds"]["basis"] for p in doc["plugins"]} == {"default"}
    assert "locked" in result.stderr


def test_timeout_answers_with_what_it_has(writer: Trained, tmp_path) -> None:
    before = writer.db.read_bytes()
    result = _without_cache(writer, tmp_path, "--plugins", "apt", "--timeout", "0.1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"] == "default"
    assert writer.db.read_bytes() == before
