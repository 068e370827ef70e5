"""`update-estimate track`: JSON lines in, one answer line per event out, through Typer's
runner and as a real process; and the event protocol itself."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import BIN, Trained
from update_estimate.events import (
    END_STATUSES,
    KINDS,
    PHASES,
    Event,
    EventError,
    from_json,
    to_json,
)

EXAMPLE = Path(__file__).parent.parent / "examples" / "run-events.jsonl"
SCHEMA = json.loads(resources.files("update_estimate").joinpath("schemas/track.json").read_text())
T0 = datetime(2026, 11, 21, 9, 0)


def line(kind: str, seconds: float, **fields: object) -> str:
    when = (T0 + timedelta(seconds=seconds)).isoformat()
    return json.dumps({"event": kind, "time": when, **fields})


RUN = [
    line("run_start", 0, plugins=["apt", "pip"]),
    line("plugin_start", 0, plugin="apt"),
    line("phase_start", 0, plugin="apt", phase="CHECK"),
    line("report", 9, plugin="apt", package_count=4, download_bytes=8e6),
    line("phase_start", 9, plugin="apt", phase="DOWNLOAD"),
    line("download", 10, plugin="apt", bytes=4e6),
    line("tick", 11),
    line("plugin_end", 30, plugin="apt", status="success"),
    line("plugin_start", 31, plugin="pip"),
    line("plugin_end", 50, plugin="pip", status="failed"),
    line("run_end", 51),
]


def track(runner, trained: Trained, text: str, *extra: str):
    from update_estimate.face.cli import app

    args = ["track", "--db", str(trained.db), "--cache-dir", str(trained.cache), *extra]
    return runner.invoke(app, args, input=text, catch_exceptions=False)


def test_one_valid_answer_per_event(runner, trained: Trained) -> None:
    result = track(runner, trained, "\n".join(RUN) + "\n")
    assert result.exit_code == 0, result.stderr
    answers = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(answers) == len(RUN)
    for answer in answers:
        jsonschema.validate(answer, SCHEMA)
    assert [a["event"] for a in answers] == [json.loads(x)["event"] for x in RUN]
    assert [a["line"] for a in answers] == list(range(1, len(RUN) + 1))
    during = answers[5]
    assert during["plugins"][0] | {"remaining": None} == {
        "plugin": "apt",
        "state": "running",
        "phase": "DOWNLOAD",
        "elapsed_seconds": 10.0,
        "remaining": None,
    }
    assert during["remaining"]["point"] >= during["plugins"][1]["remaining"]["point"] > 0
    assert [p["state"] for p in answers[-2]["plugins"]] == ["success", "failed"]
    assert answers[-1]["ended"] and answers[-1]["remaining"]["point"] == 0


def test_malformed_lines_are_reported_and_the_run_goes_on(runner, trained: Trained) -> None:
    broken = [
        RUN[0],
        "{not json",
        '["a list"]',
        '{"event": "plugin_start"}',
        '{"event": "phase_start", "plugin": "apt", "phase": "BUILD"}',
        '{"event": "download", "plugin": "apt", "bytes": -1}',
        '{"event": "tick", "time": "yesterday"}',
        '{"event": "lunch"}',
        "",
        RUN[1],
    ]
    result = track(runner, trained, "\n".join(broken) + "\n")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2
    errors = result.stderr.splitlines()
    assert [e.split(":")[2].strip() for e in errors] == [f"line {n}" for n in range(2, 9)]
    assert "not JSON" in errors[0] and "BUILD" in errors[3] and "lunch" in errors[6]
    assert "Traceback" not in result.stderr


def test_events_out_of_order_and_unknown_plugins_are_answered(runner, trained: Trained) -> None:
    odd = [
        line("plugin_start", 10, plugin="apt"),
        line("tick", 5),
        line("plugin_start", 20, plugin="nosuchplugin"),
        line("plugin_end", 30, plugin="pip", status="skipped"),
    ]
    result = track(runner, trained, "\n".join(odd) + "\n", "--plugins", "apt", "pip")
    assert result.exit_code == 0
    answers = [json.loads(x) for x in result.stdout.splitlines()]
    kinds = [{f["kind"] for f in a["flags"]} for a in answers]
    assert "out-of-order" in kinds[1] and answers[1]["time"] == answers[0]["time"]
    assert {"unplanned", "out-of-order", "no-history"} <= kinds[2]
    # pip ended, so it ran: the plugin running before it had ended (one runs at a time)
    assert [p["state"] for p in answers[3]["plugins"]] == ["ended", "skipped", "ended"]


def test_human_status_lines(runner, trained: Trained) -> None:
    result = track(runner, trained, "\n".join(RUN) + "\n", "--human")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and len(lines) == len(RUN)
    parts = lines[5].split(" | ")
    assert parts[0] == "apt DOWNLOAD 10 s" and parts[3] == "0/2 done"
    assert " left (" in parts[1] and parts[2].startswith("ends 09:")
    assert parts[4].endswith("to download")
    assert lines[-1].startswith("run ended after")


def test_the_status_line_fits_its_width_with_whole_parts() -> None:
    from update_estimate.face.render import progress_line

    result_lines = []
    for width in (40, 60, 80, None):
        text = progress_line(_a_progress(), width)
        assert width is None or len(text) <= width or " | " not in text
        result_lines.append(text)
    full = result_lines[-1].split(" | ")
    assert full[0] == "apt DOWNLOAD 42 s OVERDUE" and full[1] == "3.1 m left (2.5-4.9 m)"
    for text in result_lines[:-1]:
        assert full[: len(text.split(" | "))] == text.split(" | ")


def test_a_remaining_time_without_width_is_said_once() -> None:
    """After the last plugin, only the run's own last second remains: it read `1.0 s left
    (1.0 s)`."""
    from update_estimate.face.render import progress_line
    from update_estimate.serving.predictive import MetricEstimate

    last = MetricEstimate(1.0, 1.0, 1.0, 40, "joint", "model")
    progress = dataclasses.replace(_a_progress(), remaining=last, flags=[])
    assert progress_line(progress).split(" | ")[1] == "1.0 s left"


def _a_progress():
    from update_estimate.serving.estimate import Finish
    from update_estimate.serving.predictive import MetricEstimate
    from update_estimate.serving.tracker import Flag, PluginProgress, Progress

    left = MetricEstimate(186.0, 150.0, 294.0, 40, "joint", "model")
    row = PluginProgress("apt", "running", "DOWNLOAD", 42.0, left)
    later = PluginProgress("snap", "pending", None, 0.0, left)
    flag = Flag("overdue", "apt", "DOWNLOAD", "apt is overdue")
    end = Finish(
        T0 + timedelta(seconds=186), T0 + timedelta(seconds=150), T0 + timedelta(seconds=294)
    )
    dl = MetricEstimate(1.2e8, 1e8, 2e8, 40, "joint", "model")
    return Progress(T0, 42.0, left, end, dl, [row, later], [flag], 0.9, "h")


def test_a_closed_stdin_ends_the_process_cleanly(trained: Trained) -> None:
    """A real process, fed the recorded example a few lines at a time, then cut off."""
    process = subprocess.Popen(
        [BIN, "track", "--db", trained.db, "--cache-dir", trained.cache],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    sent = EXAMPLE.read_text().splitlines()[:7]
    for event in sent:
        process.stdin.write(event + "\n")
        process.stdin.flush()
        json.loads(process.stdout.readline())  # answered before the next event is sent
    process.stdin.close()
    rest = process.stdout.read()
    assert process.stderr is not None
    errors = process.stderr.read()
    assert process.wait(timeout=60) == 0, errors
    assert rest == "" and "Traceback" not in errors


def test_the_recorded_example_pipes_through(trained: Trained) -> None:
    result = subprocess.run(
        [BIN, "track", "--db", trained.db, "--cache-dir", trained.cache],
        input=EXAMPLE.read_text(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answers = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(answers) == len(EXAMPLE.read_text().splitlines())
    assert answers[-1]["ended"]


def test_the_track_command_loads_no_heavy_library(trained: Trained) -> None:
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "update_estimate.face.cli",
            "track",
            "--db",
            str(trained.db),
            "--cache-dir",
            str(trained.cache),
        ],
        input="\n".join(RUN) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    loaded = {row.split("|")[-1].strip().split(".")[0] for row in result.stderr.splitlines()}
    assert "json" in loaded  # the scan reads the import log
    assert not loaded & {"pandas", "numpy", "darts", "sklearn", "duckdb"}


moments = st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)
names = st.text("abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12)
sizes = st.integers(0, 10**12).map(float)


@st.composite
def events(draw: st.DrawFn) -> Event:
    kind = draw(st.sampled_from(KINDS))
    plugin = draw(names) if kind not in ("run_start", "tick", "run_end") else None
    report = {}
    if kind == "report":
        counts = st.integers(0, 10**6).map(float)
        report = draw(
            st.fixed_dictionaries(
                {}, optional={"package_count": counts, "download_bytes": sizes}
            ).filter(bool)
        )
    return Event(
        kind,
        draw(st.none() | moments),
        plugin,
        phase=draw(st.sampled_from(PHASES)) if kind == "phase_start" else None,
        status=draw(st.sampled_from(END_STATUSES)) if kind == "plugin_end" else None,
        report=report,
        downloaded=draw(sizes) if kind == "download" else None,
        plugins=tuple(draw(st.lists(names, max_size=5))) if kind == "run_start" else None,
    )


@given(events())
def test_an_event_survives_its_json_line(event: Event) -> None:
    assert from_json(to_json(event)) == event


@pytest.mark.parametrize(
    "text",
    [
        '{"event": "report", "plugin": "apt"}',
        '{"event": "plugin_end", "plugin": "apt", "status": "done"}',
        '{"event": "download", "plugin": "apt", "bytes": true}',
        '{"event": "download", "plugin": "apt", "bytes": "12"}',
        '{"event": "run_start", "plugins": "apt"}',
        '{"event": "plugin_start", "plugin": 7}',
        '{"event": "report", "plugin": "apt", "package_count": 1e300}',
        "null",
    ],
)
def test_bad_events_say_what_is_wrong(text: str) -> None:
    with pytest.raises(EventError) as caught:
        from_json(text)
    assert str(caught.value)


def test_a_finish_is_on_its_nearest_minute_within_the_minutes_that_hold_it() -> None:
    """A run of 33-50 s from 19:00 read `ends 19:00 (19:00-19:00)`; within one minute the
    clock shows the end alone, on its nearest minute, and a wider interval keeps both bounds,
    on the minutes that hold them. A run of 5.0 minutes from 21:00 read `ends 21:04`, its
    seconds cut."""
    from types import SimpleNamespace

    from update_estimate.face.render import finish_sentence
    from update_estimate.serving.estimate import Finish

    start = datetime(2026, 11, 20, 19, 0)
    short = Finish(
        start + timedelta(seconds=42), start + timedelta(seconds=33), start + timedelta(seconds=50)
    )
    wide = Finish(
        start + timedelta(minutes=3), start + timedelta(minutes=1), start + timedelta(minutes=9)
    )
    assert finish_sentence(SimpleNamespace(finish=short)).endswith("19:01")
    assert "(" not in finish_sentence(SimpleNamespace(finish=short))
    assert finish_sentence(SimpleNamespace(finish=wide)).endswith("19:03 (19:01-19:09)")
    late = datetime(2026, 11, 20, 21, 0)
    five = Finish(
        late + timedelta(seconds=299), late + timedelta(seconds=264), late + timedelta(seconds=360)
    )
    assert finish_sentence(SimpleNamespace(finish=five)).endswith("21:05 (21:04-21:06)")


def test_a_finish_days_away_names_each_bounds_day() -> None:
    """The upper bound's day is shown where it is not the lower's: beside a point on Tuesday,
    `(Mon 12:04-22:05)` read as one Monday. Half a year away or more, the year too. Asked on
    the Monday: on the point's own day its day is left out (the clock's day, once, failed
    this)."""
    from types import SimpleNamespace

    from update_estimate.face.render import finish_sentence, human_seconds
    from update_estimate.serving.estimate import Finish

    monday = datetime(2026, 12, 7, 12, 4)
    hours = Finish(monday + timedelta(hours=16.7), monday, monday + timedelta(hours=34, minutes=1))
    said = finish_sentence(SimpleNamespace(finish=hours), now=monday)
    assert said.endswith("Tue 04:46 (Mon 12:04-Tue 22:05)"), said
    tuesday = finish_sentence(SimpleNamespace(finish=hours), now=monday + timedelta(hours=14))
    assert tuesday == "ends 04:46 (Mon 12:04-Tue 22:05)", tuesday
    years = Finish(monday + timedelta(days=3650), monday, monday + timedelta(days=3650))
    assert "Thu 4 Dec 2036 12:04" in finish_sentence(SimpleNamespace(finish=years), now=monday)
    assert (human_seconds(47 * 3600), human_seconds(60 * 3600)) == ("47.0 h", "2.5 d")
