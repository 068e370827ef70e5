"""`train --engine dask`: the per-series work on an existing Dask cluster (here a real local one
with two worker processes), with the same records as the local pool for the same history."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import invoke
from tests.records import cached
from update_estimate import api
from update_estimate.errors import UsageError
from update_estimate.fitting import parallel
from update_estimate.history import simulate
from update_estimate.requests import TrainRequest

distributed = pytest.importorskip("distributed")


def _records(cache: Path) -> dict:
    return cached(cache)


def test_a_dask_cluster_trains_the_same_records(runner, tmp_path: Path) -> None:
    db = tmp_path / "fleet.duckdb"
    tables = simulate.generate(("apt", "snap"), 30, 4, hosts=2, scenario_name="check-only")
    simulate.write(tables, db)
    local = tmp_path / "local"
    api.train(TrainRequest(db, local, n_jobs=1, phases=False))
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        args = ["train", "--db", db, "--cache-dir", tmp_path / "dask", "--no-phases", "--json"]
        result = invoke(runner, *args, "--engine", "dask", "--scheduler", cluster.scheduler_address)
        assert result.exit_code == 0, result.stderr
        assert cluster.scheduler.transition_counter > 0  # the work went through the cluster
    dask_records, local_records = _records(tmp_path / "dask"), _records(local)
    assert len(local_records["series"]) == 2 * 2 * 4  # hosts x plugins x metrics
    assert dask_records == local_records


def test_dask_needs_a_scheduler_and_a_reachable_one(runner, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "h.duckdb"
    simulate.write(simulate.generate(("apt",), 12, 1), db)
    base = ["train", "--db", db, "--cache-dir", tmp_path / "c"]
    missing = invoke(runner, *base, "--engine", "dask")
    assert missing.exit_code == 2 and "needs --scheduler" in missing.stderr
    unknown = invoke(runner, *base, "--engine", "spark")
    assert unknown.exit_code == 2 and "unknown --engine 'spark'" in unknown.stderr
    monkeypatch.setattr(parallel, "CONNECT_SECONDS", 1.0)
    with pytest.raises(UsageError, match="cannot reach the Dask scheduler"):
        parallel.each(abs, [1, 2], 2, engine="dask", scheduler="tcp://127.0.0.1:9")
