"""The reader against hand-computed values on a crafted two-host history."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.builders import Execution, Run, Step, write_runs
from update_estimate.errors import NoData
from update_estimate.history import reader as history

T0 = datetime(2026, 3, 2, 10, 0)


def crafted(path: Path) -> Path:
    day = timedelta(days=1)
    apt_full = Execution(
        "apt",
        steps=[
            Step("CHECK", 2.0, 0.5, 0.1, 100, 0),
            Step("DOWNLOAD", 10.0, 1.0, 0.5, 300, 5000),
            Step("EXECUTE", 20.0, 8.0, 2.0, 200, None),
        ],
        estimates=[("EXECUTE", 7, None), ("DOWNLOAD", 5, 6000)],
    )
    flatpak = Execution(
        "flatpak", steps=[Step("EXECUTE", 4.0)], estimates=[("EXECUTE", 3, 9000)], offset_s=40
    )
    runs = [
        Run("alpha", T0, [apt_full, flatpak]),
        Run("alpha", T0 + day, [Execution("apt", "failed", [Step("CHECK", 3.0)])]),
        Run("alpha", T0 + 3 * day, [Execution("apt", "timeout", [Step("EXECUTE", 100.0)])]),
        Run("alpha", T0 + 4 * day, [Execution("apt", "running", duration_s=None)]),
        Run("alpha", T0 + 5 * day, [Execution("apt", duration_s=45.0)]),
        Run("alpha", T0 + 6 * day, [Execution("apt", steps=[Step("EXECUTE", -5.0, 1.0)])]),
        Run("beta", T0 + timedelta(hours=2), [Execution("apt", steps=[Step("CHECK", 5.0)])]),
        Run("beta", T0 + 2 * day + timedelta(hours=2), [Execution("apt", steps=[])]),
    ]
    return write_runs(path, runs)


@pytest.fixture
def crafted_db(tmp_path: Path) -> Path:
    return crafted(tmp_path / "h.duckdb")


def test_aggregates_match_hand_computed_values(crafted_db: Path) -> None:
    ex = history.read(crafted_db).executions
    alpha_apt = ex[(ex.host == "alpha") & (ex.plugin == "apt")].reset_index(drop=True)
    assert list(alpha_apt.status) == ["success", "failed", "timeout", "success", "success"]
    first = alpha_apt.iloc[0]
    assert first.wall_clock_seconds == pytest.approx(32.0)
    assert first.cpu_seconds == pytest.approx(12.1)
    assert first.memory_peak_bytes == 300
    assert first.download_bytes == 5000
    assert first.package_count_est == 5  # DOWNLOAD reported before EXECUTE
    assert first.download_bytes_est == 6000
    assert math.isnan(first.hours_since_success)
    assert alpha_apt.hours_since_success.iloc[1:4].tolist() == [24.0, 72.0, 120.0]
    assert list(alpha_apt.censored) == [False, False, True, False, False]
    # no steps: wall falls back to end - start, CPU stays missing
    assert alpha_apt.iloc[3].wall_clock_seconds == pytest.approx(45.0)
    assert math.isnan(alpha_apt.iloc[3].cpu_seconds)
    # a negative step makes the execution's wall clock missing, not smaller
    assert math.isnan(alpha_apt.iloc[4].wall_clock_seconds)
    flat = ex[ex.plugin == "flatpak"].iloc[0]
    assert (flat.package_count_est, flat.download_bytes_est) == (3, 9000)


def test_hosts_are_never_interleaved(crafted_db: Path) -> None:
    ex = history.read(crafted_db, hosts=["beta"]).executions
    assert set(ex.host) == {"beta"}
    assert math.isnan(ex.hours_since_success.iloc[0])
    assert ex.hours_since_success.iloc[1] == pytest.approx(48.0)


def test_phases_are_kept_per_execution(crafted_db: Path) -> None:
    h = history.read(crafted_db, hosts=["alpha"], plugins=["apt"])
    first_id = h.executions.execution_id.iloc[0]
    phases = h.phases[h.phases.execution_id == first_id].set_index("phase")
    assert phases.loc["DOWNLOAD", "wall_clock_seconds"] == 10.0
    assert phases.loc["EXECUTE", "cpu_seconds"] == pytest.approx(10.0)
    assert set(phases.index) == {"CHECK", "DOWNLOAD", "EXECUTE"}


def test_reader_never_writes(crafted_db: Path) -> None:
    before = crafted_db.read_bytes()
    history.read(crafted_db)
    assert crafted_db.read_bytes() == before


def test_unknown_plugin_is_no_data(crafted_db: Path) -> None:
    with pytest.raises(NoData, match="nosuch"):
        history.read(crafted_db, plugins=["nosuch"])


def test_fingerprint_changes_when_history_grows(crafted_db: Path) -> None:
    before = history.read_fingerprint(crafted_db)
    con = duckdb.connect(str(crafted_db))
    con.execute("INSERT INTO runs (run_id, start_time, hostname) VALUES ('x', now(), 'alpha')")
    con.close()
    assert history.read_fingerprint(crafted_db) != before


values = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.floats(min_value=0, max_value=1e13),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    walls=st.lists(st.lists(values, min_size=0, max_size=3), min_size=1, max_size=6),
    statuses=st.lists(st.sampled_from(["success", "failed", "timeout", "skipped"]), min_size=6),
)
def test_any_metric_values_give_finite_non_negative_or_missing(
    tmp_path_factory: pytest.TempPathFactory, walls: list[list[float | None]], statuses: list[str]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "h.duckdb"
    runs = [
        Run(
            "h",
            T0 + timedelta(hours=i),
            [Execution("p", statuses[i], [Step("EXECUTE", w, w, w, None, None) for w in ws])],
        )
        for i, ws in enumerate(walls)
    ]
    ex = history.read(write_runs(path, runs)).executions
    assert len(ex) == len(walls)
    for metric in ("wall_clock_seconds", "cpu_seconds"):
        col = ex[metric].dropna()
        assert ((col >= 0) & col.map(math.isfinite)).all()


def test_a_past_run_is_asked_about_the_plugins_it_did_not_skip(tmp_path: Path) -> None:
    """update-all skips a plugin disabled or not installed, which its caller knows before the
    run: a replayed run's question leaves those out, in the order the rest ran."""
    from update_estimate.history import simulate
    from update_estimate.history.replay import last_runs

    db = tmp_path / "h.duckdb"
    simulate.write(simulate.generate(("apt", "snap", "pip", "cargo"), 80, 3), db)
    with duckdb.connect(str(db), read_only=True) as con:
        skipped = set(
            con.execute(
                "SELECT run_id, plugin_name FROM plugin_executions WHERE status = 'skipped'"
            ).fetchall()
        )
    runs = last_runs(db, 80)
    assert any((r.run_id, p) in skipped for r in runs for p in r.plugins)
    for run in runs:
        assert run.ran == tuple(p for p in run.plugins if (run.run_id, p) not in skipped)
