"""Every answer consistent with itself at the edges a user meets first.

Property tests over random plugin subsets, start times from before the history to a year after
it, reports or none, and every source (trained cache, history, defaults): a total is at least
each of its plugins, quantile by quantile; one plugin's total is that plugin; bounds are ordered
and an interval is never a point unless the outcome is exactly nothing; what remains of a run
is at least each plugin still to start. Then the cases reproduced from a new user's first
session, one test each.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Trained, copy_trained, estimate_importtime, invoke
from update_estimate import api
from update_estimate.errors import ExitCode, UsageError
from update_estimate.history import simulate
from update_estimate.requests import EstimateRequest
from update_estimate.serving.estimate import EstimateResult, estimate
from update_estimate.serving.predictive import MetricEstimate

PLUGINS = ("apt", "cargo", "flatpak", "pip", "snap")  # snap: never in the trained history
TOL = 1e-6


def last_run(trained: Trained) -> datetime:
    from update_estimate.serving import cache

    generation = cache.current(trained.cache)
    assert generation is not None
    series = generation.records().series.values()
    return max(datetime.fromisoformat(r.last_success) for r in series if r.last_success)


def assert_ordered(m: MetricEstimate, metric: str) -> None:
    assert 0 <= m.lower <= m.point <= m.upper, (metric, m)
    if m.lower == m.upper:  # a point, not an interval: only "exactly nothing" may be one
        assert metric == "download_bytes" and m.upper == 0, (metric, m)


def assert_at_least(whole: MetricEstimate, part: MetricEstimate) -> None:
    slack = TOL * max(part.upper, 1.0)
    assert whole.lower >= part.lower - slack, (whole, part)
    assert whole.point >= part.point - slack, (whole, part)
    assert whole.upper >= part.upper - slack, (whole, part)


def assert_consistent(result: EstimateResult) -> None:
    pending = [p for p in result.plugins if p.state != "done"]
    for metric, whole in result.total.items():
        assert_ordered(whole, metric)
        for p in result.plugins:
            assert_ordered(p.metrics[metric], metric)
        for p in pending:
            assert_at_least(whole, p.metrics[metric])
        if len(pending) == 1:
            row = pending[0].metrics[metric]
            assert (whole.point, whole.lower, whole.upper) == (row.point, row.lower, row.upper)
    if result.remaining is not None:
        left = result.remaining.wall_clock_seconds
        assert_ordered(left, "wall_clock_seconds")
        for p in pending:
            if p.state == "pending":
                assert_at_least(left, p.metrics["wall_clock_seconds"])
        own = result.remaining.running_wall_clock_seconds
        assert (own is None) == (result.remaining.running is None)
        if own is not None:
            assert_ordered(own, "wall_clock_seconds")
            assert_at_least(left, own)
    f = result.finish
    assert f is not None and f.lower <= f.point <= f.upper


sizes = st.sampled_from((0.0, 1.0, 12.0, 3e3, 2e9, 5e10))
reports = st.dictionaries(
    st.sampled_from(PLUGINS),
    st.fixed_dictionaries(
        {},
        optional={
            "package_count": st.sampled_from((0.0, 1.0, 12.0, 3e3, 1e6)),  # at most one run's
            "download_bytes": sizes,
            "packages": sizes,
        },
    ),
    max_size=3,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[EstimateRequest, float]:
    plugins = draw(st.lists(st.sampled_from(PLUGINS), min_size=1, max_size=5, unique=True))
    hours = draw(st.floats(min_value=-2000, max_value=24 * 365, allow_nan=False))
    done: list[str] = []
    running = None
    elapsed = 0.0
    if draw(st.booleans()):
        cut = draw(st.integers(min_value=0, max_value=len(plugins) - 1))
        done = plugins[:cut]
        running = plugins[cut] if draw(st.booleans()) else None
        elapsed = draw(st.floats(min_value=0, max_value=5000)) if running else 0.0
    request = EstimateRequest(
        plugins=plugins,
        level=draw(st.sampled_from((0.5, 0.8, 0.9, 0.95))),
        covariates=draw(reports),
        done=done,
        running=running,
        elapsed=elapsed,
        parallel=draw(st.booleans()),
    )
    return request, hours


SOURCES = ("cache", "history", "default")


@pytest.mark.parametrize("source", SOURCES)
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=requests())
def test_every_answer_is_consistent(
    trained: Trained, tmp_path_factory: pytest.TempPathFactory, source: str, case
) -> None:
    request, hours = case
    at = last_run(trained) + timedelta(hours=hours)
    db = trained.db if source != "default" else Path("/nonexistent/history.duckdb")
    cache_dir = trained.cache if source == "cache" else Path("/nonexistent/cache")
    result = api.estimate(replace(request, at=at), db=db, cache_dir=cache_dir, host="workstation")
    # the history holds no run of snap: asked for nothing else, it answers with defaults
    assert result.source == source or set(request.plugins) == {"snap"}
    assert_consistent(result)


def run_json(runner, trained: Trained, *args: object) -> dict:
    result = invoke(
        runner, "estimate", "--db", trained.db, "--cache-dir", trained.cache, "--json", *args
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def metric(doc: dict, plugin: str, name: str = "wall_clock_seconds") -> dict:
    return next(p for p in doc["plugins"] if p["plugin"] == plugin)["metrics"][name]


def test_the_total_of_one_plugin_is_that_plugin(runner, trained: Trained) -> None:
    doc = run_json(runner, trained, "-p", "apt")
    for name, total in doc["total"]["metrics"].items():
        row = metric(doc, "apt", name)
        assert [total[k] for k in ("point", "lower", "upper")] == [
            row[k] for k in ("point", "lower", "upper")
        ]


def test_first_install_total_is_its_only_plugin(runner, tmp_path: Path) -> None:
    result = invoke(
        runner, "estimate", "--db", tmp_path / "none.duckdb", "--cache-dir", tmp_path, "--json",
        "-p", "apt",
    )  # fmt: skip
    doc = json.loads(result.stdout)
    assert doc["source"] == "default"
    for name, total in doc["total"]["metrics"].items():
        assert total["point"] == metric(doc, "apt", name)["point"]


def test_memory_total_is_never_below_a_plugin(runner, trained: Trained, tmp_path: Path) -> None:
    """A cache trained for apt only: every other plugin answers with defaults."""
    only_apt = tmp_path / "cache"
    trained_apt = invoke(
        runner, "train", "--db", trained.db, "--cache-dir", only_apt, "-p", "apt", "--no-phases"
    )
    assert trained_apt.exit_code == 0
    where = Trained(trained.db, only_apt)
    doc = run_json(runner, where, "-p", "apt", "cargo", "pip")
    total = doc["total"]["metrics"]["memory_peak_bytes"]
    for plugin in ("apt", "cargo", "pip"):
        row = metric(doc, plugin, "memory_peak_bytes")
        assert total["lower"] >= row["lower"] and total["upper"] >= row["upper"]
    assert any("cargo is in the history but not in the trained cache" in w for w in doc["warnings"])


def test_a_year_away_widens_and_never_loads_a_model(trained: Trained) -> None:
    at = (last_run(trained) + timedelta(days=365)).isoformat()
    near = (last_run(trained) + timedelta(minutes=5)).isoformat()
    for when in (at, near):
        result = estimate_importtime(trained, "-p", "apt", "pip", "--at", when)
        assert result.returncode == 0, result.stderr
        imported = {
            line.split("|")[-1].strip().split(".")[0]
            for line in result.stderr.splitlines()
            if line.startswith("import time:")
        }
        assert not imported & {"darts", "numpy", "pandas", "joblib"}, when
        doc = json.loads(result.stdout)
        assert not doc["warnings"], doc["warnings"]
        for name in ("wall_clock_seconds", "cpu_seconds"):
            m = metric(doc, "apt", name)
            assert m["lower"] < m["point"] < m["upper"]


def test_extrapolation_widens_with_distance(trained: Trained) -> None:
    from update_estimate.serving import cache

    generation = cache.current(trained.cache)
    assert generation is not None
    records = generation.records().series
    start = last_run(trained)
    widths = []
    for days in (30, 90, 365):
        request = EstimateRequest(plugins=["apt"], at=start + timedelta(days=days))
        row = estimate(records, "workstation", request, "cache").plugins[0]
        wall = row.metrics["wall_clock_seconds"]
        widths.append(wall.upper / wall.lower)
        assert wall.lower < wall.point < wall.upper
    assert widths[0] < widths[1] < widths[2]


def test_a_large_report_is_an_interval(runner, trained: Trained, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text('{"apt": {"package_count": 4000, "download_bytes": 2e9}}')
    doc = run_json(runner, trained, "-p", "apt", "--covariates", report)
    for name in ("wall_clock_seconds", "download_bytes"):
        m = metric(doc, "apt", name)
        assert m["lower"] < m["point"] < m["upper"], name


def test_a_partial_report_is_used_for_what_it_gives(runner, trained: Trained, tmp_path) -> None:
    """The man page's own example."""
    report = tmp_path / "r.json"
    report.write_text('{"apt": {"package_count": 12}}')
    doc = run_json(runner, trained, "-p", "apt", "--covariates", report)
    assert doc["plugins"][0]["used_covariates"] is True
    assert any("completed download_bytes" in w for w in doc["warnings"]), doc["warnings"]
    plain = run_json(runner, trained, "-p", "apt")
    assert metric(doc, "apt")["point"] != metric(plain, "apt")["point"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"apt": {"packages": 12, "download": 5}}', "ignored packages, download"),
        ('{"cargo": {"package_count": 3}}', "cargo has not reported its work in enough runs"),
    ],
)
def test_unused_reports_are_named(runner, trained: Trained, tmp_path, text, expected) -> None:
    report = tmp_path / "r.json"
    report.write_text(text)
    doc = run_json(runner, trained, "-p", "apt", "cargo", "--covariates", report)
    assert any(expected in w for w in doc["warnings"]), doc["warnings"]
    assert any("its model takes" in w or "not reported" in w for w in doc["warnings"])


def test_remaining_is_at_least_each_plugin_still_to_start(runner, trained: Trained) -> None:
    doc = run_json(
        runner, trained, "-p", "apt", "pip", "flatpak", "--done", "apt", "--running", "pip",
        "--elapsed", "120",
    )  # fmt: skip
    left = doc["remaining"]["wall_clock_seconds"]
    flatpak = metric(doc, "flatpak")
    assert left["lower"] >= flatpak["lower"] and left["point"] >= flatpak["point"]
    states = {p["plugin"]: p["state"] for p in doc["plugins"]}
    assert states == {"apt": "done", "pip": "running", "flatpak": "pending"}


def test_a_run_in_progress_says_remaining(runner, trained: Trained) -> None:
    args = ["-p", "apt", "pip", "--done", "apt", "--running", "pip", "--elapsed", "5"]
    result = invoke(
        runner, "estimate", "--db", trained.db, "--cache-dir", trained.cache, *args
    )  # fmt: skip
    assert result.exit_code == 0
    assert "Remaining on" in result.stdout and "done" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--elapsed", "30"],
        ["--done", "apt", "--running", "apt"],
        ["--running", "snap"],
    ],
)
def test_contradicting_run_options_are_usage_errors(runner, trained: Trained, args) -> None:
    result = invoke(
        runner, "estimate", "--db", trained.db, "--cache-dir", trained.cache, "-p", "apt", "pip",
        *args,
    )  # fmt: skip
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "Traceback" not in result.output


def test_check_names_the_contradiction() -> None:
    with pytest.raises(UsageError, match="both --done and --running"):
        EstimateRequest(plugins=["apt"], done=["apt"], running="apt")


def test_a_running_plugin_shows_what_remains_of_it(runner, trained: Trained) -> None:
    """Its row showed its whole run's estimate (15 s, up to 2.9 m) beside 'running 50.0 m'
    and a remaining time of 15.6 m: now what remains of it, which the whole never falls
    below."""
    args = ["-p", "cargo", "apt", "--running", "cargo", "--elapsed", "3000"]
    doc = run_json(runner, trained, *args)
    own, left = (
        doc["remaining"]["running_wall_clock_seconds"],
        doc["remaining"]["wall_clock_seconds"],
    )
    assert doc["remaining"]["overdue"] and own["point"] > 0
    assert left["point"] >= own["point"] and left["upper"] >= own["upper"]
    table = invoke(
        runner, "estimate", "--db", trained.db, "--cache-dir", trained.cache, *args
    )  # fmt: skip
    row = next(line for line in table.stdout.splitlines() if line.startswith("cargo"))
    assert "left" in row and "running 50.0 m" in row


def test_an_overdue_plugin_is_flagged(runner, trained: Trained) -> None:
    doc = run_json(runner, trained, "-p", "apt", "pip", "--running", "apt", "--elapsed", "20000")
    assert doc["remaining"]["overdue"] is True
    assert doc["remaining"]["wall_clock_seconds"]["point"] > 0
    assert any("apt has run 20000 s" in w for w in doc["warnings"])


def test_every_estimate_states_its_finish_time(runner, trained: Trained) -> None:
    at = datetime(2027, 3, 1, 9, 30)
    doc = run_json(runner, trained, "-p", "apt", "pip", "--at", at.isoformat())
    wall = doc["total"]["metrics"]["wall_clock_seconds"]
    finish = {k: datetime.fromisoformat(v) for k, v in doc["finish"].items()}
    assert all(v.tzinfo is not None for v in finish.values())
    start = at.astimezone()
    assert abs((finish["point"] - start).total_seconds() - wall["point"]) < 1
    assert abs((finish["upper"] - start).total_seconds() - wall["upper"]) < 1
    table = invoke(
        runner, "estimate", "--db", trained.db, "--cache-dir", trained.cache, "-p", "apt",
        "--at", at.isoformat(),
    )  # fmt: skip
    assert ", ends " in table.stdout


def test_a_typo_gets_a_suggestion(runner, trained: Trained) -> None:
    doc = run_json(runner, trained, "-p", "atp")
    assert any("no history for atp (did you mean apt?)" in w for w in doc["warnings"])


def test_odd_times_and_files_are_warned_about(runner, trained: Trained, tmp_path) -> None:
    before = (last_run(trained) - timedelta(days=3)).isoformat()
    doc = run_json(runner, trained, "-p", "apt", "--at", before)
    assert any("before the history's last run" in w for w in doc["warnings"])
    where = copy_trained(trained, tmp_path)
    where.db.unlink()
    doc = run_json(runner, where, "-p", "apt")
    assert doc["source"] == "cache"
    assert any("no history at" in w for w in doc["warnings"])


def test_warnings_are_plain_sentences_on_stderr(runner, trained: Trained) -> None:
    result = invoke(
        runner, "estimate", "--db", trained.db, "--cache-dir", trained.cache, "-p", "atp"
    )  # fmt: skip
    assert "update-estimate: warning: no history for atp (did you mean apt?)" in result.stderr


@settings(max_examples=60, deadline=None, derandomize=True)
@given(hours=st.floats(min_value=0, max_value=24 * 365))
def test_no_gap_up_to_a_year_asks_a_stored_model(trained: Trained, hours: float) -> None:
    """The slow path (pickles, darts) is for reports beyond the grid only."""
    from update_estimate.serving import cache

    generation = cache.current(trained.cache)
    assert generation is not None
    records = generation.records().series

    def refuse(*_: object) -> float:
        raise AssertionError(f"a gap of {hours:.1f} h asked a stored model")

    request = EstimateRequest(
        plugins=["apt", "cargo", "flatpak", "pip"], at=last_run(trained) + timedelta(hours=hours)
    )
    assert_consistent(estimate(records, "workstation", request, "cache", refuse))


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    plugins=st.lists(
        st.sampled_from(simulate.DEFAULT_PLUGINS), min_size=1, max_size=4, unique=True
    ),
    runs=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=10_000),
    scenario=st.sampled_from(simulate.SCENARIOS),
    case=requests(),
)
def test_random_histories_answer_consistently_without_a_cache(
    tmp_path_factory: pytest.TempPathFactory, plugins, runs, seed, scenario, case
) -> None:
    """A new user's first runs, straight from the history: any plugins, any scenario."""
    db = tmp_path_factory.mktemp("random") / "history.duckdb"
    simulate.write(simulate.generate(tuple(plugins), runs, seed, 1, scenario), db)
    request, hours = case
    asked = [*dict.fromkeys([*plugins[:2], *request.plugins])]
    request = replace(request, plugins=asked, at=datetime(2026, 11, 20) + timedelta(hours=hours))
    result = api.estimate(request, db=db, cache_dir=db.parent / "no-cache", host="workstation")
    assert result.source in ("history", "default")
    assert_consistent(result)


def test_a_pipe_gets_one_line_a_plugin_unwrapped(trained: Trained) -> None:
    from tests.conftest import run_bin

    out = run_bin("estimate", "--db", trained.db, "--cache-dir", trained.cache)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for plugin in ("apt", "cargo", "flatpak", "pip"):
        row = [line for line in lines if line.split(" ")[0] == plugin]
        assert len(row) == 1 and row[0].count("-") >= 4 and "runs" in row[0], out.stdout
    assert max(len(line.rstrip()) for line in lines) > 80


@pytest.mark.parametrize("command", ["validate", "train", "backtest"])
def test_help_examples_fit_their_command(runner, command: str) -> None:
    text = invoke(runner, command, "--help").stdout
    assert "jq .total" not in text


def test_a_level_and_a_plugin_are_read_as_asked(runner, trained: Trained) -> None:
    """`--level 0.999` read `its 100% interval`; `--plugins apt apt` summed apt twice."""
    from update_estimate.requests import percent

    assert (percent(0.9), percent(0.999), percent(0.95), percent(0.01)) == (
        "90%",
        "99.9%",
        "95%",
        "1%",
    )
    twice = run_json(runner, trained, "-p", "apt", "apt")
    assert [p["plugin"] for p in twice["plugins"]] == ["apt"]
    total, apt = twice["total"]["metrics"]["wall_clock_seconds"], metric(twice, "apt")
    assert (total["point"], total["upper"]) == (apt["point"], apt["upper"])
    table = invoke(
        runner, "estimate", "--db", trained.db, "--cache-dir", trained.cache, "-p", "apt",
        "--level", "0.999",
    )  # fmt: skip
    assert "99.9% interval" in table.stdout
