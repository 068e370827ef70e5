"""What a plugin reports in its check phase, as `estimate` takes it: parsed, named, checked.

Stdlib only: the reports arrive on the warm path. The names are the `estimates` table's
(`package_count_est`, `download_bytes_est`) or their short forms. Keys of any other name are
kept, so that `estimate` can say which ones it could not use rather than drop them unseen.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from update_estimate.errors import UsageError

REPORTED = ("package_count", "download_bytes")
# the name of a covariate candidate fed with the plugin's reports, in the `reports` race
REPORTS_SUFFIX = "+reports"
ALIASES = {
    "package_count": "package_count",
    "package_count_est": "package_count",
    "download_bytes": "download_bytes",
    "download_bytes_est": "download_bytes",
}
EXAMPLE = 'e.g. {"apt": {"package_count": 12, "download_bytes": 150000000}}'
# The most a run's report may say: beyond, a report is a mistake, and a report of 1e300
# packages was answered as a run of a number of days 300 digits long
LIMITS = {"package_count": 1e6, "download_bytes": 1e13}


def reads_reports(model: str) -> bool:
    """Whether the model named `model` was fed the plugin's reports (its name says so)."""
    return model.endswith(REPORTS_SUFFIX)


def parse(text: str) -> dict[str, dict[str, float]]:
    """Reports per plugin: {"apt": {"package_count": 12, "download_bytes": 150000000}}."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--covariates is not valid JSON: {exc}") from None
    return checked_reports(doc)


def beyond_limit(name: str, value: float) -> str | None:
    """What is wrong with a reported quantity beyond what one run can bring (`LIMITS`)."""
    limit = LIMITS.get(name, math.inf)
    return f"must be at most {limit:g} for one run, not {value:g}" if value > limit else None


def checked_reports(doc: Any) -> dict[str, dict[str, float]]:
    """Reports per plugin, as parsed JSON or as an API caller's mapping: names as `REPORTED`,
    values finite numbers >= 0 (a None is a quantity not reported)."""
    if not isinstance(doc, Mapping):
        raise UsageError(f"--covariates must be an object of plugins, {EXAMPLE}")
    return {str(plugin): _fields(str(plugin), fields) for plugin, fields in doc.items()}


def _fields(plugin: str, fields: Any) -> dict[str, float]:
    if not isinstance(fields, Mapping):
        raise UsageError(f"--covariates[{plugin!r}] must be an object, {EXAMPLE}")
    clean: dict[str, float] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"--covariates[{plugin!r}][{name!r}] must be a number")
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"--covariates[{plugin!r}][{name!r}] must be finite and >= 0")
        key = ALIASES.get(str(name), str(name))
        wrong = beyond_limit(key, value)
        if wrong:
            raise UsageError(f"--covariates[{plugin!r}][{name!r}] {wrong}")
        clean[key] = float(value)
    return clean


def deciding(metric: str, axes: Sequence[str]) -> list[str]:
    """The reported quantities that say whether a run has nothing to do (every one of them
    zero): for a download its size alone, where it is reported. A count beside a size of
    zero is stale, or its packages are fetched already: nothing to download. Judged by both,
    such a run's zero stood among the runs that reported work, and every reported download
    was answered from nothing."""
    if metric == "download_bytes" and "download_bytes" in axes:
        return ["download_bytes"]
    return list(axes)


def unknown(report: Mapping[str, float]) -> list[str]:
    return [name for name in report if name not in REPORTED]
