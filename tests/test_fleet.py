"""A fleet: `train` reads the history a batch of hosts at a time (the batches cover every
requested host once, and training host by host gives the same records as one read of
everything); `estimate` answers several hosts and their batch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import BIN, invoke
from tests.records import cached
from tests.test_json_schemas import schema
from tests.test_screen import screen
from update_estimate import api
from update_estimate.fitting import train as training
from update_estimate.history import reader, simulate
from update_estimate.requests import TrainRequest

PLUGINS = ("apt", "snap", "pip", "cargo")
catalogues = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=4),
    st.lists(st.sampled_from(PLUGINS), min_size=1, max_size=4, unique=True),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(
    catalogues,
    st.none() | st.lists(st.text("abcdefgh", min_size=1, max_size=4), max_size=5),
    st.none() | st.lists(st.sampled_from(PLUGINS), min_size=1, max_size=2),
    st.integers(1, 10),
)
def test_batches_cover_each_wanted_host_once_and_stay_small(catalogue, hosts, plugins, pairs):
    batches = training.host_batches(catalogue, hosts, plugins, pairs)
    wanted = {
        h: [p for p in ps if not plugins or p in plugins]
        for h, ps in catalogue.items()
        if not hosts or h in hosts
    }
    expected = sorted(h for h, ps in wanted.items() if ps)
    assert [h for b in batches for h in b] == expected
    for batch in batches:
        size = sum(len(wanted[h]) for h in batch)
        assert batch and size - len(wanted[batch[-1]]) < pairs  # closed once it reached `pairs`


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three hosts x two plugins, trained in one read. Do not modify."""
    folder = tmp_path_factory.mktemp("fleet")
    db, cache = folder / "fleet.duckdb", folder / "whole"
    simulate.write(simulate.generate(("apt", "snap"), 16, 5, hosts=3), db)
    api.train(TrainRequest(db, cache, n_jobs=1, phases=False))
    return db, cache


def test_training_host_by_host_gives_the_records_of_one_read(
    fleet: tuple[Path, Path], tmp_path: Path, monkeypatch
) -> None:
    db, whole = fleet
    reads: list[tuple[str, ...]] = []
    read = reader.read

    def counted(path, hosts=None, plugins=None, lock_timeout=2.0):
        reads.append(tuple(hosts or ()))
        return read(path, hosts, plugins, lock_timeout)

    monkeypatch.setattr(reader, "read", counted)
    monkeypatch.setattr(training, "PAIRS_PER_READ", 2)  # one host (2 plugins) per read
    seen: list[tuple[int, int]] = []
    result = api.train(
        TrainRequest(db, tmp_path / "by-host", n_jobs=1, phases=False),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert [len(r) for r in reads] == [1, 1, 1]  # each host read on its own
    assert seen[-1] == (len(result.series), len(result.series)) == (3 * 2 * 4, 24)
    assert cached(tmp_path / "by-host") == cached(whole)
    # the models and forecasts went to disk as they came
    assert all(not r.pickles and not r.record.variants for r in result.series)
    manifest = json.loads((tmp_path / "by-host" / "current" / "manifest.json").read_text())
    models = {p.name for p in (tmp_path / "by-host" / "current" / "models").iterdir()}
    assert models == set(manifest["pickles"]) and models


def test_records_know_the_day_of_every_replayed_run(fleet: tuple[Path, Path]) -> None:
    db, cache = fleet
    records = cached(cache)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            """SELECT r.hostname, CAST(CAST(e.start_time AS DATE) AS VARCHAR)
               FROM plugin_executions e JOIN runs r USING (run_id)"""
        ).fetchall()
    dates = {(host, day) for host, day in rows}
    for rec in records["series"].values():
        days = records["run_days"][rec["host"]]
        for variant in rec["variants"].values():
            for run in variant["runs"]:
                if run is not None:
                    assert (rec["host"], days[str(run)]) in dates


def test_several_hosts_answer_per_host_and_for_the_batch(runner, fleet: tuple[Path, Path]) -> None:
    db, cache = fleet
    base = ["estimate", "--db", db, "--cache-dir", cache, "--json"]
    every = invoke(runner, *base, "--all-hosts")
    assert every.exit_code == 0, every.stderr
    doc = json.loads(every.stdout)
    jsonschema.validate(doc, schema("estimate"))
    hosts = [h["host"] for h in doc["hosts"]]
    assert len(hosts) == 3 and doc["at_once"] is False
    wall = "wall_clock_seconds"
    for h in doc["hosts"]:
        assert doc["total"]["metrics"][wall]["point"] >= h["total"]["metrics"][wall]["point"]
    two = invoke(runner, *base, "--host", hosts[0], "--host", hosts[1])
    at_once = invoke(runner, *base, "--host", hosts[0], "--host", hosts[1], "--hosts-at-once")
    one_by_one, together = (json.loads(r.stdout)["total"]["metrics"][wall] for r in (two, at_once))
    assert together["point"] <= one_by_one["point"]
    assert [h["host"] for h in json.loads(two.stdout)["hosts"]] == hosts[:2]
    alone = invoke(runner, *base[:-1], "--hosts-at-once")
    assert alone.exit_code == 2 and "needs several hosts" in alone.stderr
    during = invoke(runner, *base, "--all-hosts", "--done", "apt")
    assert during.exit_code == 2 and "name one --host" in during.stderr


def test_a_host_is_answered_from_its_own_records_file(
    runner, fleet: tuple[Path, Path], tmp_path: Path
) -> None:
    """A fleet's estimate reads only the hosts it answers; a damaged host's file costs that
    host its trained models, never the batch: it answers from its history's recent runs, as
    a single host does when the whole cache is unusable, and with defaults without one."""
    db, whole = fleet
    cache = tmp_path / "cache"
    shutil.copytree(whole, cache, symlinks=True)
    index = json.loads((cache / "current" / "records.json").read_text())
    first, second, third = sorted(index["hosts"])
    with duckdb.connect(str(db), read_only=True) as con:
        (last,) = con.execute("SELECT MAX(end_time) + INTERVAL 1 DAY FROM runs").fetchone()
    base = [
        "estimate",
        "--db",
        db,
        "--cache-dir",
        cache,
        "--json",
        "--at",
        f"{last:%Y-%m-%dT%H:%M}",
    ]
    before = invoke(runner, *base, "--host", first)
    for host in (second, third):
        (cache / "current" / index["hosts"][host]["file"]).write_text("{")
    after = invoke(runner, *base, "--host", first)
    assert after.exit_code == 0 and after.stderr == before.stderr == ""
    assert json.loads(after.stdout) == json.loads(before.stdout)
    batch = invoke(runner, *base, "--all-hosts")
    assert batch.exit_code == 0 and "cache unusable" in batch.stderr, batch.stderr
    assert "not in the trained cache" not in batch.stderr

    def answered(result) -> dict[str, set[tuple[str, str]]]:
        return {
            h["host"]: {
                (
                    p["metrics"]["wall_clock_seconds"]["basis"],
                    p["metrics"]["wall_clock_seconds"]["model"],
                )
                for p in h["plugins"]
            }
            for h in json.loads(result.stdout)["hosts"]
        }

    got = answered(batch)
    assert got[second] == got[third] == {("limited", "recent_median")}
    assert all(basis != "default" for basis, _ in got[first])
    base[2] = tmp_path / "gone.duckdb"
    without = answered(invoke(runner, *base, "--all-hosts"))
    assert {basis for basis, _ in without[second] | without[third]} == {"default"}


def test_a_batch_fits_eighty_columns(fleet: tuple[Path, Path]) -> None:
    db, cache = fleet
    lines = screen(80, 24, f"{BIN} estimate --db {db} --cache-dir {cache} --all-hosts")
    text = "\n".join(lines)
    assert lines[0].startswith("Next runs on 3 hosts, one after another: about"), text
    assert "…" not in text
    batch = next(i for i, line in enumerate(lines) if line.startswith("batch"))
    assert len(lines[batch].split()) >= 9 and len(lines[batch + 1].split()) >= 4, text


def test_records_from_the_history_know_the_day_of_every_replayed_run(tmp_path: Path) -> None:
    from update_estimate.fitting.fallback import records_from_history

    db = tmp_path / "h.duckdb"
    simulate.write(simulate.generate(("apt", "snap"), 40, 6), db)
    with duckdb.connect(str(db)) as con:  # the latest runs measured no memory
        con.execute(
            """UPDATE step_metrics SET memory_peak_bytes = NULL WHERE execution_id IN (
                   SELECT execution_id FROM plugin_executions
                   ORDER BY start_time DESC LIMIT 20)"""
        )
    records = records_from_history(db, None, None, 2.0)
    named = [
        (rec.host, run)
        for rec in records.series.values()
        for v in rec.variants.values()
        for run in v.runs
        if run is not None
    ]
    assert named and all(run in records.run_days[host] for host, run in named)
