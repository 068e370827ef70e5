"""train through the real CLI: JSON, manifest, pickles, idempotence, the lock, quiet cron."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.conftest import BIN, Trained, copy_trained, invoke, run_bin
from tests.records import cached
from update_estimate.errors import ExitCode
from update_estimate.history import simulate
from update_estimate.serving import cache


def test_manifest_lists_every_series_with_verified_pickles(trained: Trained) -> None:
    generation = cache.current(trained.cache)
    assert generation is not None
    manifest = generation.manifest
    assert manifest["format_version"] == cache.FORMAT_VERSION
    assert {"darts", "numpy", "duckdb"} <= set(manifest["libraries"])
    assert manifest["fingerprint"]["runs"] == 60
    keys = set(manifest["series"])
    assert "workstation|apt|wall_clock_seconds|ALL" in keys
    assert "workstation|apt|wall_clock_seconds|EXECUTE" in keys
    assert len([k for k in keys if k.endswith("|ALL")]) == 16
    for name, digest in manifest["pickles"].items():
        assert cache.sha256((generation.path / "models" / name).read_bytes()) == digest
    entry = manifest["series"]["workstation|apt|wall_clock_seconds|ALL"]
    base = entry["variants"]["base"]
    assert {"naive_last", "rolling_median", "auto_ets", "linear"} <= set(base["scores"])
    assert base["mae"] == min(base["scores"].values())
    assert "reports" in entry["variants"]  # apt reports package counts


def test_unchanged_history_refits_nothing(runner, trained: Trained, tmp_path: Path) -> None:
    mine = copy_trained(trained, tmp_path)
    before = os.readlink(mine.cache / "current")
    result = invoke(runner, "train", "--db", mine.db, "--cache-dir", mine.cache, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["unchanged"] is True and doc["series"] == []
    assert os.readlink(mine.cache / "current") == before


def test_changed_history_publishes_a_new_generation(
    runner, trained: Trained, tmp_path: Path
) -> None:
    mine = copy_trained(trained, tmp_path)
    before = os.readlink(mine.cache / "current")
    con = duckdb.connect(str(mine.db))
    con.execute("INSERT INTO runs (run_id, start_time, hostname) VALUES ('new', now(), 'x')")
    con.close()
    result = invoke(
        runner, "train", "--db", mine.db, "--cache-dir", mine.cache, "--plugins", "pip", "--json"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["unchanged"] is False
    assert {s["plugin"] for s in doc["series"]} == {"pip"}
    assert os.readlink(mine.cache / "current") != before
    assert (mine.cache / before).exists()  # the previous generation stays for readers inside it


def test_second_train_waits_then_exits_clearly(trained: Trained, tmp_path: Path) -> None:
    mine = copy_trained(trained, tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            str(mine.cache / cache.LOCK),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = run_bin(
            "train", "--db", mine.db, "--cache-dir", mine.cache, "--force", "--wait", "0.5"
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == ExitCode.TRAIN_LOCKED
    assert "another train holds" in result.stderr
    assert "Traceback" not in result.stderr


def test_cron_run_is_silent_and_parallel_train_works(trained: Trained, tmp_path: Path) -> None:
    """As cron runs it: no terminal, two worker processes; nothing on stdout or stderr."""
    db = tmp_path / "h.duckdb"
    subprocess.run(
        [str(BIN), "simulate", "--db", str(db), "--runs", "30", "--plugins", "apt", "pip"],
        check=True,
    )
    result = run_bin(
        "train", "--db", db, "--cache-dir", tmp_path / "c", "--n-jobs", "2", "--no-phases"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    generation = cache.current(tmp_path / "c")
    assert generation is not None and len(generation.manifest["series"]) == 8


def test_missing_extras_are_reported_once(runner, trained: Trained, tmp_path: Path) -> None:
    mine = copy_trained(trained, tmp_path)
    result = invoke(
        runner,
        "train",
        "--db",
        mine.db,
        "--cache-dir",
        mine.cache,
        "--plugins",
        "pip",
        "--no-phases",
        "--force",
        "-v",
    )
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if "extra not installed" in line]
    assert len(lines) == len({line.split("extra=")[1] for line in lines}) >= 1


def test_a_plugin_that_times_out_is_never_answered_past_its_timeout(
    tmp_path: Path, runner: CliRunner
) -> None:
    """cargo after weeks away builds for longer than its 30-minute timeout, six times in
    forty runs, killed at 1800 s each time: its whole time's cap is that, and the estimate's
    upper end never passes it (1.5 times the longest seen put it near 2700 s)."""
    db = tmp_path / "h.duckdb"
    simulate.write(simulate.generate(("cargo",), 40, 1, scenario_name="sparse"), db)
    cache_dir = tmp_path / "cache"
    trained = invoke(runner, "train", "--db", db, "--cache-dir", cache_dir, "--n-jobs", "1")
    assert trained.exit_code == 0, trained.output
    wall = "wall_clock_seconds"
    (whole,) = [
        r for r in cached(cache_dir)["series"].values() if (r["metric"], r["phase"]) == (wall, None)
    ]
    assert math.expm1(whole["cap"]) == pytest.approx(1800.0, abs=0.01) and whole["stopped"]
    answer = invoke(runner, "estimate", "--db", db, "--cache-dir", cache_dir, "--json")
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.output)["plugins"][0]["metrics"][wall]["upper"] <= 1800.01
    # running: what remains is never more than the timeout leaves (it read 8 m, up to 17 m,
    # at 1700 s, from the slowest past runs scaled up), and is no point of no width (cut at
    # what the timeout leaves, every draw said 100 s)
    for elapsed in (1000, 1700):
        running = ("--running", "cargo", "--elapsed", str(elapsed))
        answer = invoke(
            runner, "estimate", "--db", db, "--cache-dir", cache_dir, "--json", *running
        )
        left = json.loads(answer.stdout)["remaining"]["running_wall_clock_seconds"]
        assert left["lower"] < left["point"] < left["upper"] <= 1.01 * (1800 - elapsed)
    assert left["upper"] - left["lower"] > 50  # of the 100 s the timeout leaves
