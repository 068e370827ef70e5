"""What a person sees: `estimate` in a real terminal (tmux), 80x24 and 120x40.

At 80 columns every plugin of an eight-plugin run takes two unbroken lines (estimate, then
interval) and the title is still on a 24-line screen; at 120 the model joins each plugin.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import BIN, invoke
from update_estimate.history import simulate

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (make test)")

PLUGINS = simulate.DEFAULT_PLUGINS  # eight, conda-packages the longest name


@pytest.fixture(scope="module")
def eight(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("screen")
    db, cache = folder / "history.duckdb", folder / "cache"
    simulate.write(simulate.generate(plugins=PLUGINS, runs=30, seed=2), db)
    trained = invoke(CliRunner(), "train", "--db", db, "--cache-dir", cache, "--no-phases")
    assert trained.exit_code == 0, trained.output
    return db, cache


def screen(width: int, height: int, command: str) -> list[str]:
    """Run `command` in a fresh tmux terminal of that size; the screen's lines once it ends."""
    socket = f"ue-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    script = f"clear; env -u COLUMNS -u LINES {command}; echo __END__; sleep 60"
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(width), "-y", str(height), "sh", "-c", script],
        check=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = subprocess.run(
                [*tmux, "capture-pane", "-p"], capture_output=True, text=True, check=True
            ).stdout.splitlines()
            if any("__END__" in line for line in lines):
                return lines
            time.sleep(0.2)
        raise AssertionError("the command did not finish in the terminal")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def estimate_command(eight: tuple[Path, Path]) -> str:
    db, cache = eight
    return f"{BIN} estimate --db {db} --cache-dir {cache}"


def test_a_narrow_table_keeps_its_legend_on_one_line(eight: tuple[Path, Path]) -> None:
    """Two plugins make a table narrower than the screen; the legend under it is wrapped at
    the screen's width, so no marker is split from its meaning."""
    lines = screen(80, 24, estimate_command(eight) + " --plugins apt pip")
    legend = [line for line in lines if line.startswith("Under each:")]
    assert len(legend) == 1 and legend[0].rstrip().endswith("? no history"), "\n".join(lines)


def test_eighty_columns_show_every_plugin_unbroken(eight: tuple[Path, Path]) -> None:
    lines = screen(80, 24, estimate_command(eight))
    text = "\n".join(lines)
    assert lines[0].startswith("Next run on"), text  # the title has not scrolled off
    assert "interval; * report used" in text
    for plugin in PLUGINS:
        row = [i for i, line in enumerate(lines) if line.split(" ")[0] == plugin]
        assert len(row) == 1, (plugin, text)
        values, interval = lines[row[0]].split()[1:], lines[row[0] + 1].split()
        assert len(values) == 8, (plugin, text)  # four values, each a number and a unit
        assert len(interval) >= 4, (plugin, text)  # four intervals: 0 B for exactly nothing
    assert "…" not in text


MODELS = {
    "naive_last", "rolling_median", "auto_ets", "auto_theta", "auto_arima", "linear",
    "linear_calendar", "gap_neighbours", "lightgbm", "global_lightgbm", "global_linear",
    "prophet", "nlinear", "additive", "additive_recent", "additive_since",
}  # fmt: skip


def test_a_wide_terminal_shows_the_models_unbroken(eight: tuple[Path, Path]) -> None:
    lines = screen(120, 40, estimate_command(eight))
    text = "\n".join(lines)
    for plugin in PLUGINS:
        row = [line for line in lines if line.split(" ")[0] == plugin]
        assert len(row) == 1 and row[0].split()[-1] != "…", (plugin, text)
        assert row[0].split()[-1] in MODELS, (plugin, text)  # the model, in full
    assert "joint draws" in text
    assert "…" not in text


def test_validate_shows_counts_dates_and_verdicts_at_eighty_columns(
    eight: tuple[Path, Path],
) -> None:
    db, _ = eight
    lines = screen(80, 50, f"{BIN} validate --db {db}")
    text = "\n".join(lines)
    assert "…" not in text, text
    header = next(line for line in lines if line.startswith("plugin"))
    assert header.split() == [
        "plugin",
        "metric",
        "n",
        "ok/fl/sk/to",
        "outl",
        "/wk",
        "last",
        "verdict",
    ]
    for plugin in PLUGINS:
        row = next(line for line in lines if line.split(" ")[0] == plugin).split()
        assert row[-1] in {"usable", "limited", "unusable"} and row[-2].startswith("20"), row


def test_a_run_ending_after_midnight_keeps_the_title_on_one_line() -> None:
    """Started at 23:37 and ending between 23:58 and 00:31: the title names tomorrow by its
    weekday and still fits 80 columns, so the screen test's first line stays the title whatever
    the hour CI runs at; ten days away, the date is given."""
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from update_estimate.face import render
    from update_estimate.serving.estimate import finish

    now = datetime.now()
    start = now.replace(hour=23, minute=37, second=0, microsecond=0)
    wall = SimpleNamespace(point=21.3 * 60, lower=21 * 60, upper=54 * 60)
    result = SimpleNamespace(
        host="workstation",
        remaining=None,
        total={"wall_clock_seconds": wall},
        finish=finish(start, wall),
        jobs=1,
    )
    title = render.estimate_title(result)
    tomorrow = (start + timedelta(days=1)).strftime("%a")
    assert f"-{tomorrow} 00:31)" in title and len(title) <= 80, title
    away = now.replace(hour=12) + timedelta(days=10)
    later = SimpleNamespace(**{**vars(result), "finish": finish(away, wall)})
    assert f" {away.day} {away:%b} " in render.estimate_title(later)
    side_by_side = SimpleNamespace(**{**vars(result), "jobs": 4})
    title = render.estimate_title(side_by_side)
    assert ", 4 at once, " in title and len(title) <= 80, title


def test_one_run_is_counted_as_one(runner, tmp_path: Path) -> None:
    """A new user's first run: the model column read `(limited, 1 runs)`."""
    from update_estimate.face.render import counted

    assert (counted(1, "run"), counted(2, "run"), counted(0, "host")) == (
        "1 run",
        "2 runs",
        "0 hosts",
    )
    db = tmp_path / "one.duckdb"
    assert invoke(runner, "simulate", "--db", db, "--runs", "1", "--plugins", "apt").exit_code == 0
    result = invoke(runner, "estimate", "--db", db, "--cache-dir", tmp_path / "none")
    assert "1 run)" in result.stdout and "1 runs" not in result.stdout


def test_a_pipe_gets_no_trailing_blanks(eight: tuple[Path, Path]) -> None:
    """Padded to the table's width, each line of `validate | tail` wrapped into an empty line
    in an 80-column terminal."""
    db, cache = eight
    for args in (["validate", "--db", db], ["estimate", "--db", db, "--cache-dir", cache]):
        out = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, check=False)
        lines = out.stdout.splitlines()
        assert len(lines) > 5 and not [line for line in lines if line != line.rstrip()], args
