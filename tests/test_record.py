"""The typed record between train and estimate: written whole, read back equal, refused when
it is of another format."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Trained
from update_estimate.record import RecordError, from_json, to_json
from update_estimate.serving import cache


def test_a_trained_cache_reads_back_as_written(trained: Trained) -> None:
    generation = cache.current(trained.cache)
    assert generation is not None
    records = generation.records()
    text = json.dumps(to_json(records))
    assert from_json(json.loads(text)) == records
    runs = {
        type(run)
        for r in records.series.values()
        for v in r.variants.values()
        for run in v.runs
        if run is not None
    }
    assert runs == {int}
    # every field is written, null where it does not apply
    variant = json.loads(text)["series"].popitem()[1]["variants"]["base"]
    written = {"spread", "idle", "borrowed", "zeros", "quiet", "typical", "lone_breaks"}
    assert written | {"summed", "quiet_errors"} <= set(variant)


@pytest.mark.parametrize(
    "field",
    [
        "spread",
        "idle",
        "lone_breaks",
        "summed",
        "quiet_errors",
        "runs",
        "cap",
        "outcomes",
        "format_version",
    ],
)
def test_a_record_lacking_a_field_is_refused_not_defaulted(trained: Trained, field: str) -> None:
    generation = cache.current(trained.cache)
    assert generation is not None
    data = to_json(generation.records())
    record = next(iter(data["series"].values()))
    if field == "format_version":
        del data[field]
    elif field in ("cap", "outcomes"):
        del record[field]
    else:
        del record["variants"]["base"][field]
    with pytest.raises(RecordError):
        from_json(data)


def test_outcomes_say_how_often_a_plugin_failed_or_was_skipped(trained: Trained) -> None:
    """From the history itself: per plugin, its failed and skipped share of finished runs."""
    import duckdb

    generation = cache.current(trained.cache)
    assert generation is not None
    series = generation.records().series
    with duckdb.connect(str(trained.db), read_only=True) as con:
        rows = con.execute(
            "SELECT plugin_name, avg(CASE WHEN status IN ('failed', 'skipped') THEN 1 ELSE 0 "
            "END), count(*) FILTER (WHERE status IN ('failed', 'skipped')) "
            "FROM plugin_executions WHERE status <> 'running' GROUP BY 1"
        ).fetchall()
    assert rows
    for plugin, share, count in rows:
        whole = next(r for r in series.values() if r.plugin == plugin and r.phase is None)
        assert whole.outcomes is not None
        assert whole.outcomes.share == pytest.approx(share, abs=1e-6)
        assert len(whole.outcomes.values) == min(count, 50)
        assert all(v >= 0 for v in whole.outcomes.values)
    assert all(r.outcomes is None for r in series.values() if r.phase is not None)
