"""Every documented error through the real CLI: one line on stderr, its exit code, no traceback."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from tests.builders import create_empty, steady_runs, write_runs
from tests.conftest import BIN, held_for_writing, invoke
from update_estimate.errors import ExitCode
from update_estimate.history.simulate import schema_sql


def _text_file(p: Path) -> Path:
    p.write_text("this is not a database\n" * 20)
    return p


def _empty_file(p: Path) -> Path:
    p.touch()
    return p


def _no_tables(p: Path) -> Path:
    duckdb.connect(str(p)).close()
    return p


def _missing_column(p: Path) -> Path:
    ddl = schema_sql().replace("    memory_peak_bytes   BIGINT,\n", "")
    assert ddl != schema_sql()
    create_empty(p, ddl=ddl).close()
    return p


def _schema_v2(p: Path) -> Path:
    return write_runs(p, steady_runs("h", "apt", 5, datetime(2026, 1, 1)), version=2)


CASES = {
    "missing": (lambda p: p, ExitCode.HISTORY_MISSING, "not found"),
    "text": (_text_file, ExitCode.NOT_DUCKDB, "not a readable DuckDB"),
    "empty": (_empty_file, ExitCode.NOT_DUCKDB, "not a readable DuckDB"),
    "no-tables": (_no_tables, ExitCode.SCHEMA_INVALID, "missing tables"),
    "missing-column": (_missing_column, ExitCode.SCHEMA_INVALID, "step_metrics.memory_peak_bytes"),
    "schema-v2": (_schema_v2, ExitCode.SCHEMA_NEWER, "version 2"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_history_through_runner(runner, tmp_path: Path, case: str) -> None:
    make, code, text = CASES[case]
    db = make(tmp_path / "history.duckdb")
    before = db.read_bytes() if db.exists() else None
    result = invoke(runner, "validate", "--db", db)
    assert result.exit_code == code, result.output
    assert text in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (db.read_bytes() if db.exists() else None) == before


def test_env_variable_names_the_history(runner, tmp_path: Path, monkeypatch) -> None:
    db = write_runs(tmp_path / "env.duckdb", steady_runs("h", "apt", 25, datetime(2026, 1, 1)))
    monkeypatch.setenv("UPDATE_ESTIMATE_DB", str(db))
    result = invoke(runner, "validate", "--json")
    assert result.exit_code == 0, result.stderr
    assert '"plugin": "apt"' in result.stdout


def test_default_path_is_update_alls(runner, tmp_path: Path) -> None:
    result = invoke(runner, "validate")
    assert result.exit_code == ExitCode.HISTORY_MISSING
    assert str(tmp_path / "xdg-data" / "update-all" / "history.duckdb") in result.stderr


@pytest.fixture
def held_by_writer(tmp_path: Path) -> Iterator[Path]:
    """A second, real process holds a read-write connection, as update-all does during a run."""
    db = write_runs(tmp_path / "held.duckdb", steady_runs("h", "apt", 25, datetime(2026, 1, 1)))
    with held_for_writing(db):
        yield db


def test_locked_history_is_reported_after_retrying(held_by_writer: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [str(BIN), "validate", "--db", str(held_by_writer)], capture_output=True, text=True
    )
    assert result.returncode == ExitCode.DB_LOCKED
    assert "locked by another process" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started >= 1.0  # it retried before giving up


def test_subprocess_missing_file_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN), "validate", "--db", str(tmp_path / "nope.duckdb")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == ExitCode.HISTORY_MISSING
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1


def test_empty_plugins_option_is_a_usage_error(runner, sim_db: Path) -> None:
    result = invoke(runner, "validate", "--db", sim_db, "--plugins")
    assert result.exit_code == ExitCode.USAGE
    assert "--plugins needs at least one" in result.stderr


def test_logging_flags_work_after_the_subcommand(runner, sim_db: Path) -> None:
    result = invoke(runner, "validate", "--db", sim_db, "--plugins", "apt", "-q", "--json")
    assert result.exit_code == 0
    assert result.stdout.lstrip().startswith("{")


def test_version(runner) -> None:
    result = invoke(runner, "--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("update-estimate ")


def test_a_mistyped_command_is_suggested_once() -> None:
    result = subprocess.run([str(BIN), "estimat"], capture_output=True, text=True)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.count("Did you mean") == 1, result.stderr
    assert "'estimate'" in result.stderr


def test_simulate_and_train_say_one_line_on_a_terminal_and_nothing_under_q(
    tmp_path: Path,
) -> None:
    """A terminal on stderr (a pty), as a person sees it; -q keeps them silent for cron."""
    import os
    import pty

    def on_terminal(*args: object) -> str:
        leader, follower = pty.openpty()
        proc = subprocess.run(
            [str(BIN), *(str(a) for a in args)],
            stdout=subprocess.DEVNULL,
            stderr=follower,
            timeout=300,
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        assert proc.returncode == 0
        return b"".join(chunks).decode()

    db = tmp_path / "h.duckdb"
    said = on_terminal("simulate", "--db", db, "--runs", "30", "--plugins", "apt")
    assert "wrote 30 runs of 1 plugin to" in said
    cache = tmp_path / "cache"
    on_terminal("-q", "train", "--db", db, "--cache-dir", cache, "--no-phases", "-j", "1")
    assert "nothing refitted" in on_terminal(
        "train", "--db", db, "--cache-dir", cache, "--no-phases"
    )
    assert on_terminal("-q", "train", "--db", db, "--cache-dir", cache, "--no-phases") == ""


def test_a_new_users_train_under_q_writes_nothing(tmp_path: Path) -> None:
    """First weeks, plugins that never downloaded, parallel workers: cron hears nothing."""
    db, cache = tmp_path / "h.duckdb", tmp_path / "cache"
    made = subprocess.run(
        [
            str(BIN),
            "simulate",
            "--db",
            str(db),
            "--runs",
            "16",
            "--scenario",
            "late-plugins",
            "--seed",
            "6",
        ],
        capture_output=True,
        timeout=300,
    )
    assert made.returncode == 0
    trained = subprocess.run(
        [str(BIN), "-q", "train", "--db", str(db), "--cache-dir", str(cache), "-j", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trained.returncode == 0
    assert trained.stdout == "" and trained.stderr == ""


def test_typos_in_plugin_names_get_a_suggestion(runner, sim_db: Path, tmp_path: Path) -> None:
    checked = invoke(runner, "validate", "--db", sim_db, "-p", "apt", "snp")
    assert "warning: no history for snp (did you mean snap or npm?)" in checked.stderr
    trained = invoke(runner, "train", "--db", sim_db, "--cache-dir", tmp_path, "-p", "atp")
    assert trained.exit_code == ExitCode.NO_DATA
    assert "(did you mean apt?)" in trained.stderr


def test_a_mistyped_host_is_named_with_the_hosts_there(runner, trained, tmp_path: Path) -> None:
    """`--host laptp`: estimate said the history was empty or unreadable, and train named no
    host of the history."""
    cached = invoke(
        runner, "estimate", "--db", trained.db, "--cache-dir", trained.cache, "--host", "workstaton"
    )
    assert cached.exit_code == ExitCode.NO_DATA
    assert "host 'workstaton' not in the history (workstation)" in cached.stderr
    assert "did you mean workstation?" in cached.stderr
    bare = invoke(
        runner, "estimate", "--db", trained.db, "--cache-dir", tmp_path / "none", "--host", "x"
    )
    assert (
        bare.exit_code == ExitCode.NO_DATA and "for hosts x; its hosts: workstation" in bare.stderr
    )
    first = invoke(runner, "estimate", "--db", tmp_path / "none.duckdb", "--cache-dir", tmp_path)
    assert first.exit_code == ExitCode.NO_DATA and "history not found" in first.stderr
    train = invoke(
        runner, "train", "--db", trained.db, "--cache-dir", tmp_path / "c", "--host", "workstaton"
    )
    assert train.exit_code == ExitCode.NO_DATA
    assert "its hosts: workstation (did you mean workstation?)" in train.stderr


def test_a_path_that_cannot_be_what_it_names_is_a_usage_error(runner, trained, tmp_path) -> None:
    """`simulate --db` on a folder and `train --cache-dir` on a file ended in an internal
    error (exit 1); `--plugins ""` wrote every plugin."""
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    wrote = invoke(runner, "simulate", "--db", folder, "--runs", "2", "--force")
    assert wrote.exit_code == ExitCode.USAGE and "is a folder" in wrote.stderr
    assert (folder / "keep.txt").read_text() == "mine"
    a_file = tmp_path / "cache-file"
    a_file.write_text("")
    train = invoke(runner, "train", "--db", trained.db, "--cache-dir", a_file)
    assert train.exit_code == ExitCode.USAGE and "a file, not a folder" in train.stderr
    blank = invoke(
        runner, "simulate", "--db", tmp_path / "x.duckdb", "--plugins", "", "--runs", "2"
    )
    assert blank.exit_code == ExitCode.USAGE and "at least one plugin name" in blank.stderr
    assert not (tmp_path / "x.duckdb").exists()
