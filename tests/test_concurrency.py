"""Real processes at once: a killed train, estimates during a train."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from tests.conftest import BIN, Trained, copy_trained, run_bin


def _train(mine: Trained) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(BIN),
            "train",
            "--db",
            str(mine.db),
            "--cache-dir",
            str(mine.cache),
            "--force",
            "-j",
            "1",
            "-q",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _estimate(mine: Trained) -> dict:
    result = run_bin("estimate", "--db", mine.db, "--cache-dir", mine.cache, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_killed_train_leaves_the_previous_cache_usable(trained: Trained, tmp_path) -> None:
    mine = copy_trained(trained, tmp_path)
    before = os.readlink(mine.cache / "current")
    proc = _train(mine)
    time.sleep(4)  # past start-up, inside fitting
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.readlink(mine.cache / "current") == before
    assert _estimate(mine)["source"] == "cache"


def test_estimates_during_a_train_read_one_whole_generation(trained: Trained, tmp_path) -> None:
    mine = copy_trained(trained, tmp_path)
    proc = _train(mine)
    answers = []
    while proc.poll() is None:
        answers.append(_estimate(mine))
    assert proc.returncode == 0
    answers.append(_estimate(mine))
    assert len(answers) >= 3
    assert {a["source"] for a in answers} == {"cache"}
    assert all(len(a["plugins"]) == 4 for a in answers)
