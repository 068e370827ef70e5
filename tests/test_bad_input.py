"""The bad-input matrix through the real CLI: a clear line, a documented code, nothing changed."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import Execution, Run, Step, create_empty, steady_runs, write_runs
from tests.conftest import Trained, copy_trained, held_for_writing, invoke, run_bin
from update_estimate.errors import ExitCode
from update_estimate.history.simulate import schema_sql
from update_estimate.serving import cache

T0 = datetime(2026, 5, 1, 8)


def _assert_clean_answer(result) -> dict:
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    for plugin in doc["plugins"]:
        for m in plugin["metrics"].values():
            values = (m["lower"], m["point"], m["upper"])
            assert all(math.isfinite(v) and v >= 0 for v in values)
            assert m["lower"] <= m["point"] <= m["upper"]
    return doc


def test_absurd_metric_values_train_and_estimate(runner, tmp_path: Path) -> None:
    runs = steady_runs("h", "apt", 40, T0)
    bad = [math.nan, math.inf, -5.0, 0.0, 1e13]
    for i, value in enumerate(bad):
        runs[5 + i].executions[0].steps = [Step("EXECUTE", value, value, value, 10**13, 0)]
    runs += steady_runs("h", "once", 1, T0)
    db = write_runs(tmp_path / "h.duckdb", runs)
    before = db.read_bytes()
    cache_dir = tmp_path / "cache"
    trained = invoke(runner, "train", "--db", db, "--cache-dir", cache_dir, "-j", "1", "--json")
    assert trained.exit_code == 0, trained.stderr
    doc = _assert_clean_answer(
        invoke(runner, "estimate", "--db", db, "--cache-dir", cache_dir, "--json")
    )
    once = next(p for p in doc["plugins"] if p["plugin"] == "once")
    assert once["metrics"]["wall_clock_seconds"]["basis"] in ("limited", "default")
    assert db.read_bytes() == before


@pytest.mark.parametrize(
    "damage",
    [
        "corrupt-records",
        "corrupt-host-records",
        "other-format",
        "records-of-format-1",
        "dangling-link",
    ],
)
def test_damaged_cache_falls_back_to_history(runner, trained: Trained, tmp_path, damage) -> None:
    mine = copy_trained(trained, tmp_path)
    generation = cache.current(mine.cache)
    assert generation is not None
    if damage == "corrupt-records":
        (generation.path / cache.RECORDS).write_text('{"series": {"x": [')
    elif damage == "corrupt-host-records":
        for host_file in (generation.path / cache.HOSTS).glob("*.json"):
            host_file.write_text(host_file.read_text()[:100])
    elif damage == "other-format":
        for name in (cache.MANIFEST, cache.RECORDS):
            doc = json.loads((generation.path / name).read_text())
            (generation.path / name).write_text(json.dumps({**doc, "format_version": 99}))
    elif damage == "records-of-format-1":
        # the manifest says this format, the records are laid out as format 1 wrote them
        for host_file in (generation.path / cache.HOSTS).glob("*.json"):
            records = json.loads(host_file.read_text())
            for record in records["series"].values():
                for variant in record["variants"].values():
                    del variant["spread"], variant["idle"], variant["borrowed"]
            host_file.write_text(json.dumps(records))
    else:
        (mine.cache / "current").unlink()
        (mine.cache / "current").symlink_to("gen-missing")
    result = invoke(runner, "estimate", "--db", mine.db, "--cache-dir", mine.cache, "--json")
    doc = _assert_clean_answer(result)
    assert doc["source"] == "history"
    assert "cache unusable" in result.stderr
    retrain = invoke(
        runner,
        "train",
        "--db",
        mine.db,
        "--cache-dir",
        mine.cache,
        "-j",
        "1",
        "--plugins",
        "pip",
        "--no-phases",
        "--json",
    )
    assert retrain.exit_code == 0 and json.loads(retrain.stdout)["unchanged"] is False


def test_a_truncated_manifest_costs_only_the_stored_models(
    runner, trained: Trained, tmp_path
) -> None:
    """`estimate` answers from the records without reading the manifest; `train` rewrites it."""
    mine = copy_trained(trained, tmp_path)
    generation = cache.current(mine.cache)
    assert generation is not None
    text = (generation.path / cache.MANIFEST).read_text()
    (generation.path / cache.MANIFEST).write_text(text[: len(text) // 2])
    result = invoke(runner, "estimate", "--db", mine.db, "--cache-dir", mine.cache, "--json")
    assert json.loads(result.stdout)["source"] == "cache" and result.stderr == ""
    covariates = json.dumps({"apt": {"package_count": 50_000, "download_bytes": 5e11}})
    args = ["estimate", "--db", mine.db, "--cache-dir", mine.cache, "--plugins", "apt"]
    wide = invoke(runner, *args, "--covariates", "-", stdin=covariates)
    assert wide.exit_code == 0 and "manifest" in wide.stderr, wide.stderr
    retrain = invoke(runner, "train", "--db", mine.db, "--cache-dir", mine.cache, "--json")
    assert retrain.exit_code == 0 and json.loads(retrain.stdout)["unchanged"] is False


def test_train_on_bad_history_reports_one_line(runner, tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    db.write_text("not a database")
    result = invoke(runner, "train", "--db", db, "--cache-dir", tmp_path / "c")
    assert result.exit_code == ExitCode.NOT_DUCKDB
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_plugin_for_train_is_no_data(runner, trained: Trained, tmp_path) -> None:
    result = invoke(
        runner, "train", "--db", trained.db, "--cache-dir", tmp_path / "c", "--plugins", "nosuch"
    )
    assert result.exit_code == ExitCode.NO_DATA and "nosuch" in result.stderr


metric = st.one_of(st.just(0.0), st.floats(min_value=0.01, max_value=1e6))


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    walls=st.lists(st.lists(metric, min_size=1, max_size=3), min_size=1, max_size=25),
    gaps=st.lists(st.floats(min_value=0.1, max_value=500), min_size=25, max_size=25),
)
def test_any_small_history_trains_and_estimates(
    tmp_path_factory: pytest.TempPathFactory, walls: list[list[float]], gaps: list[float]
) -> None:
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("prop")
    runs, t = [], T0
    for i, plugin_walls in enumerate(walls):
        t += timedelta(hours=gaps[i])
        runs.append(
            Run(
                "h",
                t,
                [
                    Execution(f"p{j}", steps=[Step("EXECUTE", w, w / 2, 0.0, int(w * 1e6), int(w))])
                    for j, w in enumerate(plugin_walls)
                ],
            )
        )
    db = write_runs(folder / "h.duckdb", runs)
    runner = CliRunner()
    trained = invoke(
        runner, "train", "--db", db, "--cache-dir", folder / "c", "-j", "1", "--no-phases"
    )
    assert trained.exit_code == 0, trained.stderr
    _assert_clean_answer(
        invoke(runner, "estimate", "--db", db, "--cache-dir", folder / "c", "--json")
    )


def test_duplicate_execution_ids_are_counted_once(runner, tmp_path: Path) -> None:
    ddl = (
        schema_sql()
        .replace("execution_id     VARCHAR PRIMARY KEY", "execution_id VARCHAR")
        .replace("REFERENCES plugin_executions(execution_id)", "")
    )
    assert ddl != schema_sql()
    db = tmp_path / "dup.duckdb"
    con = create_empty(db, ddl=ddl)
    con.close()
    write_runs(db, steady_runs("h", "apt", 25, T0), reuse=True)
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO plugin_executions SELECT * FROM plugin_executions LIMIT 3")
    con.close()
    result = invoke(runner, "validate", "--db", db, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["duplicate_execution_ids"] == 3
    assert doc["series"][0]["samples"] == 25


def test_train_against_a_locked_history_exits_7(trained: Trained, tmp_path) -> None:
    mine = copy_trained(trained, tmp_path)
    with held_for_writing(mine.db):
        result = run_bin("train", "--db", mine.db, "--cache-dir", mine.cache, "--force")
    assert result.returncode == ExitCode.DB_LOCKED
    assert "locked" in result.stderr and "Traceback" not in result.stderr


def test_covariates_are_a_file_stdin_or_the_json_itself(runner, trained: Trained) -> None:
    """The JSON on the command line answers as the same JSON on stdin; a file that is not
    there is a usage error (exit 2) that names the three ways, in one line."""
    reported = json.dumps({"apt": {"package_count": 3, "download_bytes": 4e7}})
    args = ["estimate", "--db", trained.db, "--cache-dir", trained.cache, "--plugins", "apt"]
    args += ["--at", "2030-01-01T09:00"]  # both answered at the same moment
    inline = invoke(runner, *args, "--covariates", reported, "--json")
    piped = invoke(runner, *args, "--covariates", "-", "--json", stdin=reported)
    assert inline.exit_code == 0 and json.loads(inline.stdout)["plugins"][0]["used_covariates"]
    assert json.loads(inline.stdout)["plugins"] == json.loads(piped.stdout)["plugins"]
    missing = invoke(runner, *args, "--covariates", "reports.json")
    assert missing.exit_code == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "or the JSON itself" in missing.stderr


def test_a_report_beyond_one_run_or_of_a_plugin_not_asked_is_said(runner, trained: Trained) -> None:
    """A report of 1e300 packages was answered as a run of a number of days 300 digits long;
    a report of a plugin not estimated (`atp` for apt) was dropped without a word."""
    args = ["estimate", "--db", trained.db, "--cache-dir", trained.cache, "--plugins", "apt"]
    huge = invoke(runner, *args, "--covariates", '{"apt": {"package_count": 1e300}}')
    assert huge.exit_code == 2 and "at most 1e+06 for one run, not 1e+300" in huge.stderr
    typo = invoke(runner, *args, "--covariates", '{"atp": {"package_count": 3}}', "--json")
    assert typo.exit_code == 0
    said = json.loads(typo.stdout)["warnings"]
    assert "atp's report was not used: atp is not among the plugins estimated" in said[0]
    assert "did you mean apt?" in said[0]
