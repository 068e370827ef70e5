from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from update_estimate.face.cli import app
from update_estimate.history import simulate

BIN = Path(sys.executable).parent / "update-estimate"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may touch the real XDG folders or inherit a caller's settings."""
    for var in ("UPDATE_ESTIMATE_DB", "UPDATE_ESTIMATE_CACHE_DIR", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def sim_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared simulated history: 2 hosts x 8 plugins x 120 runs. Read-only for tests."""
    path = tmp_path_factory.mktemp("sim") / "history.duckdb"
    simulate.write(simulate.generate(runs=120, seed=3, hosts=2), path)
    os.chmod(path, 0o444)
    return path


def invoke(runner: CliRunner, *args: str, stdin: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=stdin, catch_exceptions=False)


@dataclass(frozen=True)
class Trained:
    db: Path
    cache: Path


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A small history with a trained cache, made through the real CLI. Do not modify."""
    folder = tmp_path_factory.mktemp("trained")
    db = folder / "history.duckdb"
    simulate.write(
        simulate.generate(plugins=("apt", "flatpak", "pip", "cargo"), runs=60, seed=11), db
    )
    result = CliRunner().invoke(
        app, ["train", "--db", str(db), "--cache-dir", str(folder / "cache"), "--n-jobs", "1"]
    )
    assert result.exit_code == 0, result.output
    return Trained(db, folder / "cache")


def copy_trained(trained: Trained, dest: Path) -> Trained:
    """A private copy to modify: history file and cache (symlinks kept)."""
    shutil.copy2(trained.db, dest / "history.duckdb")
    shutil.copytree(trained.cache, dest / "cache", symlinks=True)
    return Trained(dest / "history.duckdb", dest / "cache")


def run_bin(*args: object, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The installed command as a real subprocess, output captured as text."""
    return subprocess.run(
        [str(BIN), *(str(a) for a in args)], input=stdin, capture_output=True, text=True
    )


@contextmanager
def held_for_writing(db: Path) -> Iterator[None]:
    """update-all mid-run: another real process holds a read-write connection on `db`."""
    code = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield
    finally:
        proc.kill()
        proc.wait()


def estimate_importtime(
    trained: Trained, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """`estimate --json` as a real process, with Python's import log on stderr."""
    cmd = [sys.executable, "-X", "importtime", "-m", "update_estimate.face.cli", "estimate"]
    cmd += ["--db", str(trained.db), "--cache-dir", str(trained.cache), "--json", *args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True)
