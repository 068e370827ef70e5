"""The Python API as update-all calls it: one Estimator for a run, asked before the run, after
the check phase and during it; the same answers as the command; typed errors, never an exit
or a print."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import update_estimate
from tests.conftest import Trained, copy_trained, invoke
from update_estimate import (
    EstimateRequest,
    Estimator,
    HistoryMissing,
    UsageError,
    to_json,
)

AT = "2026-12-01T09:00:00"
PLUGINS = ["apt", "flatpak", "pip", "cargo"]


def _cli_json(runner, trained: Trained, *args: str) -> dict:
    result = invoke(
        runner, "estimate", "--db", trained.db, "--cache-dir", trained.cache, "--json", *args
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_answers_equal_the_commands(runner, trained: Trained, capsys) -> None:
    estimator = Estimator(trained.db, trained.cache)
    assert estimator.source == "cache"
    covariates = {"apt": {"package_count": 12, "download_bytes": 1.5e8}}
    before = estimator.estimate(PLUGINS, at=AT)
    after_check = estimator.estimate(PLUGINS, at=AT, covariates=covariates)
    during = estimator.estimate(PLUGINS, at=AT, done=["apt"], running="flatpak", elapsed=30, now=AT)
    assert capsys.readouterr() == ("", "")  # the library never prints
    assert json.loads(to_json(before)) == _cli_json(runner, trained, "-p", *PLUGINS, "--at", AT)
    path = Path(trained.db).parent / "covariates.json"
    path.write_text(json.dumps(covariates))
    assert json.loads(estimator.estimate_json(PLUGINS, at=AT, covariates=covariates)) == (
        _cli_json(runner, trained, "-p", *PLUGINS, "--at", AT, "--covariates", str(path))
    )
    assert after_check.plugins[0].used_covariates and not before.plugins[0].used_covariates
    assert during.remaining is not None
    left = during.remaining.wall_clock_seconds
    assert left.lower <= left.point <= left.upper
    assert left.point < before.total["wall_clock_seconds"].point  # apt is done
    assert [p.state for p in during.plugins] == ["done", "running", "pending", "pending"]


def test_a_request_object_and_keywords_are_the_same_question(trained: Trained) -> None:
    estimator = Estimator(trained.db, trained.cache)
    request = EstimateRequest(plugins=("apt",), at=AT, level=0.8)
    assert to_json(estimator.estimate(request)) == to_json(
        estimator.estimate(["apt"], at=AT, level=0.8)
    )
    assert to_json(update_estimate.estimate(request, db=trained.db, cache_dir=trained.cache)) == (
        to_json(estimator.estimate(request))
    )
    with pytest.raises(TypeError):
        estimator.estimate(request, level=0.5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"running": "apt", "done": ["apt"]}, "both --done and --running"),
        ({"elapsed": 10}, "--elapsed needs --running"),
        ({"level": 1.5}, "strictly between 0 and 1"),
        ({"at": "next tuesday"}, "not an ISO 8601 time"),
        ({"covariates": {"apt": {"package_count": -1}}}, "finite and >= 0"),
        ({"covariates": {"apt": {"package_count": 1e300}}}, "at most 1e\\+06 for one run"),
        ({"covariates": {"apt": {"download_bytes_est": 2e13}}}, "at most 1e\\+13 for one run"),
        ({"done": ["snap"]}, "not among --plugins"),
    ],
)
def test_mistakes_raise_usage_errors_never_exit(trained: Trained, options, message) -> None:
    estimator = Estimator(trained.db, trained.cache)
    with pytest.raises(UsageError, match=message):
        estimator.estimate(["apt"], **options)


def test_no_cache_no_history_still_answers(tmp_path: Path) -> None:
    estimator = Estimator(tmp_path / "missing.duckdb", tmp_path / "no-cache")
    answer = estimator.estimate(["apt"])
    assert answer.source == "default"
    assert any("no trained cache" in w for w in answer.warnings)
    with pytest.raises(HistoryMissing):
        update_estimate.validate(db=tmp_path / "missing.duckdb")


def test_the_cache_is_read_once_until_reload(trained: Trained, tmp_path: Path) -> None:
    mine = copy_trained(trained, tmp_path)
    estimator = Estimator(mine.db, mine.cache)
    shutil.rmtree(mine.cache)
    assert estimator.estimate(["apt"]).source == "cache"  # a run keeps its records
    estimator.reload()
    assert estimator.estimate(["apt"]).source == "history"


def test_train_validate_backtest_take_the_commands_options(trained: Trained, tmp_path) -> None:
    written = update_estimate.simulate(db=tmp_path / "made.duckdb", runs=3, plugins=["apt"])
    assert (written.runs, written.plugins) == (3, ("apt",))
    with pytest.raises(UsageError, match="exists; pass --force"):
        update_estimate.simulate(db=tmp_path / "made.duckdb")
    mine = copy_trained(trained, tmp_path)
    again = update_estimate.train(db=mine.db, cache_dir=mine.cache, n_jobs=1)
    assert again.unchanged  # the history did not change since the fixture's train
    report = update_estimate.validate(db=mine.db, plugins=["apt", "aptt"])
    assert report.any_usable
    assert report.warnings == ["no history for aptt (did you mean apt?)"]
    result = update_estimate.backtest(
        db=mine.db, plugins=["pip"], metrics=["wall_clock_seconds"], last=2, n_jobs=1
    )
    assert {row.plugin for row in result.rows} == {"pip"}
    with pytest.raises(UsageError, match="unknown metric"):
        update_estimate.backtest(db=mine.db, metrics=["wall_time"])
    with pytest.raises(UsageError, match="--n-jobs"):
        update_estimate.train(db=mine.db, cache_dir=mine.cache, n_jobs=0)


def test_the_public_names_are_listed_and_typed() -> None:
    for name in update_estimate.__all__:
        assert hasattr(update_estimate, name), name
    assert (Path(update_estimate.__file__).parent / "py.typed").exists()


def test_the_readme_example_runs(trained: Trained, capsys) -> None:
    """The README's Python example, as written, on a trained history in place of the demo's."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Python API") : readme.index("## Exit codes")]
    blocks = [b.split("```")[0] for b in section.split("```python")[1:]]
    assert len(blocks) == 2  # the estimates, then the tracker during a run
    namespace: dict = {}
    for code in blocks:
        code = code.replace("demo/history.duckdb", str(trained.db)).replace(
            "demo/cache", str(trained.cache)
        )
        exec(compile(code, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "about " in out and '"command": "estimate"' in out
    assert "snap cannot be both --done and --running" in out
    assert "('apt', 'success', None, 0)" in out  # the tracker's last answer, apt done


def test_answers_shared_between_calls_equal_fresh_ones(trained: Trained) -> None:
    """An Estimator keeps what repeated answers share (predictives, joint draws, the remaining
    time's medians); each answer equals one computed from nothing."""
    estimator = Estimator(trained.db, trained.cache)
    asks = [
        {"at": AT},
        {"at": AT, "level": 0.8},
        {"at": AT, "covariates": {"apt": {"package_count": 3}}},
        *({"at": AT, "now": AT, "done": ["apt"], "running": "flatpak", "elapsed": float(e)}
          for e in (0, 30, 10, 400, 5000)),
        {"at": AT, "now": "2026-12-01T09:05:00", "done": ["apt", "flatpak"], "running": "pip"},
    ]  # fmt: skip
    for options in asks * 2:
        shared = to_json(estimator.estimate(PLUGINS, **options))
        fresh = update_estimate.estimate(PLUGINS, db=trained.db, cache_dir=trained.cache, **options)
        assert shared == to_json(fresh), options


def test_threads_may_share_an_estimator(trained: Trained) -> None:
    """A progress display's thread and the run's ask the same Estimator at once: each answer
    is the one it would get alone (two threads never extend the shared memo at a time)."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    asks = [
        {"at": AT, "now": AT, "done": ["apt"], "running": "flatpak", "elapsed": float(e)}
        for e in range(0, 6000, 25)
    ]
    alone_estimator = Estimator(trained.db, trained.cache)
    alone = [to_json(alone_estimator.estimate(PLUGINS, **a)) for a in asks]
    estimator = Estimator(trained.db, trained.cache)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns every few bytecodes: races show
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            shared = list(pool.map(lambda a: to_json(estimator.estimate(PLUGINS, **a)), asks))
    finally:
        sys.setswitchinterval(interval)
    assert shared == alone
