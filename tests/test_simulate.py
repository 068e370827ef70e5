"""simulate writes the v1 schema, and its documented generating process shows in the data."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from tests.conftest import invoke
from update_estimate.history import reader as history
from update_estimate.history import simulate


def test_shipped_ddl_is_the_shared_schema() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "schema" / "updateall-v1.sql"
    if shared.exists():
        assert simulate.schema_sql() == shared.read_text()


def test_same_seed_same_history() -> None:
    a = simulate.generate(runs=20, seed=5)
    b = simulate.generate(runs=20, seed=5)
    c = simulate.generate(runs=20, seed=6)
    assert a.steps["wall_clock_seconds"] == b.steps["wall_clock_seconds"]
    assert a.steps["wall_clock_seconds"] != c.steps["wall_clock_seconds"]


def test_statuses_and_crashes_present(sim_db: Path) -> None:
    con = duckdb.connect(str(sim_db), read_only=True)
    statuses = dict(
        con.execute("SELECT status, COUNT(*) FROM plugin_executions GROUP BY 1").fetchall()
    )
    crashed = con.execute(
        "SELECT COUNT(*) FROM plugin_executions WHERE status = 'running' AND end_time IS NULL"
    ).fetchone()[0]
    phases = {r[0] for r in con.execute("SELECT DISTINCT phase FROM step_metrics").fetchall()}
    est_phases = dict(
        con.execute(
            "SELECT plugin_name, ANY_VALUE(s.phase) FROM estimates s "
            "JOIN plugin_executions USING (execution_id) GROUP BY 1"
        ).fetchall()
    )
    con.close()
    assert {"success", "failed", "skipped"} <= set(statuses)
    assert statuses["success"] > 10 * statuses["failed"]
    assert crashed == statuses.get("running", 0)
    assert phases == {"CHECK", "DOWNLOAD", "EXECUTE"}
    assert est_phases["apt"] == "DOWNLOAD" and est_phases["flatpak"] == "EXECUTE"
    assert "pip" not in est_phases


def test_timeouts_occur_for_slow_plugins() -> None:
    t = simulate.generate(plugins=("cargo",), runs=400, seed=1, scenario_name="sparse")
    assert "timeout" in t.executions["status"]


def test_packages_grow_with_gap(sim_db: Path) -> None:
    ex = history.read(sim_db, plugins=["apt"]).executions
    ok = ex[(ex.status == "success") & ex.hours_since_success.notna()]
    r = np.corrcoef(np.log1p(ok.hours_since_success), np.log1p(ok.package_count_est))[0, 1]
    assert r > 0.6


def test_scales_differ_by_orders_of_magnitude(sim_db: Path) -> None:
    ex = history.read(sim_db).executions
    med = ex[ex.status == "success"].groupby("plugin")["download_bytes"].median()
    assert med["flatpak"] > 10 * med["pip"]


def test_slow_network_days_are_shared_by_a_run(sim_db: Path) -> None:
    con = duckdb.connect(str(sim_db), read_only=True)
    df = con.execute(
        "SELECT e.run_id, e.plugin_name, m.download_speed_bps FROM step_metrics m "
        "JOIN plugin_executions e USING (execution_id) WHERE m.download_speed_bps IS NOT NULL"
    ).df()
    con.close()
    base = {p: simulate.profile_for(p).speed_bps for p in df.plugin_name.unique()}
    df["factor"] = df.download_speed_bps / df.plugin_name.map(base)
    spread = df.groupby("run_id")["factor"].agg(lambda f: f.max() / f.min())
    assert np.allclose(spread, 1.0)
    slow = df.groupby("run_id")["factor"].first() < 0.4
    assert 0.03 < slow.mean() < 0.25


def test_level_shift_and_trend_raise_backlog() -> None:
    for name in ("trend", "level-shift"):
        t = simulate.generate(plugins=("apt",), runs=300, seed=2, scenario_name=name)
        counts = pd.Series(t.estimates["package_count_est"], dtype=float)
        assert counts.iloc[-60:].mean() > 1.5 * counts.iloc[:60].mean(), name


def test_cli_refuses_to_overwrite(runner, tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    assert invoke(runner, "simulate", "--db", db, "--runs", "5").exit_code == 0
    first = db.read_bytes()
    again = invoke(runner, "simulate", "--db", db, "--runs", "5")
    assert again.exit_code == 2 and "--force" in again.stderr
    assert db.read_bytes() == first
    forced = invoke(runner, "simulate", "--db", db, "--runs", "5", "--seed", "9", "--force")
    assert forced.exit_code == 0 and db.read_bytes() != first


def test_cli_plugins_and_hosts(runner, tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    result = invoke(
        runner, "simulate", "--db", db, "--runs", "8", "--hosts", "3", "--plugins", "apt", "my-tool"
    )
    assert result.exit_code == 0, result.stderr
    ex = history.read(db).executions
    assert set(ex.plugin) == {"apt", "my-tool"}
    assert ex.host.nunique() == 3


def test_unknown_scenario_is_a_usage_error(runner, tmp_path: Path) -> None:
    result = invoke(runner, "simulate", "--db", tmp_path / "x.duckdb", "--scenario", "nope")
    assert result.exit_code == 2 and "unknown scenario" in result.stderr


def test_help_names_every_scenario(runner) -> None:
    text = " ".join(invoke(runner, "simulate", "--help").stdout.split()).replace("- ", "-")
    assert all(name in text for name in simulate.SCENARIOS)
