"""SIGTERM and Ctrl-C stop `train` and `backtest` with their worker processes: nothing outlives
them, and the exit codes are the documented 143 and 130."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN
from update_estimate.errors import ExitCode
from update_estimate.history import simulate


def session_members(sid: int) -> list[int]:
    """Every live process of the session `sid` (its leader included), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _as_from_a_terminal() -> None:
    """Ctrl-C's default action, as a terminal's foreground command has it. A test run started
    in the background by a non-interactive shell (CI) ignores SIGINT, and a command that
    inherits that never sees one."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def in_own_session(args: list[str]) -> Iterator[subprocess.Popen[str]]:
    """`args` run as a terminal's foreground command would, in a session of its own; whatever
    of the session is left at the end is killed."""
    proc = subprocess.Popen(
        args,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_from_a_terminal,
    )
    try:
        yield proc
    finally:
        for pid in session_members(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.kill()


@pytest.fixture(scope="module")
def long_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signals") / "history.duckdb"
    simulate.write(simulate.generate(runs=150, seed=5), path)
    return path


@pytest.mark.parametrize(
    ("command", "signum", "code"),
    [
        ("train", signal.SIGTERM, ExitCode.TERMINATED),
        ("backtest", signal.SIGTERM, ExitCode.TERMINATED),
        ("backtest", signal.SIGINT, ExitCode.INTERRUPTED),
    ],
)
def test_a_signal_leaves_no_process_behind(
    long_history: Path, tmp_path: Path, command: str, signum: int, code: int
) -> None:
    args = [str(BIN), command, "--db", str(long_history), "--n-jobs", "2"]
    args += ["--cache-dir", str(tmp_path / "cache")] if command == "train" else ["--last", "30"]
    with in_own_session(args) as proc:
        # the workers are up once the session holds more than the command itself
        assert wait_for(lambda: len(session_members(proc.pid)) >= 3, 120), "no workers started"
        os.kill(proc.pid, signum)
        proc.wait(timeout=30)
        assert proc.stderr is not None
        said = proc.stderr.read()
        assert proc.returncode == code, said
        assert "Traceback" not in said
        assert wait_for(lambda: not session_members(proc.pid), 2.0), session_members(proc.pid)


@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [
        (signal.SIGTERM, ExitCode.TERMINATED, "terminated"),
        (None, ExitCode.INTERRUPTED, "interrupted"),
    ],
)
def test_an_error_a_library_raises_on_a_signal_exits_as_the_signal(
    signum: int | None, code: int, word: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker pool that meets the interrupt may raise an error of its own instead: the exit
    is still the signal's, not an internal error's."""
    import typer

    from update_estimate.face.cli import handles_errors

    @handles_errors
    def work() -> None:
        try:
            if signum is None:
                raise KeyboardInterrupt
            os.kill(os.getpid(), signum)
            time.sleep(5)
        except KeyboardInterrupt:
            raise RuntimeError("the pool broke") from None

    with pytest.raises(typer.Exit) as stopped:
        work()
    assert stopped.value.exit_code == code
    assert capsys.readouterr().err.strip() == f"update-estimate: error: {word}"


STARTS_INTERRUPTED = """
import sys
from joblib.externals.loky import process_executor
from update_estimate.face.cli import main


def interrupted(self):
    raise KeyboardInterrupt


process_executor._ExecutorManagerThread.start = interrupted
sys.argv = ["update-estimate", *sys.argv[1:]]
main()
"""


def test_ctrl_c_while_the_worker_pool_starts_exits_130_and_leaves_no_process(
    long_history: Path,
) -> None:
    """Ctrl-C after the workers are spawned and before the pool's manager thread runs leaves
    a pool that cannot shut down (joblib raises on joining the thread): the exit is still the
    signal's, and no worker outlives the command."""
    args = [sys.executable, "-c", STARTS_INTERRUPTED, "backtest", "--db", str(long_history)]
    with in_own_session([*args, "--n-jobs", "2", "--last", "30"]) as proc:
        _, said = proc.communicate(timeout=120)
        assert proc.returncode == ExitCode.INTERRUPTED, said
        assert said.strip().endswith("update-estimate: error: interrupted"), said
        assert "Traceback" not in said
        assert wait_for(lambda: not session_members(proc.pid), 2.0), session_members(proc.pid)
