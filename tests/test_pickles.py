"""The slow path and untrusted pickles: models load only when they must and only when trusted."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import time
from datetime import datetime
from pathlib import Path

from tests.conftest import Trained, copy_trained, estimate_importtime
from update_estimate.fitting.slowpath import SlowPath
from update_estimate.serving import cache
from update_estimate.serving.predictive import predictive


class Payload:
    """Unpickling this creates a file: proof that a pickle ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _estimate(mine: Trained) -> subprocess.CompletedProcess:
    """apt with check-phase reports far beyond anything seen: the grid cannot answer."""
    covariates = json.dumps({"apt": {"package_count": 50_000, "download_bytes": 5e11}})
    return estimate_importtime(mine, "--plugins", "apt", "--covariates", "-", stdin=covariates)


def _apt_pickle(mine: Trained) -> Path:
    generation = cache.current(mine.cache)
    assert generation is not None
    entry = generation.manifest["series"]["workstation|apt|download_bytes|ALL"]
    name = entry["variants"]["reports"]["pickle"]
    assert name is not None
    return generation.path / "models" / name


def _download_point(result: subprocess.CompletedProcess) -> float:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["plugins"][0]["metrics"]["download_bytes"]["point"]


def test_covariates_beyond_the_grid_take_the_model_path(trained: Trained, tmp_path) -> None:
    mine = copy_trained(trained, tmp_path)
    result = _estimate(mine)
    assert "update_estimate.fitting.candidates" in result.stderr  # the slow path loaded a model
    assert _download_point(result) > 0
    generation = cache.current(mine.cache)
    record = generation.records().series["workstation|apt|download_bytes|ALL"]
    axes = dict(record.variants["reports"].axes)
    beyond = {"package_count": 3 * axes["package_count"][-1], "download_bytes": 1e6}
    at = datetime(2026, 12, 1, 9, 0)
    warnings: list[str] = []
    slow = SlowPath(generation, time.monotonic() + 60, warnings)
    from_model, _ = predictive(record, at, beyond, slow)
    from_grid, _ = predictive(record, at, beyond)
    assert from_model.centre != from_grid.centre
    assert warnings == []


def test_tampered_pickle_never_runs(trained: Trained, tmp_path) -> None:
    mine = copy_trained(trained, tmp_path)
    marker = tmp_path / "pwned"
    _apt_pickle(mine).write_bytes(pickle.dumps(Payload(str(marker))))
    result = _estimate(mine)
    assert result.returncode == 0
    assert not marker.exists()
    assert "sha256 does not match" in result.stderr
    assert result.stderr.count("sha256 does not match") == 1


def test_pickles_in_a_group_writable_cache_are_refused(trained: Trained, tmp_path) -> None:
    mine = copy_trained(trained, tmp_path)
    generation = cache.current(mine.cache)
    assert generation is not None
    marker = tmp_path / "pwned"
    target = _apt_pickle(mine)
    data = pickle.dumps(Payload(str(marker)))
    target.write_bytes(data)
    manifest = generation.manifest
    manifest["pickles"][target.name] = cache.sha256(data)  # a forger who can write the cache
    (generation.path / cache.MANIFEST).write_text(json.dumps(manifest))
    os.chmod(generation.path / "models", 0o777)
    result = _estimate(mine)
    assert result.returncode == 0
    assert not marker.exists()
    assert "writable by group or others" in result.stderr


def test_models_stored_by_another_version_are_not_loaded(trained: Trained, tmp_path) -> None:
    """A model class may have changed shape since (0.6.0's `gap_neighbours` holds a line):
    the forecast records answer, with one warning, until `train` rewrites the models."""
    mine = copy_trained(trained, tmp_path)
    generation = cache.current(mine.cache)
    assert generation is not None
    manifest = {**generation.manifest, "tool_version": "0.5.0"}
    (generation.path / cache.MANIFEST).write_text(json.dumps(manifest))
    result = _estimate(mine)
    assert _download_point(result) > 0
    assert "update_estimate.fitting.candidates" not in result.stderr
    assert result.stderr.count("stored by update-estimate 0.5.0") == 1
