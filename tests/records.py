"""Hand-made forecast records: written as their JSON, with only the fields a test is about."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from update_estimate.record import SeriesRecord, series_from_json, to_json
from update_estimate.serving import cache

EMPTY_VARIANT: dict[str, Any] = {
    "axes": [],
    "weekday": None,
    "hour": None,
    "censored": None,
    "runs": None,
    "zeros": [],
    "quiet": [],
    "typical": {},
    "spread": None,
    "idle": None,
    "borrowed": False,
    "lone_breaks": None,
    "summed": False,
    "quiet_errors": [],
}


def typed(record: Mapping[str, Any]) -> SeriesRecord:
    """The record as `estimate` reads it; runs and censoring default to one run per residual."""
    variants = {}
    for name, given in record["variants"].items():
        v = {**EMPTY_VARIANT, **given}
        n = len(v["residuals"])
        v["censored"] = v["censored"] if v["censored"] is not None else [False] * n
        v["runs"] = v["runs"] if v["runs"] is not None else list(range(n))
        variants[name] = v
    full = {
        "host": "h",
        "plugin": "p",
        "metric": "wall_clock_seconds",
        "phase": None,
        "cap": math.inf,
        "basis": "model",
        "outcomes": None,
        **record,
        "variants": variants,
    }
    return series_from_json(full)


def typed_all(records: Mapping[str, Mapping[str, Any]]) -> dict[str, SeriesRecord]:
    return {key: typed(r) for key, r in records.items()}


def cached(cache_dir: Path) -> dict[str, Any]:
    """A trained cache's records, every host's, as one JSON document."""
    generation = cache.current(cache_dir)
    assert generation is not None
    return to_json(generation.records())
