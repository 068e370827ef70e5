"""`train` reads a fleet's history a batch of hosts at a time: the batches cover every requested
host once, and training host by host gives the same records as one read of everything."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_training_host_by_host_gives_the_records_of_one_read(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "fleet.duckdb"
    simulate.write(simulate.generate(("apt", "snap"), 16, 5, hosts=3), db)
    whole = tmp_path / "whole"
    api.train(TrainRequest(db, whole, n_jobs=1, phases=False))
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
    by_host = json.loads((tmp_path / "by-host" / "current" / "records.json").read_text())
    assert by_host == json.loads((whole / "current" / "records.json").read_text())
    assert all(not r.pickles for r in result.series)  # the models went to disk as they came
    manifest = json.loads((tmp_path / "by-host" / "current" / "manifest.json").read_text())
    models = {p.name for p in (tmp_path / "by-host" / "current" / "models").iterdir()}
    assert models == set(manifest["pickles"]) and models
