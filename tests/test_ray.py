"""`train --engine ray`: the per-series work on an existing Ray cluster (here a real local head
started with `ray start`), with the same records as the local pool. Skipped without the ray
extra, which `make test` does not install (a large wheel); `make test-ray` does."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import invoke
from tests.records import cached
from update_estimate import api
from update_estimate.errors import UsageError
from update_estimate.fitting import parallel
from update_estimate.history import simulate
from update_estimate.requests import TrainRequest

pytest.importorskip("ray")
RAY = Path(sys.executable).parent / "ray"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_ray_cluster_trains_the_same_records(runner, tmp_path: Path) -> None:
    db = tmp_path / "fleet.duckdb"
    simulate.write(simulate.generate(("apt", "snap"), 24, 4, hosts=2), db)
    local = tmp_path / "local"
    api.train(TrainRequest(db, local, n_jobs=1, phases=False))
    port = _free_port()
    head = [str(RAY), "start", "--head", f"--port={port}", "--num-cpus=2"]
    head += ["--include-dashboard=false", "--disable-usage-stats"]
    subprocess.run(head, check=True, capture_output=True, timeout=120)
    try:
        args = ["train", "--db", db, "--cache-dir", tmp_path / "ray", "--no-phases", "--json"]
        result = invoke(runner, *args, "--engine", "ray", "--scheduler", f"127.0.0.1:{port}")
        assert result.exit_code == 0, result.stderr
    finally:
        subprocess.run([str(RAY), "stop", "--force"], capture_output=True, timeout=120)
    records = [cached(tmp_path / c) for c in ("ray", "local")]
    assert len(records[1]["series"]) == 2 * 2 * 4  # hosts x plugins x metrics
    assert records[0] == records[1]


def test_ray_needs_a_reachable_head(runner, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "h.duckdb"
    simulate.write(simulate.generate(("apt",), 12, 1), db)
    missing = invoke(runner, "train", "--db", db, "--cache-dir", tmp_path / "c", "--engine", "ray")
    assert missing.exit_code == 2 and "needs --scheduler" in missing.stderr
    monkeypatch.setattr(parallel, "CONNECT_SECONDS", 1.0)
    with pytest.raises(UsageError, match="cannot reach the Ray cluster"):
        parallel.each(abs, [1, 2], 2, engine="ray", scheduler="127.0.0.1:9")
    with pytest.raises(UsageError, match="is not host:port"):
        parallel.each(abs, [1, 2], 2, engine="ray", scheduler="nowhere")
